import type { Permission } from "../../domain/access/permissions.js";
import { canonical } from "../../domain/access/permissions.js";
import type { AccessStore, IModelOverrides, ITwinQuery, ITwinRecord, ITwinWrite, MemberRecord, RoleRecord } from "../../ports/access-store.js";
import type { ITwinRow, MemberRow, RoleOverrideRow, RoleRow, UserOverrideRow } from "../sql/access-rows.js";
import {
  INSERT_ITWIN,
  ITWIN_CLASH,
  UPDATE_ITWIN,
  clashOf,
  iTwinClashParams,
  iTwinOf,
  insertITwinParams,
  listITwinsSql,
  membersOf,
  overridesByIModel,
  overridesOf,
  roleOf,
  updateITwinParams,
} from "../sql/access-rows.js";
import { SideConnection, withBusyRetry } from "./sqlite-database.js";

/**
 * The access tables in the metadata database file, on a connection of its own (like SqliteJobQueue): every method
 * is a few synchronous statements, writes are one `BEGIN IMMEDIATE` transaction each and wait for the write lock
 * asynchronously ({@link withBusyRetry}), so they never stall the metadata store's transaction in flight.
 */
export class SqliteAccessStore implements AccessStore {
  readonly #connection: SideConnection;

  private constructor(path: string) {
    this.#connection = new SideConnection(path, "access store");
  }

  static open(path: string): SqliteAccessStore {
    return new SqliteAccessStore(path);
  }

  async createITwin(iTwin: ITwinRecord, ownerRole: RoleRecord): Promise<ITwinWrite | "exists"> {
    return this.#write(() => {
      if (this.#connection.statement("SELECT 1 FROM itwins WHERE id = ?").get(iTwin.id)) return "exists";
      const clash = clashOf(this.#connection.statement(ITWIN_CLASH).get(...iTwinClashParams(iTwin)) as { name: unknown } | undefined);
      if (clash) return clash;
      this.#connection.statement(INSERT_ITWIN).run(...insertITwinParams(iTwin));
      this.#insertRole({ ...ownerRole, owner: true });
      this.#connection.statement("INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES (?, ?, ?, ?)").run(iTwin.id, iTwin.createdBy, ownerRole.id, iTwin.createdAt);
      return "done";
    });
  }

  async getITwin(iTwinId: string): Promise<ITwinRecord | undefined> {
    return this.#read(() => {
      const row = this.#connection.statement("SELECT * FROM itwins WHERE id = ?").get(iTwinId) as ITwinRow | undefined;
      return row ? iTwinOf(row) : undefined;
    });
  }

  async listITwins(query: ITwinQuery): Promise<ITwinRecord[]> {
    const { sql, params } = listITwinsSql(query);
    // Each filter combination is its own SQL text: prepared once and kept, like every other statement here.
    return this.#read(() => (this.#connection.statement(sql).all(...params) as ITwinRow[]).map(iTwinOf));
  }

  async updateITwin(iTwin: ITwinRecord): Promise<ITwinWrite | "notFound"> {
    return this.#write(() => {
      const clash = clashOf(this.#connection.statement(ITWIN_CLASH).get(...iTwinClashParams(iTwin)) as { name: unknown } | undefined);
      if (clash) return clash;
      return this.#connection.statement(UPDATE_ITWIN).run(...updateITwinParams(iTwin)).changes === 1 ? "done" : "notFound";
    });
  }

  async deleteITwin(iTwinId: string, at: string): Promise<"done" | "notFound" | { iModels: number }> {
    // One write transaction: an iModel created in this iTwin commits either before (counted here) or after (and
    // then finds the iTwin deleted, see the metadata store's iTwinDeleted).
    return this.#write(() => {
      if (!this.#connection.statement("SELECT 1 FROM itwins WHERE id = ? AND deleted_at IS NULL").get(iTwinId)) return "notFound";
      const { n } = this.#connection.statement("SELECT COUNT(*) AS n FROM imodels WHERE itwin_id = ?").get(iTwinId) as { n: number };
      if (n > 0) return { iModels: n };
      this.#connection.statement("UPDATE itwins SET deleted_at = ? WHERE id = ?").run(at, iTwinId);
      this.#connection.statement("DELETE FROM itwin_members WHERE itwin_id = ?").run(iTwinId);
      this.#connection.statement("DELETE FROM itwin_roles WHERE itwin_id = ?").run(iTwinId);
      return "done";
    });
  }

  async discardITwin(iTwinId: string, createdBy: string): Promise<boolean> {
    return this.#write(() => {
      const removed = this.#connection
        .statement("DELETE FROM itwins WHERE id = ? AND created_by = ? AND deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM imodels WHERE itwin_id = ?)")
        .run(iTwinId, createdBy, iTwinId).changes;
      if (removed === 0) return false;
      this.#connection.statement("DELETE FROM itwin_members WHERE itwin_id = ?").run(iTwinId);
      this.#connection.statement("DELETE FROM itwin_roles WHERE itwin_id = ?").run(iTwinId);
      return true;
    });
  }

  #insertRole(role: RoleRecord): void {
    this.#connection
      .statement("INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions, owner) VALUES (?, ?, ?, ?, ?, ?)")
      .run(role.iTwinId, role.id, role.displayName, role.description, JSON.stringify(canonical(role.permissions)), role.owner ? 1 : 0);
  }

  async listRoles(iTwinId: string): Promise<RoleRecord[]> {
    return this.#read(() =>
      (this.#connection.statement("SELECT * FROM itwin_roles WHERE itwin_id = ? ORDER BY display_name, id").all(iTwinId) as RoleRow[]).map(roleOf),
    );
  }

  async getRole(iTwinId: string, roleId: string): Promise<RoleRecord | undefined> {
    return this.#read(() => {
      const row = this.#connection.statement("SELECT * FROM itwin_roles WHERE itwin_id = ? AND id = ?").get(iTwinId, roleId) as RoleRow | undefined;
      return row ? roleOf(row) : undefined;
    });
  }

  async createRole(role: RoleRecord): Promise<boolean> {
    return this.#write(() => {
      if (this.#connection.statement("SELECT 1 FROM itwin_roles WHERE itwin_id = ? AND display_name = ?").get(role.iTwinId, role.displayName)) return false;
      this.#insertRole(role);
      return true;
    });
  }

  async updateRole(role: RoleRecord): Promise<boolean | "nameTaken"> {
    return this.#write(() => {
      const clash = this.#connection
        .statement("SELECT 1 FROM itwin_roles WHERE itwin_id = ? AND display_name = ? AND id <> ?")
        .get(role.iTwinId, role.displayName, role.id);
      if (clash) return "nameTaken";
      const result = this.#connection
        .statement("UPDATE itwin_roles SET display_name = ?, description = ?, permissions = ? WHERE itwin_id = ? AND id = ?")
        .run(role.displayName, role.description, JSON.stringify(canonical(role.permissions)), role.iTwinId, role.id);
      return result.changes === 1;
    });
  }

  async deleteRole(iTwinId: string, roleId: string): Promise<boolean> {
    return this.#write(() => {
      const result = this.#connection.statement("DELETE FROM itwin_roles WHERE itwin_id = ? AND id = ?").run(iTwinId, roleId);
      if (result.changes === 0) return false;
      this.#connection.statement("DELETE FROM itwin_members WHERE itwin_id = ? AND role_id = ?").run(iTwinId, roleId);
      // Role ids are random UUIDs: one names one role of one iTwin.
      this.#connection
        .statement("DELETE FROM imodel_role_permissions WHERE role_id = ? AND imodel_id IN (SELECT id FROM imodels WHERE itwin_id = ?)")
        .run(roleId, iTwinId);
      return true;
    });
  }

  async listMembers(iTwinId: string): Promise<MemberRecord[]> {
    return this.#read(() =>
      membersOf(this.#connection.statement("SELECT * FROM itwin_members WHERE itwin_id = ? ORDER BY user_id, added_at, role_id").all(iTwinId) as MemberRow[]),
    );
  }

  async getMember(iTwinId: string, userId: string): Promise<MemberRecord | undefined> {
    return this.#read(
      () => membersOf(this.#connection.statement("SELECT * FROM itwin_members WHERE itwin_id = ? AND user_id = ? ORDER BY added_at, role_id").all(iTwinId, userId) as MemberRow[])[0],
    );
  }

  async rolesOf(iTwinId: string, userId: string): Promise<RoleRecord[]> {
    return this.#read(() =>
      (
        this.#connection
          .statement(
            `SELECT r.* FROM itwin_members m JOIN itwin_roles r ON r.itwin_id = m.itwin_id AND r.id = m.role_id
              WHERE m.itwin_id = ? AND m.user_id = ? ORDER BY r.display_name, r.id`,
          )
          .all(iTwinId, userId) as RoleRow[]
      ).map(roleOf),
    );
  }

  async addMemberRoles(iTwinId: string, userId: string, roleIds: readonly string[], at: string): Promise<void> {
    await this.#write(() => {
      const known = this.#connection.statement("SELECT 1 FROM itwin_roles WHERE itwin_id = ? AND id = ?");
      const insert = this.#connection.statement("INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
      for (const roleId of roleIds) {
        if (!known.get(iTwinId, roleId)) throw new Error(`role '${roleId}' does not exist on iTwin '${iTwinId}'`);
        insert.run(iTwinId, userId, roleId, at);
      }
    });
  }

  async removeMemberRoles(iTwinId: string, userId: string, roleIds?: readonly string[]): Promise<number | "lastOwner"> {
    return this.#write(() => {
      let removed: number;
      if (roleIds === undefined) removed = this.#connection.statement("DELETE FROM itwin_members WHERE itwin_id = ? AND user_id = ?").run(iTwinId, userId).changes;
      else {
        const remove = this.#connection.statement("DELETE FROM itwin_members WHERE itwin_id = ? AND user_id = ? AND role_id = ?");
        removed = 0;
        for (const roleId of roleIds) removed += remove.run(iTwinId, userId, roleId).changes;
      }
      // Undone by throwing out of the transaction: the iTwin had an Owner before and must keep one.
      if (removed > 0 && this.#ownerless(iTwinId)) throw new LastOwner();
      return removed;
    }).catch((err: unknown) => {
      if (err instanceof LastOwner) return "lastOwner" as const;
      throw err;
    });
  }

  /** True when the iTwin has an Owner role but nobody holds it. */
  #ownerless(iTwinId: string): boolean {
    return (
      this.#connection
        .statement(
          `SELECT 1 FROM itwin_roles r WHERE r.itwin_id = ? AND r.owner = 1
            AND NOT EXISTS (SELECT 1 FROM itwin_members m WHERE m.itwin_id = r.itwin_id AND m.role_id = r.id)`,
        )
        .get(iTwinId) !== undefined
    );
  }

  async owners(iTwinId: string): Promise<string[]> {
    return this.#read(() =>
      (
        this.#connection
          .statement("SELECT m.user_id FROM itwin_members m JOIN itwin_roles r ON r.itwin_id = m.itwin_id AND r.id = m.role_id WHERE m.itwin_id = ? AND r.owner = 1 ORDER BY m.user_id")
          .all(iTwinId) as { user_id: string }[]
      ).map((r) => r.user_id),
    );
  }

  async iModelOverrides(iModelId: string): Promise<IModelOverrides> {
    return this.#read(() => {
      const roles = this.#connection
        .statement("SELECT role_id, permissions FROM imodel_role_permissions WHERE imodel_id = ? ORDER BY role_id")
        .all(iModelId) as Omit<RoleOverrideRow, "imodel_id">[];
      const users = this.#connection
        .statement("SELECT user_id, permissions FROM imodel_user_permissions WHERE imodel_id = ? ORDER BY user_id")
        .all(iModelId) as Omit<UserOverrideRow, "imodel_id">[];
      return overridesOf(iModelId, roles, users);
    });
  }

  async iModelOverridesInITwin(iTwinId: string): Promise<Map<string, IModelOverrides>> {
    return this.#read(() => {
      const roles = this.#connection
        .statement("SELECT p.imodel_id, p.role_id, p.permissions FROM imodel_role_permissions p JOIN imodels i ON i.id = p.imodel_id WHERE i.itwin_id = ?")
        .all(iTwinId) as RoleOverrideRow[];
      const users = this.#connection
        .statement("SELECT p.imodel_id, p.user_id, p.permissions FROM imodel_user_permissions p JOIN imodels i ON i.id = p.imodel_id WHERE i.itwin_id = ?")
        .all(iTwinId) as UserOverrideRow[];
      return overridesByIModel(roles, users);
    });
  }

  async setIModelRolePermissions(iModelId: string, roleId: string, permissions: readonly Permission[]): Promise<void> {
    await this.#write(() => {
      if (permissions.length === 0) this.#connection.statement("DELETE FROM imodel_role_permissions WHERE imodel_id = ? AND role_id = ?").run(iModelId, roleId);
      else
        this.#connection
          .statement("INSERT INTO imodel_role_permissions (imodel_id, role_id, permissions) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET permissions = excluded.permissions")
          .run(iModelId, roleId, JSON.stringify(canonical(permissions)));
    });
  }

  async setIModelUserPermissions(iModelId: string, userId: string, permissions: readonly Permission[]): Promise<void> {
    await this.#write(() => {
      if (permissions.length === 0) this.#connection.statement("DELETE FROM imodel_user_permissions WHERE imodel_id = ? AND user_id = ?").run(iModelId, userId);
      else
        this.#connection
          .statement("INSERT INTO imodel_user_permissions (imodel_id, user_id, permissions) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET permissions = excluded.permissions")
          .run(iModelId, userId, JSON.stringify(canonical(permissions)));
    });
  }

  async close(): Promise<void> {
    this.#connection.close();
  }

  #read<T>(fn: () => T): Promise<T> {
    this.#connection.assertOpen();
    return withBusyRetry(fn);
  }

  /** One `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so the checks inside cannot go stale. */
  #write<T>(fn: () => T): Promise<T> {
    return this.#connection.write(fn);
  }
}

/** Thrown inside a write transaction to roll it back: it would have left the iTwin without an Owner. */
class LastOwner extends Error {}
