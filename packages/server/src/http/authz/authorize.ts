import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import type { Grants } from "../../domain/access/permissions.js";
import { ALL_PERMISSIONS, NO_PERMISSIONS, grantsOf } from "../../domain/access/permissions.js";
import type { Actor } from "../../domain/context.js";
import type { IModelRecord } from "../../ports/metadata-store.js";
import { HubError, insufficientPermissions } from "../../domain/errors.js";
import { STATUS_BY_CODE } from "../error-mapping.js";
import type { RouteFacts } from "../route-config.js";
import type { AuthzRule } from "./rules.js";

/** What the authorization seam established for this request (also read by the audit log and the presenters). */
export interface RequestAuthz {
  rule: AuthzRule;
  /** The iTwin the request acts in, when it has one (an iModel's is resolved once, here). */
  iTwinId?: string;
  iModelId?: string;
  /** The iModel row read to find its iTwin: a route may pass it on instead of reading it again. */
  iModel?: IModelRecord;
  /** The caller's effective permissions in that scope. */
  grants: Grants;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the authorization hook on every API route; undefined on probes and storage routes. */
    authz: RequestAuthz | undefined;
  }
}

export interface AuthorizationDeps {
  access: AccessService;
  /** An iModel (for its iTwin), or undefined when there is no such iModel. */
  iModelOf(iModelId: string): Promise<IModelRecord | undefined>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NONE: Grants = grantsOf(NO_PERMISSIONS);
const ALL: Grants = grantsOf(ALL_PERMISSIONS);

/** A route as registered, with the facts it carries (the source of docs/security.md and /openapi.json). */
export interface RegisteredRoute {
  method: string;
  url: string;
  /** The route's options as fastify holds them (`config`, `schema`); read after start-up. */
  options: { config?: RouteFacts; schema?: unknown };
}

declare module "fastify" {
  interface FastifyInstance {
    /** Every route of the app in registration order (HEAD routes fastify adds for GET ones included). */
    registeredRoutes: RegisteredRoute[];
  }
}

/**
 * Makes every route declare its rule: call on the root app before any route is registered. A route without
 * `config.authz` makes the app refuse to start (`ready()`/`listen()` reject). Checked once the app is ready rather
 * than when the route is added, so that a plugin's own scope may give the routes of a library it registers their
 * rule (web-ui.ts does for @fastify/static's).
 */
export function requireRouteRules(app: FastifyInstance): void {
  app.decorateRequest("authz", undefined);
  app.decorate("registeredRoutes", []);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) app.registeredRoutes.push({ method, url: route.url, options: route });
  });
  app.addHook("onReady", async () => {
    for (const route of app.registeredRoutes) {
      if (!route.options.config?.authz) {
        throw new Error(
          `Route ${route.method} ${route.url} has no authorization rule: give it config: { authz } (packages/server/src/http/authz/rules.ts).`,
        );
      }
    }
  });
}

/**
 * The one authorization seam of an authenticated scope (`/imodels`, `/itwins`, `/accesscontrol`, `/auditlog`): register it
 * right after the authentication hook. Rules that need the body (creating an iModel names its iTwin there, a
 * Changed Elements comparison job its iModel) are checked once the body is parsed, all others before it is read.
 */
export function registerAuthorization(scope: FastifyInstance, deps: AuthorizationDeps): void {
  scope.addHook("onRequest", async (request) => {
    const rule = ruleOfRequest(request);
    if (namesItsTargetInBody(rule)) return;
    request.authz = await authorize(request, request.actor, rule, deps);
  });
  scope.addHook("preValidation", async (request) => {
    const rule = ruleOfRequest(request);
    if (namesItsTargetInBody(rule)) request.authz = await authorize(request, request.actor, rule, deps);
  });
}

/** A rule whose iTwin or iModel is named in the body: it can only be checked once the body is parsed. */
function namesItsTargetInBody(rule: AuthzRule): boolean {
  return (rule.kind === "iTwin" || rule.kind === "iModel") && rule.from === "body";
}

/**
 * Whether a request that was let through would still be now: its token verified again (not revoked, not past its
 * own `exp`) and its route's rule checked again. For answers that last (the change feed). Only a refusal (401, 403,
 * 404) answers false: a hub that cannot verify right now (identity provider unreachable, 503) keeps the stream.
 */
export async function stillAuthorized(
  request: FastifyRequest,
  authenticate: (authorization: string | undefined) => Promise<Actor>,
  deps: AuthorizationDeps,
): Promise<boolean> {
  try {
    const actor = await authenticate(request.headers.authorization);
    if (actor.expiresAt !== undefined && actor.expiresAt <= Date.now()) return false;
    await authorize(request, actor, ruleOfRequest(request), deps);
    return true;
  } catch (err) {
    if (err instanceof HubError && STATUS_BY_CODE[err.code] >= 401 && STATUS_BY_CODE[err.code] <= 404) return false;
    return true;
  }
}

function ruleOfRequest(request: FastifyRequest): AuthzRule {
  const rule = request.routeOptions.url === undefined ? undefined : request.routeOptions.config.authz;
  // Unrouted requests (404 handler) have no rule and need none: they answer NotFound and do nothing.
  return rule ?? { kind: "authenticated", why: "no route" };
}

async function authorize(
  request: FastifyRequest,
  actor: Actor,
  rule: AuthzRule,
  deps: AuthorizationDeps,
): Promise<RequestAuthz> {
  const { access } = deps;
  switch (rule.kind) {
    case "public":
    case "signedLink":
    case "authenticated":
      return { rule, grants: NONE };
    case "iModel": {
      const named =
        rule.from === "body"
          ? (request.body as { iModelId?: unknown } | undefined)?.iModelId
          : (request.params as { id?: string }).id;
      const iModelId = typeof named === "string" ? named : "";
      const iModel = await deps.iModelOf(iModelId);
      if (iModel === undefined) {
        // Open mode keeps its answers exactly as before (the route says iModelNotFound itself, after validation).
        if (access.policy.everyoneMayDoEverything) return { rule, iModelId, grants: ALL };
        throw new HubError("iModelNotFound", "Requested iModel is not available.");
      }
      const iTwinId = iModel.iTwinId;
      const grants = await access.require(actor, rule.anyOf, { iTwinId, iModelId });
      return { rule, iTwinId, iModelId, iModel, grants };
    }
    case "iTwin": {
      const iTwinId = iTwinIdOf(request, rule.from);
      if (iTwinId === undefined) {
        if (rule.from === "body") return { rule, grants: NONE }; // the route refuses the body (422) and writes nothing
        if (rule.adminsWithout && (access.isAdmin(actor) || access.policy.everyoneMayDoEverything))
          return { rule, grants: ALL };
        if (rule.adminsWithout) throw insufficientPermissions();
        return { rule, grants: NONE };
      }
      // Creating an iModel: checked here, written by the route once the body is valid (AccessService.createIn).
      if (rule.claim && GUID.test(iTwinId)) return { rule, iTwinId, grants: await access.checkCreate(actor, iTwinId) };
      const grants = await access.require(actor, rule.anyOf, { iTwinId });
      if (rule.owner && !(await access.isOwner(actor, iTwinId))) throw insufficientPermissions();
      return { rule, iTwinId, grants };
    }
  }
}

function iTwinIdOf(request: FastifyRequest, from: "path" | "body" | "query"): string | undefined {
  const source =
    from === "path"
      ? (request.params as Record<string, unknown> | undefined)
      : from === "query"
        ? (request.query as Record<string, unknown> | undefined)
        : (request.body as Record<string, unknown> | undefined);
  const value = source && typeof source === "object" ? source.iTwinId : undefined;
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The grants the seam computed for this request; a route reached without them is a wiring bug (500, nothing done). */
export function grantsOfRequest(request: FastifyRequest): Grants {
  if (!request.authz)
    throw new Error(`${request.method} ${request.routeOptions.url ?? request.url} was not authorized`);
  return request.authz.grants;
}
