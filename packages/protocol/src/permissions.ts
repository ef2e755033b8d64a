/**
 * The iModels permissions, with the cloud's names (iTwins Access Control): what roles and per-iModel grants hold, and
 * what `GET /imodels/{id}/permissions` answers. `imodels_delete` is spelled `imodels-delete` only in that answer, as
 * the cloud does (imodels-api.md "UserPermissions"). What each one implies is a hub rule (server domain/access).
 */
export const PERMISSIONS = [
  "imodels_webview",
  "imodels_read",
  "imodels_write",
  "imodels_manage",
  "imodels_delete",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Accepts the cloud's spellings (and `imodels-delete`); undefined for anything else. */
export function parsePermission(name: string): Permission | undefined {
  const normalized = name.trim().toLowerCase().replace(/-/g, "_");
  return (PERMISSIONS as readonly string[]).includes(normalized) ? (normalized as Permission) : undefined;
}

/** The cloud's order and wire spelling, for `GET /imodels/{id}/permissions`. */
export function wirePermissions(set: ReadonlySet<Permission>): string[] {
  return PERMISSIONS.filter((p) => set.has(p)).map((p) => (p === "imodels_delete" ? "imodels-delete" : p));
}

/** Sorted in the canonical order, without duplicates (what is stored and answered for roles and grants). */
export function canonicalPermissions(permissions: Iterable<Permission>): Permission[] {
  const set = new Set(permissions);
  return PERMISSIONS.filter((p) => set.has(p));
}
