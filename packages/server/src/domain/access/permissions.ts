import type { Permission } from "@modelhub/protocol";
import { PERMISSIONS } from "@modelhub/protocol";

/** What may be granted on one iModel: delete stays an iTwin-level permission (cloud rule). */
export const IMODEL_LEVEL_PERMISSIONS: readonly Permission[] = [
  "imodels_webview",
  "imodels_read",
  "imodels_write",
  "imodels_manage",
];

export const ALL_PERMISSIONS: ReadonlySet<Permission> = new Set(PERMISSIONS);
export const NO_PERMISSIONS: ReadonlySet<Permission> = new Set();

/** write/manage/delete imply read; read implies webview. */
export function withImplied(granted: Iterable<Permission>): Set<Permission> {
  const set = new Set(granted);
  if (set.has("imodels_write") || set.has("imodels_manage") || set.has("imodels_delete")) set.add("imodels_read");
  if (set.has("imodels_read")) set.add("imodels_webview");
  return set;
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
