import rateLimit from "@fastify/rate-limit";
import Fastify from "fastify";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { IMODELS_API_MEDIA_TYPE } from "@modelhub/protocol";
import type { Actor } from "../domain/context.js";
import { HubError } from "../domain/errors.js";
import type { Hub } from "../domain/hub.js";
import type { BlobStore } from "../ports/blob-store.js";
import { actorFromAuthorization } from "./auth.js";
import { STATUS_BY_CODE, errorBody, fromFrameworkError } from "./error-mapping.js";
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
import { storageRoutes } from "./storage/storage-routes.js";
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
  /** Requests per minute and user (token); 0 turns the limit off. */
  rateLimitPerMinute: number;
  /** Called after something was queued for the background runner. */
  onJobQueued?: () => void;
}

export interface ApiRouteContext {
  hub: Hub;
  onJobQueued: () => void;
}

/** Builds the whole HTTP app (API, storage, health) without listening, so tests can run it on any port. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger,
    routerOptions: { querystringParser: parseQueryString },
    bodyLimit: options.jsonBodyLimit,
    // Big uploads may take long; keep-alive connections are reused by the clients.
    requestTimeout: 0,
    return503OnClosing: true,
  });

  app.get("/health", async () => ({ status: "ok" }));

  await app.register(storageRoutes, {
    prefix: "/storage",
    blobStore: options.blobs,
    signer: options.signer,
    // A changeset file starts its id check as soon as it is stored, while the answer travels to the client.
    onStored: (key, info) => options.hub.changesets.checkIdEarly(key, info.etag),
  });

  const context: ApiRouteContext = { hub: options.hub, onJobQueued: options.onJobQueued ?? (() => undefined) };
  await app.register(
    async (api) => {
      api.decorateRequest("actor", null as unknown as Actor);
      api.decorateRequest("presenter", null as unknown as Presenter);
      api.decorateRequest("params_", null as unknown as Query);

      // Only JSON bodies on the API; anything else is 415 (see the error handler).
      api.removeAllContentTypeParsers();
      api.addContentTypeParser(/^application\/(.+\+)?json$/, { parseAs: "string" }, (_req, body, done) => {
        const text = typeof body === "string" ? body : body.toString("utf8");
        if (text.trim() === "") return done(null, {});
        try {
          done(null, JSON.parse(text));
        } catch {
          done(new SyntaxError("invalid JSON body"));
        }
      });

      if (options.rateLimitPerMinute > 0) {
        await api.register(rateLimit, {
          global: true,
          max: options.rateLimitPerMinute,
          timeWindow: 60_000,
          keyGenerator: (request) => request.headers.authorization ?? request.ip,
          errorResponseBuilder: (_request, context) =>
            new HubError("TooManyRequests", "More requests were received than the subscription rate-limit allows.", {
              retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
            }),
        });
      }

      api.addHook("onRequest", async (request) => {
        request.actor = actorFromAuthorization(request.headers.authorization);
        request.presenter = new Presenter(`${originOf(request, options.publicUrl)}/imodels`, storageLinks(request, options));
        request.params_ = request.query as Query;
      });
      api.addHook("onSend", async (_request, reply, payload) => {
        if (reply.getHeader("content-type")?.toString().startsWith("application/json")) {
          reply.header("content-type", `${IMODELS_API_MEDIA_TYPE}; charset=utf-8`);
        }
        return payload;
      });

      api.setErrorHandler((err, request, reply) => sendError(err, request, reply));
      api.setNotFoundHandler((request, reply) => {
        void reply.code(404).send(errorBody(new HubError("NotFound", `No API route matches ${request.method} ${request.url.split("?")[0]}.`)));
      });

      await iModelRoutes(api, context);
      await changesetRoutes(api, context);
      await briefcaseRoutes(api, context);
      await lockRoutes(api, context);
      await namedVersionRoutes(api, context);
      await checkpointRoutes(api, context);
      await userRoutes(api, context);
    },
    { prefix: "/imodels" },
  );

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(new HubError("NotFound", `No route matches ${request.method} ${request.url.split("?")[0]}.`)));
  });
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  return app;
}

function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const hubError = err instanceof HubError ? err : fromFrameworkError(err as { code?: string; statusCode?: number; message?: string });
  if (hubError) {
    if (hubError.retryAfterSeconds !== undefined) void reply.header("retry-after", String(hubError.retryAfterSeconds));
    void reply.code(STATUS_BY_CODE[hubError.code]).send(errorBody(hubError));
    return;
  }
  request.log.error({ err }, "unexpected error");
  void reply.code(500).send(errorBody(new HubError("Unknown", "The hub failed to process the request. Nothing was changed by it; it is safe to retry.")));
}

function originOf(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, "");
  return `${request.protocol}://${request.host}`;
}

function storageLinks(request: FastifyRequest, options: AppOptions): StorageLinks {
  const origin = originOf(request, options.publicUrl);
  return {
    upload: (key) => ({ href: storageUrl(origin, key, options.signer, "w", options.linkTtlSeconds), storageType: "azure" }),
    download: (key) => ({ href: storageUrl(origin, key, options.signer, "r", options.linkTtlSeconds), storageType: "azure" }),
  };
}
