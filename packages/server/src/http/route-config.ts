import type { AuthzRule } from "./authz/rules.js";

type Params = Record<string, string | undefined>;
type Json = Record<string, unknown>;

/** How a write is recorded in the audit log (audit/audit-hook.ts). */
export interface AuditAction {
  /** A stable name (what `modelhub audit --action` and the API filter on), e.g. `imodel.create`. */
  action: string;
  /** What the operation acted on, from the route's parameters, the request body, or the answer (2xx JSON). */
  target?: (params: Params, body: Json, answer: Json | undefined) => unknown;
}

/**
 * The facts every route carries next to its handler, as fastify's route `config`:
 * `api.get("/:id", { config: { authz: iModel(WEBVIEW) } }, handler)`.
 * - `authz` (required): who may call it (authz/rules.ts); the app refuses to start without one.
 * - `audit` (every write): the action the audit log records it under; a write without one is recorded under its
 *   method and pattern, and test/e2e/audit-log.test.ts fails until it is named.
 * - `summary`: one line for the API reference (`/docs`, `/openapi.json`) and docs/security.md.
 */
export interface RouteFacts {
  authz?: AuthzRule;
  audit?: AuditAction;
  summary?: string;
}

declare module "fastify" {
  interface FastifyContextConfig {
    authz?: AuthzRule;
    audit?: AuditAction;
    summary?: string;
  }
}

/** `value[key]` when it is an object, else `{}` (targets read ids out of answers with it). */
export const objectAt = (value: unknown, key: string): Json => {
  const inner = value && typeof value === "object" ? (value as Json)[key] : undefined;
  return inner && typeof inner === "object" ? (inner as Json) : {};
};

/** One route as the app registered it, with its facts (docs/security.md's table and /openapi.json are made of these). */
export interface RouteEntry {
  method: string;
  /** fastify's pattern, prefix included: `/imodels/:id/changesets/:changesetId`, `/storage/modelhub/*`. */
  url: string;
  facts: RouteFacts;
  schema?: RouteSchema;
}

/** The JSON schemas a route carries (fastify's `schema`; in modelhub documentation only, see schemas.ts). */
export interface RouteSchema {
  params?: unknown;
  querystring?: unknown;
  body?: unknown;
  headers?: unknown;
  response?: Record<string, unknown>;
  hide?: boolean;
  [key: string]: unknown;
}

/**
 * The routes of an app in registration order: one entry per method and path, without the HEAD routes fastify adds
 * for GET ones and without the trailing-slash twin of a prefix's root (`/imodels/` beside `/imodels`).
 */
export function routeEntries(
  routes: readonly { method: string; url: string; options: { config?: RouteFacts; schema?: unknown } }[],
): RouteEntry[] {
  const entries = new Map<string, RouteEntry>();
  const gets = new Set(routes.filter((r) => r.method === "GET").map((r) => normalize(r.url)));
  for (const route of routes) {
    const url = normalize(route.url);
    if (route.method === "HEAD" && gets.has(url)) continue;
    const key = `${route.method} ${url}`;
    if (entries.has(key)) continue;
    const schema = route.options.schema as RouteSchema | undefined;
    entries.set(key, { method: route.method, url, facts: route.options.config ?? {}, ...(schema ? { schema } : {}) });
  }
  return [...entries.values()];
}

function normalize(url: string): string {
  return url.length > 1 && url.endsWith("/") ? url.slice(0, -1) : url;
}
