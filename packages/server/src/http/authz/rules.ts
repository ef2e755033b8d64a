import type { Permission } from "@modelhub/protocol";
import { PERMISSIONS } from "@modelhub/protocol";

/**
 * How one route is authorized. Every route of the app has exactly one rule here: `buildApp` refuses to start
 * otherwise (see authorize.ts), so a new route cannot ship without a decision.
 */
export type AuthzRule =
  /** No token at all: the probes (document what they reveal). */
  | { kind: "public"; why: string }
  /** Storage: the signed link (one object, one verb, an expiry) is the authorization; links are handed out by API routes that checked permissions. */
  | { kind: "signedLink" }
  /** Any authenticated caller; the route itself limits what it answers to what the caller may see. */
  | { kind: "authenticated"; why: string }
  /** On the iModel of path parameter `:id`: one of `anyOf` (no permission at all → 404 `iModelNotFound`). */
  | { kind: "iModel"; anyOf: readonly Permission[] }
  /**
   * On an iTwin named by the path (`:iTwinId`), the body or the query (`iTwinId`). `claim`: creating an iModel,
   * which may create an iTwin id the hub has never seen (the caller its Owner; AccessService.checkCreate). `adminsWithout`: without an iTwin id
   * only organization administrators may. `owner`: only the iTwin's Owners (and administrators).
   */
  | { kind: "iTwin"; anyOf: readonly Permission[]; from: "path" | "body" | "query"; claim?: boolean; adminsWithout?: boolean; owner?: boolean };

const WEBVIEW = ["imodels_webview"] as const satisfies readonly Permission[];
const READ = ["imodels_read"] as const satisfies readonly Permission[];
const WRITE = ["imodels_write"] as const satisfies readonly Permission[];
const MANAGE = ["imodels_manage"] as const satisfies readonly Permission[];
/** Releasing locks: one's own briefcase with write, or anyone's with manage (the domain checks which). */
const WRITE_OR_MANAGE = ["imodels_write", "imodels_manage"] as const satisfies readonly Permission[];

const iModel = (anyOf: readonly Permission[]): AuthzRule => ({ kind: "iModel", anyOf });

/**
 * `METHOD url` as fastify registers it (prefix included) → rule. HEAD routes fastify adds for GET ones use the GET
 * rule. Permission per operation (docs/security.md has the same table in prose).
 */
export const AUTHZ_RULES: Readonly<Record<string, AuthzRule>> = {
  // Probes and storage.
  "GET /health": { kind: "public", why: "liveness: answers {status:'ok'} only" },
  "GET /ready": { kind: "public", why: "readiness: which stores answer, no data" },
  "GET /metrics": { kind: "public", why: "Prometheus counters, no ids or names; restrict it at the proxy or with --no-metrics" },
  // The web UI's static files and what its sign-in page asks for first: no data (the page calls the API with a token).
  "GET /": { kind: "public", why: "the web UI's page (static, no data)" },
  "GET /assets/*": { kind: "public", why: "the web UI's scripts and styles (static, no data)" },
  "GET /ui/config": { kind: "public", why: "the auth mode, which the sign-in page needs before it has a token" },
  "PUT /storage/modelhub/*": { kind: "signedLink" },
  "GET /storage/modelhub/*": { kind: "signedLink" },
  "HEAD /storage/modelhub/*": { kind: "signedLink" },

  // iModels.
  "GET /imodels/": { kind: "authenticated", why: "lists only the iModels the caller can see (AccessService.visibility)" },
  "POST /imodels/": { kind: "iTwin", anyOf: MANAGE, from: "body", claim: true },
  "GET /imodels/:id": iModel(WEBVIEW),
  "PATCH /imodels/:id": iModel(MANAGE),
  "DELETE /imodels/:id": iModel(["imodels_delete"]),
  "POST /imodels/:id/baselinefile": iModel(MANAGE),
  "GET /imodels/:id/baselinefile": iModel(WEBVIEW),
  "GET /imodels/:id/operations/create": iModel(WEBVIEW),
  // Clone and fork read the source; the route also requires creating iModels in the target iTwin (body).
  "POST /imodels/:id/clone": iModel(READ),
  "POST /imodels/:id/fork": iModel(READ),
  "GET /imodels/:id/permissions": iModel(PERMISSIONS),
  "GET /imodels/:id/thumbnail": iModel(WEBVIEW),
  // The change feed tells what the webview routes show (pushes, versions, lock counts, checkpoints).
  "GET /imodels/:id/events": iModel(WEBVIEW),
  "PUT /imodels/:id/thumbnail": iModel(MANAGE),

  // iModel-level grants (the iModels API's iModel permission operations).
  "GET /imodels/:id/permissions/roles": iModel(MANAGE),
  "PATCH /imodels/:id/permissions/roles/:roleId": iModel(MANAGE),
  "DELETE /imodels/:id/permissions/roles/:roleId": iModel(MANAGE),
  "GET /imodels/:id/permissions/users": iModel(MANAGE),
  "PATCH /imodels/:id/permissions/users/:userId": iModel(MANAGE),
  "DELETE /imodels/:id/permissions/users/:userId": iModel(MANAGE),
  // The same at the iModels API's own paths (the role or user in the body of a PATCH).
  "GET /imodels/:id/rolepermissions": iModel(MANAGE),
  "PATCH /imodels/:id/rolepermissions": iModel(MANAGE),
  "DELETE /imodels/:id/rolepermissions/:roleId": iModel(MANAGE),
  "GET /imodels/:id/userpermissions": iModel(MANAGE),
  "PATCH /imodels/:id/userpermissions": iModel(MANAGE),
  "DELETE /imodels/:id/userpermissions/:userId": iModel(MANAGE),

  // Changesets and groups (download links only with imodels_read: see Presenter).
  "POST /imodels/:id/changesets": iModel(WRITE),
  "PATCH /imodels/:id/changesets/:changesetId": iModel(WRITE),
  "GET /imodels/:id/changesets": iModel(WEBVIEW),
  "GET /imodels/:id/changesets/extendeddata": iModel(WEBVIEW),
  "GET /imodels/:id/changesets/:changesetId": iModel(WEBVIEW),
  "POST /imodels/:id/changesets/:changesetId/extendeddata": iModel(WRITE),
  "GET /imodels/:id/changesets/:changesetId/extendeddata": iModel(WEBVIEW),
  "POST /imodels/:id/changesetgroups": iModel(WRITE),
  "PATCH /imodels/:id/changesetgroups/:groupId": iModel(WRITE),
  "GET /imodels/:id/changesetgroups/:groupId": iModel(WEBVIEW),
  "GET /imodels/:id/changesetgroups": iModel(WEBVIEW),

  // Briefcases: acquiring one needs read (opening a briefcase is reading); releasing: own, or manage (domain).
  "POST /imodels/:id/briefcases": iModel(READ),
  "GET /imodels/:id/briefcases": iModel(WEBVIEW),
  "GET /imodels/:id/briefcases/checkpoint": iModel(WEBVIEW),
  "GET /imodels/:id/briefcases/:briefcaseId": iModel(WEBVIEW),
  "DELETE /imodels/:id/briefcases/:briefcaseId": iModel(READ),

  // Locks: acquiring needs write and one's own briefcase; releasing also manage (domain).
  "PATCH /imodels/:id/locks": iModel(WRITE_OR_MANAGE),
  "GET /imodels/:id/locks": iModel(WEBVIEW),
  "POST /imodels/:id/locks/release-chunk": iModel(WRITE_OR_MANAGE),

  // Named versions and checkpoints.
  "POST /imodels/:id/namedversions": iModel(WRITE),
  "GET /imodels/:id/namedversions": iModel(WEBVIEW),
  "GET /imodels/:id/namedversions/:versionId": iModel(WEBVIEW),
  "PATCH /imodels/:id/namedversions/:versionId": iModel(WRITE),
  "GET /imodels/:id/changesets/:changesetId/checkpoint": iModel(WEBVIEW),
  "GET /imodels/:id/namedversions/:versionId/checkpoint": iModel(WEBVIEW),
  "PUT /imodels/:id/namedversions/:versionId/checkpoint": iModel(MANAGE),
  "GET /imodels/:id/checkpoints": iModel(WEBVIEW),

  // Users.
  "GET /imodels/:id/users": iModel(WEBVIEW),
  "GET /imodels/:id/users/:userId": iModel(WEBVIEW),

  // Audit log.
  "GET /imodels/:id/auditlog": iModel(MANAGE),
  "GET /auditlog/": { kind: "iTwin", anyOf: MANAGE, from: "query", adminsWithout: true },

  // Access control on iTwins (the cloud's Access Control API shapes).
  "GET /accesscontrol/itwins/:iTwinId/permissions": { kind: "authenticated", why: "the caller's own permissions on the iTwin" },
  "GET /accesscontrol/itwins/:iTwinId/roles": { kind: "iTwin", anyOf: WEBVIEW, from: "path" },
  "GET /accesscontrol/itwins/:iTwinId/roles/:roleId": { kind: "iTwin", anyOf: WEBVIEW, from: "path" },
  "POST /accesscontrol/itwins/:iTwinId/roles": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  "PATCH /accesscontrol/itwins/:iTwinId/roles/:roleId": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  "DELETE /accesscontrol/itwins/:iTwinId/roles/:roleId": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  "GET /accesscontrol/itwins/:iTwinId/members/users": { kind: "iTwin", anyOf: WEBVIEW, from: "path" },
  "GET /accesscontrol/itwins/:iTwinId/members/users/:userId": { kind: "iTwin", anyOf: WEBVIEW, from: "path" },
  "POST /accesscontrol/itwins/:iTwinId/members/users": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  "PATCH /accesscontrol/itwins/:iTwinId/members/users/:userId": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  "DELETE /accesscontrol/itwins/:iTwinId/members/users/:userId": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  // The Access Control API v1's member paths (a member's id is the user id).
  "GET /accesscontrol/itwins/:iTwinId/members": { kind: "iTwin", anyOf: WEBVIEW, from: "path" },
  "GET /accesscontrol/itwins/:iTwinId/members/:userId": { kind: "iTwin", anyOf: WEBVIEW, from: "path" },
  "POST /accesscontrol/itwins/:iTwinId/members": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  "PATCH /accesscontrol/itwins/:iTwinId/members/:userId": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  "DELETE /accesscontrol/itwins/:iTwinId/members/:userId": { kind: "iTwin", anyOf: MANAGE, from: "path" },

  // iTwins (the cloud's iTwins API v1).
  "GET /itwins/": { kind: "authenticated", why: "lists only the iTwins the caller is a member of (all of them for administrators asking for scope all)" },
  "POST /itwins/": { kind: "authenticated", why: "any user starts an iTwin and becomes its Owner (administrators only with --no-claim-itwins: ITwinService)" },
  "GET /itwins/:iTwinId": { kind: "authenticated", why: "members and administrators; anyone else gets 404 iTwinNotFound (ITwinService.get)" },
  "PATCH /itwins/:iTwinId": { kind: "iTwin", anyOf: MANAGE, from: "path" },
  "DELETE /itwins/:iTwinId": { kind: "iTwin", anyOf: PERMISSIONS, from: "path", owner: true },
};

/** A prefixed plugin's `/` route is registered both with and without the trailing slash: one rule covers both. */
function normalize(url: string): string {
  return url.length > 1 && url.endsWith("/") ? url.slice(0, -1) : url;
}

const BY_KEY = new Map(Object.entries(AUTHZ_RULES).map(([key, rule]) => {
  const [method, url] = key.split(" ") as [string, string];
  return [`${method} ${normalize(url)}`, rule];
}));

/** The rule of a route (HEAD falls back to GET's), or undefined. */
export function ruleOf(method: string, url: string): AuthzRule | undefined {
  const path = normalize(url);
  return BY_KEY.get(`${method} ${path}`) ?? (method === "HEAD" ? BY_KEY.get(`GET ${path}`) : undefined);
}
