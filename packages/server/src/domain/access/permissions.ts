/**
 * The iModels permissions (the cloud's names). `imodels_delete` is spelled `imodels-delete` only in the answer of
 * `GET /imodels/{id}/permissions`, as the cloud does (imodels-api.md "UserPermissions").
 */
export const PERMISSIONS = ["imodels_webview", "imodels_read", "imodels_write", "imodels_manage", "imodels_delete"] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What may be granted on one iModel: delete stays an iTwin-level permission (cloud rule). */
export const IMODEL_LEVEL_PERMISSIONS: readonly Permission[] = ["imodels_webview", "imodels_read", "imodels_write", "imodels_manage"];

export const ALL_PERMISSIONS: ReadonlySet<Permission> = new Set(PERMISSIONS);
export const NO_PERMISSIONS: ReadonlySet<Permission> = new Set();

/** write/manage/delete imply read; read implies webview. */
export function withImplied(granted: Iterable<Permission>): Set<Permission> {
  const set = new Set(granted);
  if (set.has("imodels_write") || set.has("imodels_manage") || set.has("imodels_delete")) set.add("imodels_read");
  if (set.has("imodels_read")) set.add("imodels_webview");
  return set;
}

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
export function canonical(permissions: Iterable<Permission>): Permission[] {
  const set = new Set(permissions);
  return PERMISSIONS.filter((p) => set.has(p));
}

/** What a caller may do in one scope, as computed once per request. */
export interface Grants {
  readonly permissions: ReadonlySet<Permission>;
  has(permission: Permission): boolean;
}

export function grantsOf(permissions: Iterable<Permission>): Grants {
  const set: ReadonlySet<Permission> = withImplied(permissions);
  return { permissions: set, has: (p) => set.has(p) };
}
