import type { Permission } from "../../domain/access/permissions.js";
import { canonical, parsePermission } from "../../domain/access/permissions.js";
import type { IModelOverrides, MemberRecord, RoleRecord } from "../../ports/access-store.js";

/** A row of table `itwin_roles`; `permissions` is a JSON array of permission names. */
export interface RoleRow {
  itwin_id: string;
  id: string;
  display_name: string;
  description: string | null;
  permissions: string;
}

/** A row of table `itwin_members`: one role of one member. */
export interface MemberRow {
  itwin_id: string;
  user_id: string;
  role_id: string;
  added_at: string;
}

/** The permissions in a `permissions` column (a JSON array of names), canonical order. */
export function permissionsOf(json: string): Permission[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) return [];
  // Unknown names (written by a newer modelhub) grant nothing.
  return canonical(parsed.flatMap((p) => (typeof p === "string" ? (parsePermission(p) ?? []) : [])));
}

export function roleOf(row: RoleRow): RoleRecord {
  return { iTwinId: row.itwin_id, id: row.id, displayName: row.display_name, description: row.description, permissions: permissionsOf(row.permissions) };
}

/** One record per member, in the order of the rows' first appearance; a member's `addedAt` is that of its oldest role. */
export function membersOf(rows: MemberRow[]): MemberRecord[] {
  const byUser = new Map<string, MemberRecord>();
  for (const row of rows) {
    const member = byUser.get(row.user_id);
    if (member) {
      member.roleIds.push(row.role_id);
      if (row.added_at < member.addedAt) member.addedAt = row.added_at;
    } else byUser.set(row.user_id, { iTwinId: row.itwin_id, userId: row.user_id, roleIds: [row.role_id], addedAt: row.added_at });
  }
  return [...byUser.values()];
}

/** A row of table `imodel_role_permissions`: what a role may do on one iModel, in place of its iTwin-wide permissions. */
export interface RoleOverrideRow {
  imodel_id: string;
  role_id: string;
  permissions: string;
}

/** A row of table `imodel_user_permissions`: what a user may do on one iModel, whatever their roles. */
export interface UserOverrideRow {
  imodel_id: string;
  user_id: string;
  permissions: string;
}

/** The overrides of iModel `iModelId`, from its rows (read without the `imodel_id` column). */
export function overridesOf(
  iModelId: string,
  roles: readonly Omit<RoleOverrideRow, "imodel_id">[],
  users: readonly Omit<UserOverrideRow, "imodel_id">[],
): IModelOverrides {
  return {
    roles: roles.map((r) => ({ iModelId, roleId: r.role_id, permissions: permissionsOf(r.permissions) })),
    users: users.map((r) => ({ iModelId, userId: r.user_id, permissions: permissionsOf(r.permissions) })),
  };
}

/** The overrides of several iModels by iModel id; an iModel without any has no entry. */
export function overridesByIModel(roles: readonly RoleOverrideRow[], users: readonly UserOverrideRow[]): Map<string, IModelOverrides> {
  const result = new Map<string, IModelOverrides>();
  const entry = (id: string) => {
    let o = result.get(id);
    if (!o) result.set(id, (o = { roles: [], users: [] }));
    return o;
  };
  for (const r of roles) entry(r.imodel_id).roles.push({ iModelId: r.imodel_id, roleId: r.role_id, permissions: permissionsOf(r.permissions) });
  for (const u of users) entry(u.imodel_id).users.push({ iModelId: u.imodel_id, userId: u.user_id, permissions: permissionsOf(u.permissions) });
  return result;
}
