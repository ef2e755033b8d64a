import type { Permission } from "@modelhub/protocol";
import { canonicalPermissions, parsePermission } from "@modelhub/protocol";
import type { ITwinClass, ITwinStatus, ITwinSubClass } from "@modelhub/protocol";
import type { IModelOverrides, ITwinQuery, ITwinRecord, MemberRecord, RoleRecord } from "../../ports/access-store.js";

/** A row of table `itwin_roles`; `permissions` is a JSON array of permission names. */
export interface RoleRow {
  itwin_id: string;
  id: string;
  display_name: string;
  description: string | null;
  permissions: string;
  /** 1 for the iTwin's built-in Owner role (PostgreSQL answers BIGINT as a string). */
  owner: number | string;
}

/** A row of table `itwins`. */
export interface ITwinRow {
  id: string;
  class: string;
  sub_class: string;
  type: string | null;
  number: string;
  display_name: string;
  status: string;
  geographic_location: string | null;
  iana_time_zone: string | null;
  created_at: string;
  created_by: string;
  modified_at: string;
  modified_by: string;
  deleted_at: string | null;
}

export function iTwinOf(row: ITwinRow): ITwinRecord {
  return {
    id: row.id,
    class: row.class as ITwinClass,
    subClass: row.sub_class as ITwinSubClass,
    type: row.type,
    number: row.number,
    displayName: row.display_name,
    status: row.status as ITwinStatus,
    geographicLocation: row.geographic_location,
    ianaTimeZone: row.iana_time_zone,
    createdAt: row.created_at,
    createdBy: row.created_by,
    modifiedAt: row.modified_at,
    modifiedBy: row.modified_by,
    deletedAt: row.deleted_at,
  };
}

/** How names and numbers are compared (unique, searched): case-insensitively, beyond ASCII. */
export const nameKey = (text: string) => text.toLowerCase();

/** `INSERT INTO itwins …` with `?` placeholders, and its parameters in order. */
export const INSERT_ITWIN = `INSERT INTO itwins (id, class, sub_class, type, number, number_key, display_name, display_name_key, status,
  geographic_location, iana_time_zone, created_at, created_by, modified_at, modified_by, deleted_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`;
export function insertITwinParams(t: ITwinRecord): unknown[] {
  return [
    t.id,
    t.class,
    t.subClass,
    t.type,
    t.number,
    nameKey(t.number),
    t.displayName,
    nameKey(t.displayName),
    t.status,
    t.geographicLocation,
    t.ianaTimeZone,
    t.createdAt,
    t.createdBy,
    t.modifiedAt,
    t.modifiedBy,
    t.deletedAt,
  ];
}

/** `UPDATE itwins …` of the changeable fields of a live iTwin (`?` placeholders), and its parameters. */
export const UPDATE_ITWIN = `UPDATE itwins SET class = ?, sub_class = ?, type = ?, number = ?, number_key = ?, display_name = ?, display_name_key = ?,
  status = ?, geographic_location = ?, iana_time_zone = ?, modified_at = ?, modified_by = ? WHERE id = ? AND deleted_at IS NULL`;
export function updateITwinParams(t: ITwinRecord): unknown[] {
  return [
    t.class,
    t.subClass,
    t.type,
    t.number,
    nameKey(t.number),
    t.displayName,
    nameKey(t.displayName),
    t.status,
    t.geographicLocation,
    t.ianaTimeZone,
    t.modifiedAt,
    t.modifiedBy,
    t.id,
  ];
}

/** Which unique name a live iTwin other than `id` already has, if any (one query: `?` placeholders). */
export const ITWIN_CLASH =
  "SELECT display_name_key = ? AS name FROM itwins WHERE deleted_at IS NULL AND id <> ? AND (display_name_key = ? OR number_key = ?) LIMIT 1";
export function iTwinClashParams(t: ITwinRecord): unknown[] {
  return [nameKey(t.displayName), t.id, nameKey(t.displayName), nameKey(t.number)];
}
export function clashOf(row: { name: unknown } | undefined): "nameTaken" | "numberTaken" | undefined {
  if (!row) return undefined;
  return row.name === true || row.name === 1 ? "nameTaken" : "numberTaken";
}

/**
 * `SELECT … FROM itwins` for a query, with `?` placeholders (LIKE patterns escape `\`, `%`, `_`); `byteOrder` is the
 * dialect's (names sort by bytes on both databases).
 */
export function listITwinsSql(q: ITwinQuery, byteOrder: string): { sql: string; params: unknown[] } {
  const where = ["t.deleted_at IS NULL"];
  const params: unknown[] = [];
  if (q.memberId !== undefined) {
    where.push("EXISTS (SELECT 1 FROM itwin_members m WHERE m.itwin_id = t.id AND m.user_id = ?)");
    params.push(q.memberId);
  }
  const anyOf = (column: string, values: readonly string[]) => {
    where.push(`${column} IN (${values.map(() => "?").join(", ")})`);
    params.push(...values);
  };
  if (q.subClasses && q.subClasses.length > 0) anyOf("t.sub_class", q.subClasses);
  if (q.statuses && q.statuses.length > 0) anyOf("t.status", q.statuses);
  else where.push("t.status <> 'Inactive'");
  if (q.type !== undefined) {
    where.push("t.type = ?");
    params.push(q.type);
  }
  if (q.displayName !== undefined) {
    where.push("t.display_name_key = ?");
    params.push(nameKey(q.displayName));
  }
  if (q.number !== undefined) {
    where.push("t.number_key = ?");
    params.push(nameKey(q.number));
  }
  if (q.search !== undefined) {
    const pattern = `%${nameKey(q.search).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push("(t.display_name_key LIKE ? ESCAPE '\\' OR t.number_key LIKE ? ESCAPE '\\')");
    params.push(pattern, pattern);
  }
  params.push(q.limit, q.offset);
  return {
    sql: `SELECT t.* FROM itwins t WHERE ${where.join(" AND ")} ORDER BY t.display_name_key${byteOrder}, t.id LIMIT ? OFFSET ?`,
    params,
  };
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
  return canonicalPermissions(parsed.flatMap((p) => (typeof p === "string" ? (parsePermission(p) ?? []) : [])));
}

export function roleOf(row: RoleRow): RoleRecord {
  return {
    iTwinId: row.itwin_id,
    id: row.id,
    displayName: row.display_name,
    description: row.description,
    permissions: permissionsOf(row.permissions),
    owner: Number(row.owner) === 1,
  };
}

/** One record per member, in the order of the rows' first appearance; a member's `addedAt` is that of its oldest role. */
export function membersOf(rows: MemberRow[]): MemberRecord[] {
  const byUser = new Map<string, MemberRecord>();
  for (const row of rows) {
    const member = byUser.get(row.user_id);
    if (member) {
      member.roleIds.push(row.role_id);
      if (row.added_at < member.addedAt) member.addedAt = row.added_at;
    } else
      byUser.set(row.user_id, {
        iTwinId: row.itwin_id,
        userId: row.user_id,
        roleIds: [row.role_id],
        addedAt: row.added_at,
      });
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
export function overridesByIModel(
  roles: readonly RoleOverrideRow[],
  users: readonly UserOverrideRow[],
): Map<string, IModelOverrides> {
  const result = new Map<string, IModelOverrides>();
  const entry = (id: string) => {
    let o = result.get(id);
    if (!o) result.set(id, (o = { roles: [], users: [] }));
    return o;
  };
  for (const r of roles)
    entry(r.imodel_id).roles.push({
      iModelId: r.imodel_id,
      roleId: r.role_id,
      permissions: permissionsOf(r.permissions),
    });
  for (const u of users)
    entry(u.imodel_id).users.push({
      iModelId: u.imodel_id,
      userId: u.user_id,
      permissions: permissionsOf(u.permissions),
    });
  return result;
}
