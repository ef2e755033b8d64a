// What the authenticated scopes (`/imodels`, `/itwins`, `/accesscontrol`, `/auditlog`) share: who is asking, the
// authorization seam, the API's media type and error bodies. Route plugins are registered inside them (app.ts).
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { IMODELS_API_MEDIA_TYPE } from "@modelhub/protocol";
import type { Actor } from "../domain/context.js";
import { HubError } from "../domain/errors.js";
import type { BlobStore } from "../ports/blob-store.js";
import { withApplication } from "./application.js";
import type { AuthFailureGate } from "./auth-failures.js";
import type { Authenticator } from "./authn/authenticator.js";
import type { AuthorizationDeps } from "./authz/authorize.js";
import { registerAuthorization } from "./authz/authorize.js";
import { STATUS_BY_CODE } from "./error-mapping.js";
import { apiBodyParsers } from "./json-body.js";
import type { StorageLinks } from "./presenters.js";
import { Presenter } from "./presenters.js";
import type { CheckpointBlocks } from "../domain/blob-containers/checkpoint-blocks.js";
import type { Query } from "./query.js";
import { API_CONTENT_TYPE, originOf, sendError, sendNoRoute } from "./replies.js";
import { directStorageLinks } from "./storage/direct-links.js";
import type { UrlSigner } from "./storage/url-signer.js";
import { storageUrl } from "./storage/url-signer.js";

declare module "fastify" {
  interface FastifyRequest {
    actor: Actor;
    presenter: Presenter;
    /** The parsed query string (see parseQueryString: `+` is not a space). */
    params_: Query;
  }
}

export interface ScopeDeps {
  /** Who is asking (throws the API's 401/429). */
  authenticate(request: FastifyRequest): Promise<Actor>;
  authorization: AuthorizationDeps;
}

/** Who is asking, unless their address failed too often this minute: then 429 before any token is looked at. */
export function authenticateWith(authenticator: Authenticator, failures: AuthFailureGate): ScopeDeps["authenticate"] {
  return async (request) => {
    const retryAfterSeconds = failures.blockedFor(request.raw);
    if (retryAfterSeconds !== undefined) {
      throw new HubError(
        "TooManyRequests",
        "Too many requests without valid credentials came from this address; retry later.",
        { retryAfterSeconds },
      );
    }
    try {
      return await authenticator.authenticate(request.headers.authorization);
    } catch (err) {
      if (err instanceof HubError && STATUS_BY_CODE[err.code] === 401) failures.failed(request.raw);
      throw err;
    }
  };
}

/**
 * A scope beside `/imodels` (`/auditlog`, `/accesscontrol`, `/itwins`): the verified actor, the authorization seam,
 * the API's media type and its error bodies. `json`: JSON bodies parsed as on the API (anything else 415) and the
 * API's 404 for paths no route of the scope matches.
 */
export function authenticatedScope(scope: FastifyInstance, deps: ScopeDeps, { json }: { json: boolean }): void {
  scope.decorateRequest("actor", null as unknown as Actor);
  scope.addHook("onRequest", async (request) => {
    request.actor = await deps.authenticate(request);
  });
  registerAuthorization(scope, deps.authorization);
  scope.addHook("onSend", async (_request, reply, payload) => {
    if (reply.getHeader("content-type")?.toString().startsWith("application/json"))
      reply.header("content-type", API_CONTENT_TYPE);
    return payload;
  });
  scope.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  if (json) {
    apiBodyParsers(scope);
    scope.setNotFoundHandler((request, reply) => sendNoRoute(request, reply));
  }
}

export interface ApiScopeOptions {
  blobs: BlobStore;
  signer: UrlSigner;
  publicUrl?: string;
  linkTtlSeconds: number;
  /** V2 checkpoints: a checkpoint's CloudSqlite location by its blob key (see AppOptions.checkpointBlocks). */
  checkpointBlocks?: CheckpointBlocks;
}

/** The iModels API scope (`/imodels`): also the caller's application, the presenter (links) and the parsed query. */
export function apiScope(api: FastifyInstance, deps: ScopeDeps, options: ApiScopeOptions): void {
  api.decorateRequest("actor", null as unknown as Actor);
  api.decorateRequest("presenter", null as unknown as Presenter);
  api.decorateRequest("params_", null as unknown as Query);

  apiBodyParsers(api);
  const { checkpointBlocks } = options;

  api.addHook("onRequest", async (request) => {
    request.actor = withApplication(await deps.authenticate(request), request.headers);
    request.presenter = new Presenter(
      `${originOf(request, options.publicUrl)}/imodels`,
      storageLinks(request, options),
      () => request.authz?.grants.has("imodels_read") ?? false,
      checkpointBlocks && ((blobKey) => checkpointBlocks.accessInfo(blobKey, options.linkTtlSeconds)),
    );
    request.params_ = request.query as Query;
  });
  registerAuthorization(api, deps.authorization);
  api.addHook("onSend", async (_request, reply, payload) => {
    if (reply.getHeader("content-type")?.toString().startsWith("application/json")) {
      reply.header("content-type", `${IMODELS_API_MEDIA_TYPE}; charset=utf-8`);
    }
    return payload;
  });

  api.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  api.setNotFoundHandler((request, reply) => sendNoRoute(request, reply));
}

function storageLinks(request: FastifyRequest, options: ApiScopeOptions): StorageLinks {
  // A store clients can reach themselves (Azure) hands out its own links: bytes then bypass the hub.
  const direct = directStorageLinks(options.blobs, options.linkTtlSeconds);
  if (direct) return direct;
  const origin = originOf(request, options.publicUrl);
  // Links name the user they are issued to: uploads share slots per user, and the audit log says who wrote.
  const user = request.actor?.userId;
  return {
    upload: (key, maxBytes) => ({
      href: storageUrl(origin, key, options.signer, "w", options.linkTtlSeconds, maxBytes, user),
      storageType: "azure",
    }),
    download: (key, ttlSeconds) => ({
      href: storageUrl(
        origin,
        key,
        options.signer,
        "r",
        Math.min(ttlSeconds ?? options.linkTtlSeconds, options.linkTtlSeconds),
        undefined,
        user,
      ),
      storageType: "azure",
    }),
  };
}

/**
 * One request bucket per verified user, whichever of their tokens they use, across every authenticated scope (API,
 * access control, audit log): register on the root before any route. Counted after authentication (onRequest), so
 * requests without an actor (storage, probes, the web UI) are not.
 */
export async function registerUserRateLimit(app: FastifyInstance, perMinute: number): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: perMinute,
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

/** The verified caller, on requests of the authenticated scopes (null or absent elsewhere). */
function actorOf(request: FastifyRequest): Actor | null | undefined {
  return (request as { actor?: Actor | null }).actor;
}
