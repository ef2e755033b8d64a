import rateLimit from "@fastify/rate-limit";
import Fastify from "fastify";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { IMODELS_API_MEDIA_TYPE } from "@modelhub/protocol";
import type { Actor } from "../domain/context.js";
import { HubError } from "../domain/errors.js";
import type { Hub } from "../domain/hub.js";
import type { AuditRecorder } from "../app/audit-recorder.js";
import type { AuditLog } from "../ports/audit-log.js";
import { registerAuditHook } from "./audit/audit-hook.js";
import { RefusalDigest } from "./audit/refusal-digest.js";
import { AuthFailureGate, DEFAULT_AUTH_FAILURE_LIMIT } from "./auth-failures.js";
import { ClientAddresses } from "./client-address.js";
import type { AuditRouteOptions } from "./routes/auditlog.js";
import { auditLogRoutes, iModelAuditRoutes } from "./routes/auditlog.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { Authenticator } from "./authn/authenticator.js";
import type { AccessService } from "../domain/access/access-service.js";
import { registerAuthorization, requireRouteRules, stillAuthorized } from "./authz/authorize.js";
import type { AuthorizationDeps } from "./authz/authorize.js";
import { accessControlRoutes } from "./routes/access-control.js";
import type { ITwinService } from "../domain/itwins/itwin-service.js";
import { iTwinRoutes } from "./routes/itwins.js";
import { iModelPermissionRoutes } from "./routes/imodel-permissions.js";
import { thumbnailRoutes } from "./routes/thumbnails.js";
import { eventRoutes } from "./routes/events.js";
import { DEFAULT_WEB_UI_ROOT, webUiRoutes } from "./web-ui.js";
import type { EventFeed } from "../ports/event-bus.js";
import { OpenAuthenticator } from "./authn/open-authenticator.js";
import { withApplication } from "./application.js";
import { STATUS_BY_CODE, errorBody, fromClientError, fromFrameworkError, fromRouterError } from "./error-mapping.js";
import { HostAllowList } from "./host-allow-list.js";
import { unstorableBody, urlProblem, withStorableIdentities } from "./input-guard.js";
import { jsonShapeProblem } from "./json-depth.js";
import { yieldIfBusy } from "../util/event-loop.js";
import type { HubMetrics } from "./metrics.js";
import type { ReadinessCheck } from "./readiness.js";
import { registerReadiness } from "./readiness.js";
import { REQUEST_ID_HEADER, requestIdOf } from "./request-id.js";
import type { StorageLinks } from "./presenters.js";
import { Presenter } from "./presenters.js";
import { parseQueryString } from "./query.js";
import type { Query } from "./query.js";
import { briefcaseRoutes } from "./routes/briefcases.js";
import { changesetRoutes } from "./routes/changesets.js";
import { checkpointRoutes } from "./routes/checkpoints.js";
import { iModelRoutes } from "./routes/imodels.js";
import { lockRoutes } from "./routes/locks.js";
import { namedVersionRoutes } from "./routes/named-versions.js";
import { userRoutes } from "./routes/users.js";
import { BodyWatch, DEFAULT_UPLOAD_MIN_BYTES_PER_SECOND, RequestLines, answerOnSocket, connectionsForDescriptors, descriptorLimit, openDescriptors, statusOfClientError } from "./slow-clients.js";
import { azureErrorXml, closeIfBodyUnread, isStoragePath, sendAzureError } from "./storage/azure-xml.js";
import { OUT_OF_SPACE_RETRY_AFTER_SECONDS, isOutOfSpace } from "./out-of-space.js";
import { storageRoutes } from "./storage/storage-routes.js";
import { UploadSlots } from "./storage/upload-slots.js";
import type { UrlSigner } from "./storage/url-signer.js";
import { storageUrl } from "./storage/url-signer.js";
import { directStorageLinks } from "./storage/direct-links.js";

declare module "fastify" {
  interface FastifyRequest {
    actor: Actor;
    presenter: Presenter;
    /** The parsed query string (see parseQueryString: `+` is not a space). */
    params_: Query;
  }
}

export interface AppOptions {
  hub: Hub;
  blobs: BlobStore;
  signer: UrlSigner;
  /** Origin used in links, e.g. "https://hub.example.com"; by default the request's own origin. */
  publicUrl?: string;
  /** Lifetime of signed upload/download links. */
  linkTtlSeconds: number;
  /** Largest JSON body accepted (lock requests with many ids are the biggest). */
  jsonBodyLimit: number;
  /** `false` for silence, or pino options such as `{ level: "info" }`. */
  logger: false | { level: string };
  /** Requests per minute and verified user (API, access control, audit log); 0 turns the limit off. */
  rateLimitPerMinute: number;
  /**
   * Failed authentications per client address and minute after which the address's requests are refused before
   * authentication until the minute ends (default {@link DEFAULT_AUTH_FAILURE_LIMIT}; 0: no limit).
   */
  authFailureLimit?: number;
  /** Proxies (addresses or networks) whose `X-Forwarded-For` names the client's address. */
  trustedProxies?: readonly string[];
  /** Who is asking (`--auth`); open mode (tokens not verified) when not given. */
  authenticator?: Authenticator;
  /** Who may do what (roles, members, iModel grants, admins); every API route is checked by http/authz. */
  access: AccessService;
  /** iTwins people create and own (`/itwins`). */
  iTwins: ITwinService;
  /** What `GET /ready` checks (metadata store, blob store, worker…); without it /ready checks nothing. */
  readiness?: Readonly<Record<string, ReadinessCheck>>;
  /** Serves `GET /metrics` and counts requests when given. */
  metrics?: HubMetrics;
  /** Storage uploads at once (default 64); more are answered 503 ServerBusy without reading their body. */
  maxUploads?: number;
  /** Storage uploads one user (the one a link was issued to) may run at once (default a quarter of maxUploads). */
  maxUploadsPerUser?: number;
  /** An upload must average at least this many bytes per second after the stall timeout (default 16 KiB/s; 0: no bound). */
  uploadMinBytesPerSecond?: number;
  /** Open connections at once; by default what the process's file-descriptor limit allows (see slow-clients.ts). */
  maxConnections?: number;
  /** Time for request headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Time for a whole API (JSON) body (default 10 s). */
  apiBodyTimeoutMs?: number;
  /** An upload moving less than 64 KiB in this time is cut off (default 30 s). */
  uploadStallTimeoutMs?: number;
  /** `Host` values accepted besides loopback names and the publicUrl's host: `name` (any port) or `name:port`. */
  allowedHosts?: readonly string[];
  /** The built web UI served at `/` (packages/web/dist by default); `false`: no UI. */
  webUiRoot?: string | false;
  /**
   * Serves `GET /imodels/{id}/events` (the change feed) when given; `heartbeatMs` defaults to 15 s, `accessRecheckMs`
   * 2 s, `maxStreamsPerUser` to `--max-streams-per-user`'s default.
   */
  events?: { feed: EventFeed; heartbeatMs?: number; accessRecheckMs?: number; maxStreamsPerUser?: number };
  /** Records every write (see audit/audit-hook.ts) and serves `GET /imodels/{id}/auditlog` and `GET /auditlog`. */
  audit?: {
    recorder: AuditRecorder;
    log: AuditLog;
    /** Who may read an iModel's log / an iTwin's (or, without one, the whole hub's); by default anyone who can see the iModel. */
    authorizeIModel?: AuditRouteOptions["authorizeIModel"];
    authorizeITwin?: AuditRouteOptions["authorizeITwin"];
    /** Window of the refusal digest (default a minute; tests shorten it). */
    refusalWindowMs?: number;
  };
}

/** Path segments (ids) up to this length; Node's 16 KiB header limit bounds the URL anyway. */
const MAX_PARAM_LENGTH = 8 * 1024;

export interface ApiRouteContext {
  hub: Hub;
  access: AccessService;
}

/** Builds the whole HTTP app (API, storage, health) without listening, so tests can run it on any port. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const requestLines = new RequestLines();
  const app = Fastify({
    logger: options.logger,
    routerOptions: { querystringParser: parseQueryString, maxParamLength: MAX_PARAM_LENGTH },
    bodyLimit: options.jsonBodyLimit,
    // Node's whole-request timeout would cut big uploads on slow links: bodies are bounded by BodyWatch instead (a
    // deadline for API bodies, progress for uploads). Headers get a deadline of their own, checked every second.
    requestTimeout: 0,
    // A missing Host is answered below in the API's shape, not by Node with an empty 400.
    http: { headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))), requireHostHeader: false },
    // Idle keep-alive connections are closed after this (fastify's default, longer than the clients' own).
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    // Bad percent-encoding and over-long ids, found before any route: answered in the API's or storage's shape.
    frameworkErrors: (err, request, reply) => {
      const hubError = fromRouterError(err, MAX_PARAM_LENGTH);
      if (isStoragePath(request.url)) void sendAzureError(reply, 400, "InvalidUri", hubError.message);
      else sendApiError(reply, hubError);
    },
    // Requests Node's parser refused (headers too large or too slow, malformed HTTP): no request object exists, so
    // the answer goes straight to the socket, in the storage shape if the request line read shows a storage path.
    clientErrorHandler: (err, socket) => {
      if (err.code === "ECONNRESET" || socket.destroyed) return;
      const status = statusOfClientError(err.code);
      const hubError = fromClientError(status);
      app.log.debug({ code: err.code, status }, "malformed or slow request refused");
      const line = requestLines.of(socket, err as { rawPacket?: unknown; bytesParsed?: unknown });
      const head = line?.method === "HEAD";
      answerOnSocket(
        socket,
        isStoragePath(line?.path)
          ? { status, contentType: "application/xml", body: azureErrorXml("InvalidInput", hubError.message), headers: { "x-ms-error-code": "InvalidInput" }, head }
          : { status, contentType: API_CONTENT_TYPE, body: JSON.stringify(errorBody(hubError)), head },
        err,
      );
    },
    // Our own request ids (see request-id.ts): in every log line as reqId and in every answer's x-request-id.
    genReqId: requestIdOf,
    requestIdHeader: false,
  });

  requestLines.peekFirstPackets(app.server, headersTimeoutMs, (socket) => {
    answerOnSocket(socket, { status: 408, contentType: API_CONTENT_TYPE, body: JSON.stringify(errorBody(fromClientError(408))) });
  });
  app.addHook("preClose", async () => requestLines.closeWaiting());
  app.addHook("onRequest", async (request, reply) => {
    requestLines.parsed(request.raw.socket, { method: request.method, path: request.url });
    void reply.header(REQUEST_ID_HEADER, request.id);
  });
  // Before any route: each must have an authorization rule (http/authz/rules.ts) or the app does not start.
  requireRouteRules(app);

  // Each connection may hold a descriptor for its socket and one for a file: capped so that the database, the
  // worker and /health always find one (past the cap Node closes new connections at once).
  const maxConnections = options.maxConnections ?? connectionsForDescriptors(descriptorLimit(), openDescriptors() ?? 32);
  if (maxConnections !== undefined) app.server.maxConnections = maxConnections;
  const hosts = new HostAllowList(options.allowedHosts, options.publicUrl);
  const addresses = new ClientAddresses(options.trustedProxies);
  const failures = new AuthFailureGate(options.authFailureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT, addresses);
  // Taken by the storage routes once the link is verified: slots are shared per user the link was issued to.
  const uploads = new UploadSlots(options.maxUploads ?? 64, options.maxUploadsPerUser);
  const bodies = new BodyWatch({
    apiBodyTimeoutMs: options.apiBodyTimeoutMs ?? 10_000,
    uploadStallTimeoutMs: options.uploadStallTimeoutMs ?? 30_000,
    uploadMinBytesPerSecond: options.uploadMinBytesPerSecond ?? DEFAULT_UPLOAD_MIN_BYTES_PER_SECOND,
    warn: (fields, message) => app.log.warn(fields, message),
  });
  app.addHook("onClose", async () => bodies.close());
  // No route outside the API scopes (which parse JSON) and storage (which streams) reads a body: a request with one
  // for a path that does not exist is a 404 whatever its body, never a parse error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));
  // Guards for every route (API, storage, health), before anything reads a body.
  app.addHook("onRequest", (request, reply, done) => {
    const storage = isStoragePath(request.url);
    const hostProblem = hostHeaderProblem(request);
    if (hostProblem) {
      if (storage) void sendAzureError(reply, 400, "InvalidHeaderValue", hostProblem);
      else sendApiError(reply, new HubError("BadRequest", hostProblem));
      return;
    }
    if (!hosts.allows(request.headers.host)) {
      const message = `The hub does not answer for host '${request.headers.host ?? ""}': use a loopback address or the --public-url host, or add it with --allowed-host.`;
      if (storage) void sendAzureError(reply, 421, "InvalidInput", message);
      else sendApiError(reply, new HubError("HostNotAllowed", message));
      return;
    }
    // A NUL or a lone surrogate in the path or query (nothing can store it), a control character in a blob name.
    const badUrl = urlProblem(request);
    if (badUrl !== undefined) {
      if (storage) void sendAzureError(reply, 400, "InvalidUri", badUrl);
      else sendApiError(reply, new HubError("BadRequest", badUrl));
      return;
    }
    const upload = storage && request.method === "PUT";
    bodies.watch(request.raw, reply.raw, upload ? "upload" : "api", (res) => {
      const hubError = new HubError("RequestTimeout", "The request body did not arrive in time; the connection is closed.");
      const body = storage ? azureErrorXml("InvalidInput", hubError.message, request.id) : JSON.stringify(errorBody(hubError));
      const headers = storage ? { "content-type": "application/xml", "x-ms-error-code": "InvalidInput" } : { "content-type": API_CONTENT_TYPE };
      res.writeHead(408, { ...headers, "content-length": Buffer.byteLength(body), connection: "close" }).end(body);
    });
    done();
  });
  // Before any route, so that its hooks see every write (API, storage uploads, access control).
  if (options.audit) {
    const { recorder } = options.audit;
    const refusals = new RefusalDigest((entry) => recorder.record(entry), options.audit.refusalWindowMs);
    app.addHook("onClose", async () => refusals.close());
    registerAuditHook(app, {
      recorder,
      iTwinOf: async (iModelId) => (await options.hub.iModels.get(iModelId).catch(() => undefined))?.iTwinId ?? null,
      addressOf: (request) => addresses.of(request.raw),
      refusals,
    });
  }
  // Before any route: one bucket per verified user, whichever of their tokens they use, across every authenticated
  // scope (API, access control, audit log). After authentication (onRequest), so requests without an actor (storage,
  // probes, the web UI) are not counted.
  if (options.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: options.rateLimitPerMinute,
      timeWindow: 60_000,
      hook: "preHandler",
      allowList: (request) => !actorOf(request),
      keyGenerator: (request) => `user:${actorOf(request)?.userId}`,
      errorResponseBuilder: (_request, context) =>
        new HubError("TooManyRequests", "More requests were received than the subscription rate-limit allows.", {
          retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
        }),
    });
  }
  options.metrics?.register(app);
  registerReadiness(app, { checks: options.readiness ?? {} });

  app.get("/health", async () => ({ status: "ok" }));
  if (options.webUiRoot !== false) {
    await webUiRoutes(app, { root: options.webUiRoot ?? DEFAULT_WEB_UI_ROOT, authMode: (options.authenticator ?? new OpenAuthenticator()).mode });
  }

  await app.register(storageRoutes, {
    prefix: "/storage",
    blobStore: options.blobs,
    signer: options.signer,
    uploads,
    failures,
    checkWrite: (key) => options.hub.uploads.checkWrite(key),
    // A changeset file starts its id check as soon as it is stored, while the answer travels to the client.
    onStored: (key, info) => {
      options.metrics?.blobUploaded(info.size);
      options.hub.changesets.checkIdEarly(key, info.etag);
    },
  });

  const context: ApiRouteContext = { hub: options.hub, access: options.access };
  const authorization: AuthorizationDeps = {
    access: options.access,
    iTwinOfIModel: async (iModelId) => (await options.hub.iModels.get(iModelId).catch(() => undefined))?.iTwinId,
  };
  const audit: AuditRouteOptions | undefined = options.audit && {
    auditLog: options.audit.log,
    recorder: options.audit.recorder,
    authorizeIModel: options.audit.authorizeIModel ?? (async (_request, iModelId) => void (await options.hub.iModels.get(iModelId))),
    authorizeITwin: options.audit.authorizeITwin ?? (async () => undefined),
    originOf: (request) => originOf(request, options.publicUrl),
  };
  const authenticator = withStorableIdentities(options.authenticator ?? new OpenAuthenticator());
  /** Who is asking, unless their address failed too often this minute: then 429 before any token is looked at. */
  const authenticate = async (request: FastifyRequest): Promise<Actor> => {
    const retryAfterSeconds = failures.blockedFor(request.raw);
    if (retryAfterSeconds !== undefined) {
      throw new HubError("TooManyRequests", "Too many requests without valid credentials came from this address; retry later.", { retryAfterSeconds });
    }
    try {
      return await authenticator.authenticate(request.headers.authorization);
    } catch (err) {
      if (err instanceof HubError && STATUS_BY_CODE[err.code] === 401) failures.failed(request.raw);
      throw err;
    }
  };
  await app.register(
    async (api) => {
      api.decorateRequest("actor", null as unknown as Actor);
      api.decorateRequest("presenter", null as unknown as Presenter);
      api.decorateRequest("params_", null as unknown as Query);

      apiBodyParsers(api);

      api.addHook("onRequest", async (request) => {
        request.actor = withApplication(await authenticate(request), request.headers);
        request.presenter = new Presenter(`${originOf(request, options.publicUrl)}/imodels`, storageLinks(request, options), () => request.authz?.grants.has("imodels_read") ?? false);
        request.params_ = request.query as Query;
      });
      registerAuthorization(api, authorization);
      api.addHook("onSend", async (_request, reply, payload) => {
        if (reply.getHeader("content-type")?.toString().startsWith("application/json")) {
          reply.header("content-type", `${IMODELS_API_MEDIA_TYPE}; charset=utf-8`);
        }
        return payload;
      });

      api.setErrorHandler((err, request, reply) => sendError(err, request, reply));
      api.setNotFoundHandler((request, reply) => {
        sendApiError(reply, new HubError("NotFound", `No API route matches ${request.method} ${request.url.split("?")[0]}.`));
      });

      await iModelRoutes(api, context);
      await changesetRoutes(api, context);
      await briefcaseRoutes(api, context);
      await lockRoutes(api, context);
      await namedVersionRoutes(api, context);
      await checkpointRoutes(api, context);
      await userRoutes(api, context);
      await iModelPermissionRoutes(api, context);
      await thumbnailRoutes(api, context);
      if (options.events) {
        const verify = (header: string | undefined) => authenticator.authenticate(header);
        await eventRoutes(api, { hub: options.hub, ...options.events, stillAllowed: (request) => stillAuthorized(request, verify, authorization) });
      }
      if (audit) await iModelAuditRoutes(api, audit);
    },
    { prefix: "/imodels" },
  );

  // The hub-wide / per-iTwin audit log: authenticated and answered like the API.
  if (audit) {
    await app.register(
      async (scope) => {
        authenticatedScope(scope, authenticate, authorization);
        await auditLogRoutes(scope, audit);
      },
      { prefix: "/auditlog" },
    );
  }

  // Roles and members of iTwins (the cloud's Access Control API shapes), and iTwins themselves (the iTwins API's):
  // authenticated and answered like the API.
  const jsonScopes: [string, (scope: FastifyInstance) => Promise<void>][] = [
    ["/accesscontrol", (scope) => accessControlRoutes(scope, { access: options.access, iTwins: options.iTwins })],
    ["/itwins", (scope) => iTwinRoutes(scope, { iTwins: options.iTwins, publicUrl: options.publicUrl })],
  ];
  for (const [prefix, routes] of jsonScopes) {
    await app.register(
      async (scope) => {
        authenticatedScope(scope, authenticate, authorization);
        // JSON bodies only, parsed as on the API (an empty body is none): anything else is 415.
        apiBodyParsers(scope);
        scope.setNotFoundHandler((request, reply) => {
          sendApiError(reply, new HubError("NotFound", `No API route matches ${request.method} ${request.url.split("?")[0]}.`));
        });
        await routes(scope);
      },
      { prefix },
    );
  }

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0];
    // `/storage` itself, and methods fastify does not route at all (e.g. PROPFIND) on storage paths.
    if (isStoragePath(request.url)) {
      void sendAzureError(reply, 405, "InvalidInput", `The resource doesn't support the HTTP verb ${request.method} at ${path}.`);
      return;
    }
    sendApiError(reply, new HubError("NotFound", `No route matches ${request.method} ${path}.`));
  });
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  return app;
}

const API_CONTENT_TYPE = `${IMODELS_API_MEDIA_TYPE}; charset=utf-8`;

/** An API error answered outside the API plugin (whose onSend hook sets the media type). */
function sendApiError(reply: FastifyReply, hubError: HubError): void {
  closeIfBodyUnread(reply);
  void reply.code(STATUS_BY_CODE[hubError.code]).header("content-type", API_CONTENT_TYPE).send(JSON.stringify(errorBody(hubError)));
}

/**
 * RFC 9112 §3.2: a request with more than one `Host` line, or an HTTP/1.1 request with none, is a 400 (Node keeps
 * the first of several and would answer a missing one with an empty 400 of its own).
 */
function hostHeaderProblem(request: FastifyRequest): string | undefined {
  const raw = request.raw.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === "host") hosts++;
  if (hosts > 1) return `The request has ${hosts} Host headers; HTTP allows one.`;
  if (hosts === 0 && request.raw.httpVersion === "1.1") return "The request has no Host header; HTTP/1.1 requires one.";
  return undefined;
}

/** Only JSON bodies on the API and the scopes beside it (and empty forms, below); anything else is 415 (see the error handler). */
function apiBodyParsers(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(JSON_MEDIA_TYPES, { parseAs: "string" }, parseJsonBody);
  // axios (the official clients) labels a request without data `application/x-www-form-urlencoded`, e.g. the
  // empty body of PUT …/namedversions/{id}/checkpoint: the cloud accepts it, so an empty one means "no body".
  // A form that says something is still not a body the API reads: 415.
  scope.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") return done(null, {});
    done(new HubError("UnsupportedMediaType", "Media Type is not supported."));
  });
}

const JSON_MEDIA_TYPES = /^application\/(.+\+)?json$/;

/**
 * The JSON body parser of the API and the scopes beside it: depth- and size-limited, and only text every store can
 * keep. Bodies that arrive together are parsed one per turn of the event loop once parsing gets long (20 lock
 * requests of 200 KB each at once held `/health` for 200 ms).
 */
async function parseJsonBody(_request: FastifyRequest, body: string | Buffer): Promise<unknown> {
  const text = typeof body === "string" ? body : body.toString("utf8");
  if (text.trim() === "") return {};
  await yieldIfBusy();
  const shape = jsonShapeProblem(text);
  if (shape !== undefined) throw invalidBody(shape);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SyntaxError("invalid JSON body");
  }
  const unstorable = unstorableBody(text, parsed);
  if (unstorable) throw unstorable;
  return parsed;
}

function invalidBody(message: string): HubError {
  return new HubError("InvalidiModelsRequest", "Cannot process the request.", { details: [{ code: "InvalidRequestBody", message }] });
}

/**
 * What an authenticated scope beside `/imodels` (`/auditlog`, `/accesscontrol`) shares with the API: the verified
 * actor, the authorization seam, the API's media type and its error bodies.
 */
function authenticatedScope(scope: FastifyInstance, authenticate: (request: FastifyRequest) => Promise<Actor>, authorization: AuthorizationDeps): void {
  scope.decorateRequest("actor", null as unknown as Actor);
  scope.addHook("onRequest", async (request) => {
    request.actor = await authenticate(request);
  });
  registerAuthorization(scope, authorization);
  scope.addHook("onSend", async (_request, reply, payload) => {
    if (reply.getHeader("content-type")?.toString().startsWith("application/json")) reply.header("content-type", API_CONTENT_TYPE);
    return payload;
  });
  scope.setErrorHandler((err, request, reply) => sendError(err, request, reply));
}

/** The verified caller, on requests of the authenticated scopes (null or absent elsewhere). */
function actorOf(request: FastifyRequest): Actor | null | undefined {
  return (request as { actor?: Actor | null }).actor;
}

function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  // Already answered (a 408 for a too-slow body), or the client went away mid-body: nobody would read an answer.
  if (reply.raw.headersSent) return;
  if (!request.raw.complete && (request.raw.destroyed || (err as { code?: string }).code === "ECONNRESET")) {
    request.log.warn({ method: request.method, url: request.url.split("?")[0] }, "client went away before its request body ended");
    return;
  }
  const hubError =
    err instanceof HubError
      ? err
      : isOutOfSpace(err)
        ? // The write failed as a whole (SQLite rolled back, temp files were removed): retry once space is freed.
          new HubError("ServiceUnavailable", "The hub is out of disk space; nothing was changed. Retry later.", { retryAfterSeconds: OUT_OF_SPACE_RETRY_AFTER_SECONDS })
        : fromFrameworkError(err as { code?: string; statusCode?: number; message?: string });
  // The API's media type also outside the API scopes (probes, web UI), whose answers no onSend hook relabels.
  void reply.header("content-type", API_CONTENT_TYPE);
  closeIfBodyUnread(reply);
  if (hubError) {
    if (hubError.retryAfterSeconds !== undefined) void reply.header("retry-after", String(hubError.retryAfterSeconds));
    void reply.code(STATUS_BY_CODE[hubError.code]).send(errorBody(hubError, request.id));
    return;
  }
  request.log.error({ err }, "unexpected error");
  void reply.code(500).send(errorBody(new HubError("Unknown", "The hub failed to process the request. Nothing was changed by it; it is safe to retry."), request.id));
}

function originOf(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, "");
  return `${request.protocol}://${request.host}`;
}

function storageLinks(request: FastifyRequest, options: AppOptions): StorageLinks {
  // A store clients can reach themselves (Azure) hands out its own links: bytes then bypass the hub.
  const direct = directStorageLinks(options.blobs, options.linkTtlSeconds);
  if (direct) return direct;
  const origin = originOf(request, options.publicUrl);
  // Links name the user they are issued to: uploads share slots per user, and the audit log says who wrote.
  const user = request.actor?.userId;
  return {
    upload: (key, maxBytes) => ({ href: storageUrl(origin, key, options.signer, "w", options.linkTtlSeconds, maxBytes, user), storageType: "azure" }),
    download: (key) => ({ href: storageUrl(origin, key, options.signer, "r", options.linkTtlSeconds, undefined, user), storageType: "azure" }),
  };
}
