// The whole HTTP app, assembled: the server and its guards, the audit hook and rate limit every route passes, then
// the route plugins in their scopes. Each route carries its own facts (`config: { authz, audit, summary }`, see
// route-config.ts); the app refuses to start when one has no authorization rule.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppOptions } from "./app-options.js";
import { registerAuditHook } from "./audit/audit-hook.js";
import { RefusalDigest } from "./audit/refusal-digest.js";
import { AuthFailureGate, DEFAULT_AUTH_FAILURE_LIMIT } from "./auth-failures.js";
import { OpenAuthenticator } from "./authn/open-authenticator.js";
import type { AuthorizationDeps } from "./authz/authorize.js";
import { requireRouteRules, stillAuthorized } from "./authz/authorize.js";
import { ClientAddresses } from "./client-address.js";
import { withStorableIdentities } from "./input-guard.js";
import { registerApiReference } from "./openapi.js";
import { registerHealth, registerReadiness } from "./readiness.js";
import { originOf, sendError, sendNoRoute } from "./replies.js";
import { accessControlRoutes } from "./routes/access-control.js";
import type { AuditRouteOptions } from "./routes/auditlog.js";
import { auditLogRoutes, iModelAuditRoutes } from "./routes/auditlog.js";
import { briefcaseRoutes } from "./routes/briefcases.js";
import { changeRoutes } from "./routes/changes.js";
import { changedElementsResultRoutes, changedElementsRoutes } from "./routes/changed-elements.js";
import { changesetRoutes } from "./routes/changesets.js";
import { changesetPushRoutes } from "./routes/changeset-push.js";
import { checkpointRoutes } from "./routes/checkpoints.js";
import type { ApiRouteContext } from "./routes/context.js";
import { eventRoutes } from "./routes/events.js";
import { iModelPermissionRoutes } from "./routes/imodel-permissions.js";
import { iModelRoutes } from "./routes/imodels.js";
import { gateRoutes } from "./routes/gates.js";
import { iTwinRoutes } from "./routes/itwins.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { adminRoutes } from "./routes/admin.js";
import { checkpointRequestRoutes } from "./routes/checkpoint-requests.js";
import { elementLabelRoutes } from "./routes/element-labels.js";
import { meRoutes } from "./routes/me.js";
import { blobContainerRoutes } from "./routes/blob-containers.js";
import { lockRoutes } from "./routes/locks.js";
import { namedVersionRoutes } from "./routes/named-versions.js";
import { thumbnailRoutes } from "./routes/thumbnails.js";
import { userRoutes } from "./routes/users.js";
import { documentOnly } from "./schemas.js";
import { apiScope, authenticateWith, authenticatedScope, registerUserRateLimit } from "./scopes.js";
import type { ScopeDeps } from "./scopes.js";
import { createServer, registerRequestGuards } from "./server.js";
import { isStoragePath, sendAzureError } from "./storage/azure-xml.js";
import { storageRoutes } from "./storage/storage-routes.js";
import { UploadSlots } from "./storage/upload-slots.js";
import { DEFAULT_WEB_UI_ROOT, webUiRoutes } from "./web-ui.js";

export type { AppOptions } from "./app-options.js";
export type { ApiRouteContext } from "./routes/context.js";

/** The route plugins of the iModels API scope (`/imodels`), each a file under routes/. */
const API_ROUTES = [
  iModelRoutes,
  changesetRoutes,
  briefcaseRoutes,
  lockRoutes,
  namedVersionRoutes,
  checkpointRoutes,
  checkpointRequestRoutes,
  changeRoutes,
  userRoutes,
  iModelPermissionRoutes,
  thumbnailRoutes,
];

/** Builds the whole HTTP app (API, storage, health) without listening, so tests can run it on any port. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = createServer(options);
  // Before any route: each must carry an authorization rule (`config.authz`) or the app does not start.
  requireRouteRules(app);
  // The routes' JSON schemas describe them (/openapi.json, /docs); each handler validates with zod (schemas.ts).
  documentOnly(app);
  registerRequestGuards(app, options);
  const addresses = new ClientAddresses(options.trustedProxies);
  const failures = new AuthFailureGate(options.authFailureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT, addresses);
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
  // Before any route: one request bucket per verified user (scopes.ts).
  if (options.rateLimitPerMinute > 0) await registerUserRateLimit(app, options.rateLimitPerMinute);
  const authMode = (options.authenticator ?? new OpenAuthenticator()).mode;
  options.metrics?.register(app);
  registerReadiness(app, { checks: options.readiness ?? {} });
  registerHealth(app);
  registerApiReference(app, { publicUrl: options.publicUrl });
  if (options.webUiRoot !== false) {
    const root = options.webUiRoot ?? DEFAULT_WEB_UI_ROOT;
    await webUiRoutes(app, { root, authMode, ...(options.webUiSignIn ? { signIn: options.webUiSignIn } : {}) });
  }

  const uploads = new UploadSlots(options.maxUploads ?? 64, options.maxUploadsPerUser);
  await app.register(storageRoutes, {
    prefix: "/storage",
    blobStore: options.blobs,
    signer: options.signer,
    // Taken by the storage routes once the link is verified: slots are shared per user the link was issued to.
    uploads,
    failures,
    checkWrite: (key) => options.hub.uploads.checkWrite(key),
    // A changeset file starts its id check as soon as it is stored, while the answer travels to the client.
    onStored: (key, info) => {
      options.metrics?.blobUploaded(info.size);
      options.hub.changesets.checkIdEarly(key, info.etag);
    },
  });

  const authorization: AuthorizationDeps = {
    access: options.access,
    iModelOf: (iModelId) => options.hub.iModels.get(iModelId).catch(() => undefined),
  };
  const authenticator = withStorableIdentities(options.authenticator ?? new OpenAuthenticator());
  const deps: ScopeDeps = { authenticate: authenticateWith(authenticator, failures), authorization };
  const audit: AuditRouteOptions | undefined = options.audit && {
    auditLog: options.audit.log,
    recorder: options.audit.recorder,
    authorizeIModel:
      options.audit.authorizeIModel ?? (async (_request, iModelId) => void (await options.hub.iModels.get(iModelId))),
    authorizeITwin: options.audit.authorizeITwin ?? (async () => undefined),
    originOf: (request) => originOf(request, options.publicUrl),
  };

  const context: ApiRouteContext = { hub: options.hub, access: options.access, uploads };
  const iModelExists = async (iModelId: string) => void (await options.hub.iModels.get(iModelId));
  await app.register(
    async (api) => {
      apiScope(api, deps, options);
      for (const routes of API_ROUTES) await api.register(routes, context);
      // A client asking for it then pushes in three requests (@modelhub/backend-access does on this 404).
      if (options.pushInOneRequest !== false) await api.register(changesetPushRoutes, context);
      const { elementLabels } = options;
      if (elementLabels) await api.register(elementLabelRoutes, { labels: elementLabels, iModelExists });
      if (options.events) {
        const verify = (header: string | undefined) => authenticator.authenticate(header);
        const stillAllowed = (request: FastifyRequest) => stillAuthorized(request, verify, authorization);
        await api.register(eventRoutes, { hub: options.hub, ...options.events, stillAllowed });
      }
      if (audit) await api.register(iModelAuditRoutes, audit);
    },
    { prefix: "/imodels" },
  );
  // Scopes beside the API, authenticated and answered like it: the hub-wide / per-iTwin audit log; roles and members
  // of iTwins (the cloud's Access Control API shapes) and iTwins (the iTwins API's); who the caller is (the web UI's
  // sign-in and header); the hub's administration (administrators only); blob containers.
  if (audit) await scoped(app, "/auditlog", deps, false, (scope) => scope.register(auditLogRoutes, audit));
  const { access, iTwins, admin, blobContainers, publicUrl } = options;
  await scoped(app, "/accesscontrol", deps, true, (scope) => scope.register(accessControlRoutes, { access, iTwins }));
  const { gates } = options.hub;
  await scoped(app, "/itwins", deps, true, async (scope) => {
    await scope.register(iTwinRoutes, { iTwins, publicUrl });
    if (gates) await scope.register(gateRoutes, { gates, iTwins });
  });
  const profiles = options.profiles ? { profiles: options.profiles } : {};
  await scoped(app, "/me", deps, true, (scope) => scope.register(meRoutes, { access, authMode, ...profiles }));
  if (admin) {
    const adminOptions = { ...admin, access, authMode, blobs: options.blobs };
    await scoped(app, "/admin", deps, true, (scope) => scope.register(adminRoutes, adminOptions));
  }
  if (options.webhooks) {
    const webhookOptions = { webhooks: options.webhooks, publicUrl };
    await scoped(app, "/webhooks", deps, true, (scope) => scope.register(webhookRoutes, webhookOptions));
  }
  if (blobContainers) {
    const containerOptions = { containers: blobContainers, publicUrl };
    await scoped(app, "/blobcontainers", deps, true, (scope) => scope.register(blobContainerRoutes, containerOptions));
  }

  // Bentley's Changed Elements API v2 from the change summaries (issue 20); its result link is signed, outside the
  // authenticated scope (the client fetches it without a token).
  const changedElements = {
    hub: options.hub,
    signer: options.signer,
    linkTtlSeconds: options.linkTtlSeconds,
    ...(publicUrl !== undefined ? { publicUrl } : {}),
  };
  await scoped(app, "/changedelements", deps, true, (scope) => scope.register(changedElementsRoutes, changedElements));
  await app.register(changedElementsResultRoutes, { prefix: "/changedelements", ...changedElements });

  app.setNotFoundHandler((request, reply) => {
    // `/storage` itself, and methods fastify does not route at all (e.g. PROPFIND) on storage paths.
    if (isStoragePath(request.url)) {
      const path = request.url.split("?")[0];
      void sendAzureError(
        reply,
        405,
        "InvalidInput",
        `The resource doesn't support the HTTP verb ${request.method} at ${path}.`,
      );
      return;
    }
    sendNoRoute(request, reply, "route");
  });
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  return app;
}

/** Registers `routes` in an authenticated scope at `prefix` (`json`: JSON bodies and the API's 404, see scopes.ts). */
async function scoped(
  app: FastifyInstance,
  prefix: string,
  deps: ScopeDeps,
  json: boolean,
  routes: (scope: FastifyInstance) => unknown,
): Promise<void> {
  await app.register(
    async (scope) => {
      authenticatedScope(scope, deps, { json });
      await routes(scope);
    },
    { prefix },
  );
}
