import type { Permission } from "@modelhub/protocol";
import { PERMISSIONS } from "@modelhub/protocol";

/**
 * How one route is authorized. Every route carries its rule next to its handler (`config: { authz }`, see
 * route-config.ts): the app refuses to start when one does not (authorize.ts `requireRouteRules`), so a new route
 * cannot ship without a decision. docs/security.md's permission table is generated from these rules.
 */
export type AuthzRule =
  /** No token at all: the probes (document what they reveal). */
  | { kind: "public"; why: string }
  /** Storage: the signed link (one object, one verb, an expiry) is the authorization; links are handed out by API routes that checked permissions. */
  | { kind: "signedLink" }
  /** Any authenticated caller; the route itself limits what it answers to what the caller may see. */
  | { kind: "authenticated"; why: string }
  /**
   * On the iModel of path parameter `:id` (or, `from: "body"`, of the body's `iModelId`): one of `anyOf` (no
   * permission at all → 404 `iModelNotFound`).
   */
  | { kind: "iModel"; anyOf: readonly Permission[]; from?: "body" }
  /**
   * On an iTwin named by the path (`:iTwinId`), the body or the query (`iTwinId`). `claim`: creating an iModel,
   * which may create an iTwin id the hub has never seen (the caller its Owner; AccessService.checkCreate). `adminsWithout`: without an iTwin id
   * only organization administrators may. `owner`: only the iTwin's Owners (and administrators).
   */
  | {
      kind: "iTwin";
      anyOf: readonly Permission[];
      from: "path" | "body" | "query";
      claim?: boolean;
      adminsWithout?: boolean;
      owner?: boolean;
    };

/** Permission sets the routes name in their `config.authz` (see the route files under http/routes). */
export const WEBVIEW = ["imodels_webview"] as const satisfies readonly Permission[];
export const READ = ["imodels_read"] as const satisfies readonly Permission[];
export const WRITE = ["imodels_write"] as const satisfies readonly Permission[];
export const MANAGE = ["imodels_manage"] as const satisfies readonly Permission[];
export const DELETE = ["imodels_delete"] as const satisfies readonly Permission[];
/** Releasing locks: one's own briefcase with write, or anyone's with manage (the domain checks which). */
export const WRITE_OR_MANAGE = ["imodels_write", "imodels_manage"] as const satisfies readonly Permission[];
/** Any permission at all (reading an iModel's own permissions). */
export const ANY = PERMISSIONS;

/** On the iModel of path parameter `:id`: one of `anyOf`. */
export const iModel = (anyOf: readonly Permission[]): AuthzRule => ({ kind: "iModel", anyOf });
/** On the iModel named by the body's `iModelId` (the Changed Elements API's comparison job): one of `anyOf`. */
export const iModelInBody = (anyOf: readonly Permission[]): AuthzRule => ({ kind: "iModel", anyOf, from: "body" });
/** On the iTwin of path parameter `:iTwinId`: one of `anyOf`. */
export const iTwinInPath = (anyOf: readonly Permission[]): AuthzRule => ({ kind: "iTwin", anyOf, from: "path" });
/** No token: say what the route reveals. */
export const publicRoute = (why: string): AuthzRule => ({ kind: "public", why });
/** Any authenticated caller: say how the route limits its answer. */
export const authenticated = (why: string): AuthzRule => ({ kind: "authenticated", why });
export const SIGNED_LINK: AuthzRule = { kind: "signedLink" };
