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
import type { AuditRouteOptions } from "./routes/auditlog.js";
import { auditLogRoutes, iModelAuditRoutes } from "./routes/auditlog.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { Authenticator } from "./authn/authenticator.js";
import type { AccessService } from "../domain/access/access-service.js";
import { registerAuthorization, requireRouteRules } from "./authz/authorize.js";
import type { AuthorizationDeps } from "./authz/authorize.js";
import { accessControlRoutes } from "./routes/access-control.js";
import { iModelPermissionRoutes } from "./routes/imodel-permissions.js";
import { thumbnailRoutes } from "./routes/thumbnails.js";
import { eventRoutes } from "./routes/events.js";
import { DEFAULT_WEB_UI_ROOT, webUiRoutes } from "./web-ui.js";
import type { EventFeed } from "../domain/events/hub-events.js";
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
import { BodyWatch, answerOnSocket, connectionsForDescriptors, descriptorLimit, openDescriptors, requestLineOfRawPacket, statusOfClientError } from "./slow-clients.js";
import { azureErrorXml, isStoragePath, sendAzureError } from "./storage/azure-xml.js";
import { OUT_OF_SPACE_RETRY_AFTER_SECONDS, isOutOfSpace } from "./out-of-space.js";
import { storageRoutes } from "./storage/storage-routes.js";
import { UPLOAD_RETRY_AFTER_SECONDS, UploadSlots } from "./storage/upload-slots.js";
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
  /** Requests per minute and verified user; 0 turns the limit off. */
  rateLimitPerMinute: number;
  /** Who is asking (`--auth`); open mode (tokens not verified) when not given. */
  authenticator?: Authenticator;
  /** Who may do what (roles, members, iModel grants, admins); every API route is checked by http/authz. */
  access: AccessService;
  /** What `GET /ready` checks (metadata store, blob store, worker…); without it /ready checks nothing. */
  readiness?: Readonly<Record<string, ReadinessCheck>>;
  /** Serves `GET /metrics` and counts requests when given. */
  metrics?: HubMetrics;
  /** Storage uploads at once (default 64); more are answered 503 ServerBusy without reading their body. */
  maxUploads?: number;
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
  /** Serves `GET /imodels/{id}/events` (the change feed) when given; `heartbeatMs` defaults to 15 s. */
  events?: { feed: EventFeed; heartbeatMs?: number };
  /** Records every write (see audit/audit-hook.ts) and serves `GET /imodels/{id}/auditlog` and `GET /auditlog`. */
  audit?: {
    recorder: AuditRecorder;
    log: AuditLog;
    /** Who may read an iModel's log / an iTwin's (or, without one, the whole hub's); by default anyone who can see the iModel. */
    authorizeIModel?: AuditRouteOptions["authorizeIModel"];
    authorizeITwin?: AuditRouteOptions["authorizeITwin"];
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
  const app = Fastify({
    logger: options.logger,
    routerOptions: { querystringParser: parseQueryString, maxParamLength: MAX_PARAM_LENGTH },
    bodyLimit: options.jsonBodyLimit,
    // Node's whole-request timeout would cut big uploads on slow links: bodies are bounded by BodyWatch instead (a
    // deadline for API bodies, progress for uploads). Headers get a deadline of their own, checked every second.
    requestTimeout: 0,
    http: { headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))) },
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
      const line = requestLineOfRawPacket((err as { rawPacket?: unknown }).rawPacket);
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

  app.addHook("onRequest", async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
  });
  // Before any route: each must have an authorization rule (http/authz/rules.ts) or the app does not start.
  requireRouteRules(app);

  // Each connection may hold a descriptor for its socket and one for a file: capped so that the database, the
  // worker and /health always find one (past the cap Node closes new connections at once).
  const maxConnections = options.maxConnections ?? connectionsForDescriptors(descriptorLimit(), openDescriptors() ?? 32);
  if (maxConnections !== undefined) app.server.maxConnections = maxConnections;
  const hosts = new HostAllowList(options.allowedHosts, options.publicUrl);
  const uploads = new UploadSlots(options.maxUploads ?? 64);
  const bodies = new BodyWatch({
    apiBodyTimeoutMs: options.apiBodyTimeoutMs ?? 10_000,
    uploadStallTimeoutMs: options.uploadStallTimeoutMs ?? 30_000,
    warn: (fields, message) => app.log.warn(fields, message),
  });
  app.addHook("onClose", async () => bodies.close());
  // Guards for every route (API, storage, health), before anything reads a body.
  app.addHook("onRequest", (request, reply, done) => {
    const storage = isStoragePath(request.url);
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
    // Refused before its body is read; `connection: close`, or Node would read the whole body to reuse the socket.
    if (upload && !uploads.tryTake(reply)) {
      void sendAzureError(
        reply.header("retry-after", String(UPLOAD_RETRY_AFTER_SECONDS)).header("connection", "close"),
        503,
        "ServerBusy",
        `The hub is already receiving ${uploads.limit} uploads (--max-uploads); retry after ${UPLOAD_RETRY_AFTER_SECONDS} s.`,
      );
      return;
    }
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
    registerAuditHook(app, {
      recorder: options.audit.recorder,
      iTwinOf: async (iModelId) => (await options.hub.iModels.get(iModelId).catch(() => undefined))?.iTwinId ?? null,
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
  await app.register(
    async (api) => {
      api.decorateRequest("actor", null as unknown as Actor);
      api.decorateRequest("presenter", null as unknown as Presenter);
      api.decorateRequest("params_", null as unknown as Query);

      // Only JSON bodies on the API (and empty forms, below); anything else is 415 (see the error handler).
      api.removeAllContentTypeParsers();
      api.addContentTypeParser(JSON_MEDIA_TYPES, { parseAs: "string" }, parseJsonBody);
      // axios (the official clients) labels a request without data `application/x-www-form-urlencoded`, e.g. the
      // empty body of PUT …/namedversions/{id}/checkpoint: the cloud accepts it, so an empty one means "no body".
      // A form that says something is still not a body the API reads: 415.
      api.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
        const text = typeof body === "string" ? body : body.toString("utf8");
        if (text.trim() === "") return done(null, {});
        done(new HubError("UnsupportedMediaType", "Media Type is not supported."));
      });

      if (options.rateLimitPerMinute > 0) {
        await api.register(rateLimit, {
          global: true,
          max: options.rateLimitPerMinute,
          timeWindow: 60_000,
          // After authentication (onRequest): one bucket per verified user, whichever of their tokens they use.
          hook: "preHandler",
          keyGenerator: (request) => `user:${request.actor.userId}`,
          errorResponseBuilder: (_request, context) =>
            new HubError("TooManyRequests", "More requests were received than the subscription rate-limit allows.", {
              retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
            }),
        });
      }

      api.addHook("onRequest", async (request) => {
        request.actor = withApplication(await authenticator.authenticate(request.headers.authorization), request.headers);
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
      if (options.events) await eventRoutes(api, { hub: options.hub, ...options.events });
      if (audit) await iModelAuditRoutes(api, audit);
    },
    { prefix: "/imodels" },
  );

  // The hub-wide / per-iTwin audit log: authenticated and answered like the API.
  if (audit) {
    await app.register(
      async (scope) => {
        authenticatedScope(scope, authenticator, authorization);
        await auditLogRoutes(scope, audit);
      },
      { prefix: "/auditlog" },
    );
  }

  // Roles and members of iTwins (the cloud's Access Control API shapes): authenticated and answered like the API.
  await app.register(
    async (scope) => {
      authenticatedScope(scope, authenticator, authorization);
      // JSON bodies only (the API's parser): anything else is 415, as on the API.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(JSON_MEDIA_TYPES, { parseAs: "string" }, parseJsonBody);
      scope.setNotFoundHandler((request, reply) => {
        sendApiError(reply, new HubError("NotFound", `No API route matches ${request.method} ${request.url.split("?")[0]}.`));
      });
      await accessControlRoutes(scope, { access: options.access });
    },
    { prefix: "/accesscontrol" },
  );

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
  void reply.code(STATUS_BY_CODE[hubError.code]).header("content-type", API_CONTENT_TYPE).send(JSON.stringify(errorBody(hubError)));
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
function authenticatedScope(scope: FastifyInstance, authenticator: Authenticator, authorization: AuthorizationDeps): void {
  scope.decorateRequest("actor", null as unknown as Actor);
  scope.addHook("onRequest", async (request) => {
    request.actor = await authenticator.authenticate(request.headers.authorization);
  });
  registerAuthorization(scope, authorization);
  scope.addHook("onSend", async (_request, reply, payload) => {
    if (reply.getHeader("content-type")?.toString().startsWith("application/json")) reply.header("content-type", API_CONTENT_TYPE);
    return payload;
  });
  scope.setErrorHandler((err, request, reply) => sendError(err, request, reply));
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
  return {
    upload: (key, maxBytes) => ({ href: storageUrl(origin, key, options.signer, "w", options.linkTtlSeconds, maxBytes), storageType: "azure" }),
    download: (key) => ({ href: storageUrl(origin, key, options.signer, "r", options.linkTtlSeconds), storageType: "azure" }),
  };
}
