import type { Permission } from "../../domain/access/permissions.js";
import { canonical } from "../../domain/access/permissions.js";
import type { AccessStore, IModelOverrides, MemberRecord, RoleRecord } from "../../ports/access-store.js";
import type { MemberRow, RoleOverrideRow, RoleRow, UserOverrideRow } from "../sql/access-rows.js";
import { membersOf, overridesByIModel, overridesOf, roleOf } from "../sql/access-rows.js";
import type { PgPool } from "./pg-database.js";
import type { PgQueryable } from "./pg-side.js";
import { PgSide } from "./pg-side.js";

/** The advisory-lock key that serializes an iTwin's read-then-write steps (claim, role rename, member grants). */
const iTwinKey = (iTwinId: string) => `modelhub access ${iTwinId}`;

/**
 * The access tables in the hub's PostgreSQL database. The steps that read before they write (claimITwin's "no
 * member yet", updateRole's name check, addMemberRoles's "the role exists", deleteRole's cascade) hold a
 * transaction-scoped advisory lock on the iTwin, so they run one at a time per iTwin across every node — what
 * SQLite's single writer gives the SQLite adapter. Single-statement writes need no lock.
 */
export class PgAccessStore implements AccessStore {
  readonly #side: PgSide;

  private constructor(pool: PgPool) {
    this.#side = new PgSide(pool, "access store");
  }

  /** A store on `pool` (migrated by migratePg). Closing the store leaves the pool open. */
  static open(pool: PgPool): PgAccessStore {
    return new PgAccessStore(pool);
  }

  async listRoles(iTwinId: string): Promise<RoleRecord[]> {
    // COLLATE "C": the same byte order as SQLite's, whatever the database's default collation.
    const rows = await this.#side.query<RoleRow>('SELECT * FROM itwin_roles WHERE itwin_id = $1 ORDER BY display_name COLLATE "C", id', [iTwinId]);
    return rows.rows.map(roleOf);
  }

  async getRole(iTwinId: string, roleId: string): Promise<RoleRecord | undefined> {
    const row = await this.#side.query<RoleRow>("SELECT * FROM itwin_roles WHERE itwin_id = $1 AND id = $2", [iTwinId, roleId]);
    return row.rows[0] && roleOf(row.rows[0]);
  }

  async createRole(role: RoleRecord): Promise<boolean> {
    // Under the iTwin's lock too: claimITwin reads "no role of that name" before inserting one.
    return this.#side.transaction(async (db) => {
      const result = await db.query(
        "INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        [role.iTwinId, role.id, role.displayName, role.description, JSON.stringify(canonical(role.permissions))],
      );
      return result.rowCount === 1;
    }, [iTwinKey(role.iTwinId)]);
  }

  async updateRole(role: RoleRecord): Promise<boolean | "nameTaken"> {
    return this.#side.transaction(async (db) => {
      const clash = await db.query("SELECT 1 FROM itwin_roles WHERE itwin_id = $1 AND display_name = $2 AND id <> $3", [role.iTwinId, role.displayName, role.id]);
      if (clash.rowCount) return "nameTaken";
      const result = await db.query("UPDATE itwin_roles SET display_name = $1, description = $2, permissions = $3 WHERE itwin_id = $4 AND id = $5", [
        role.displayName,
        role.description,
        JSON.stringify(canonical(role.permissions)),
        role.iTwinId,
        role.id,
      ]);
      return result.rowCount === 1;
    }, [iTwinKey(role.iTwinId)]);
  }

  async deleteRole(iTwinId: string, roleId: string): Promise<boolean> {
    return this.#side.transaction(async (db) => {
      const result = await db.query("DELETE FROM itwin_roles WHERE itwin_id = $1 AND id = $2", [iTwinId, roleId]);
      if (result.rowCount === 0) return false;
      await db.query("DELETE FROM itwin_members WHERE itwin_id = $1 AND role_id = $2", [iTwinId, roleId]);
      // Role ids are random UUIDs: one names one role of one iTwin.
      await db.query("DELETE FROM imodel_role_permissions WHERE role_id = $1 AND imodel_id IN (SELECT id FROM imodels WHERE itwin_id = $2)", [roleId, iTwinId]);
      return true;
    }, [iTwinKey(iTwinId)]);
  }

  async listMembers(iTwinId: string): Promise<MemberRecord[]> {
    const rows = await this.#side.query<MemberRow>('SELECT * FROM itwin_members WHERE itwin_id = $1 ORDER BY user_id COLLATE "C", added_at, role_id', [iTwinId]);
    return membersOf(rows.rows);
  }

  async getMember(iTwinId: string, userId: string): Promise<MemberRecord | undefined> {
    const rows = await this.#side.query<MemberRow>("SELECT * FROM itwin_members WHERE itwin_id = $1 AND user_id = $2 ORDER BY added_at, role_id", [iTwinId, userId]);
    return membersOf(rows.rows)[0];
  }

  async rolesOf(iTwinId: string, userId: string): Promise<RoleRecord[]> {
    const rows = await this.#side.query<RoleRow>(
      `SELECT r.* FROM itwin_members m JOIN itwin_roles r ON r.itwin_id = m.itwin_id AND r.id = m.role_id
        WHERE m.itwin_id = $1 AND m.user_id = $2 ORDER BY r.display_name COLLATE "C", r.id`,
      [iTwinId, userId],
    );
    return rows.rows.map(roleOf);
  }

  async addMemberRoles(iTwinId: string, userId: string, roleIds: readonly string[], at: string): Promise<void> {
    await this.#side.transaction(async (db) => {
      for (const roleId of roleIds) {
        const known = await db.query("SELECT 1 FROM itwin_roles WHERE itwin_id = $1 AND id = $2", [iTwinId, roleId]);
        if (!known.rowCount) throw new Error(`role '${roleId}' does not exist on iTwin '${iTwinId}'`);
        await db.query("INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", [iTwinId, userId, roleId, at]);
      }
    }, [iTwinKey(iTwinId)]);
  }

  async removeMemberRoles(iTwinId: string, userId: string, roleIds?: readonly string[]): Promise<number> {
    const result =
      roleIds === undefined
        ? await this.#side.query("DELETE FROM itwin_members WHERE itwin_id = $1 AND user_id = $2", [iTwinId, userId])
        : await this.#side.query("DELETE FROM itwin_members WHERE itwin_id = $1 AND user_id = $2 AND role_id = ANY($3::text[])", [iTwinId, userId, roleIds]);
    return result.rowCount ?? 0;
  }

  async hasMembers(iTwinId: string): Promise<boolean> {
    return hasMember(this.#side, iTwinId);
  }

  async claimITwin(iTwinId: string, userId: string, ownerRole: RoleRecord, at: string): Promise<boolean> {
    return this.#side.transaction(async (db) => {
      if (await hasMember(db, iTwinId)) return false;
      const existing = await db.query<RoleRow>("SELECT * FROM itwin_roles WHERE itwin_id = $1 AND display_name = $2", [iTwinId, ownerRole.displayName]);
      let roleId = existing.rows[0]?.id;
      if (roleId === undefined) {
        await db.query("INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions) VALUES ($1, $2, $3, $4, $5)", [
          iTwinId,
          ownerRole.id,
          ownerRole.displayName,
          ownerRole.description,
          JSON.stringify(canonical(ownerRole.permissions)),
        ]);
        roleId = ownerRole.id;
      }
      await db.query("INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES ($1, $2, $3, $4)", [iTwinId, userId, roleId, at]);
      return true;
    }, [iTwinKey(iTwinId)]);
  }

  async iModelOverrides(iModelId: string): Promise<IModelOverrides> {
    const [roles, users] = await Promise.all([
      this.#side.query<Omit<RoleOverrideRow, "imodel_id">>(
        'SELECT role_id, permissions FROM imodel_role_permissions WHERE imodel_id = $1 ORDER BY role_id COLLATE "C"',
        [iModelId],
      ),
      this.#side.query<Omit<UserOverrideRow, "imodel_id">>(
        'SELECT user_id, permissions FROM imodel_user_permissions WHERE imodel_id = $1 ORDER BY user_id COLLATE "C"',
        [iModelId],
      ),
    ]);
    return overridesOf(iModelId, roles.rows, users.rows);
  }

  async iModelOverridesInITwin(iTwinId: string): Promise<Map<string, IModelOverrides>> {
    const [roles, users] = await Promise.all([
      this.#side.query<RoleOverrideRow>(
        "SELECT p.imodel_id, p.role_id, p.permissions FROM imodel_role_permissions p JOIN imodels i ON i.id = p.imodel_id WHERE i.itwin_id = $1",
        [iTwinId],
      ),
      this.#side.query<UserOverrideRow>(
        "SELECT p.imodel_id, p.user_id, p.permissions FROM imodel_user_permissions p JOIN imodels i ON i.id = p.imodel_id WHERE i.itwin_id = $1",
        [iTwinId],
      ),
    ]);
    return overridesByIModel(roles.rows, users.rows);
  }

  async setIModelRolePermissions(iModelId: string, roleId: string, permissions: readonly Permission[]): Promise<void> {
    if (permissions.length === 0) await this.#side.query("DELETE FROM imodel_role_permissions WHERE imodel_id = $1 AND role_id = $2", [iModelId, roleId]);
    else
      await this.#side.query(
        "INSERT INTO imodel_role_permissions (imodel_id, role_id, permissions) VALUES ($1, $2, $3) ON CONFLICT (imodel_id, role_id) DO UPDATE SET permissions = excluded.permissions",
        [iModelId, roleId, JSON.stringify(canonical(permissions))],
      );
  }

  async setIModelUserPermissions(iModelId: string, userId: string, permissions: readonly Permission[]): Promise<void> {
    if (permissions.length === 0) await this.#side.query("DELETE FROM imodel_user_permissions WHERE imodel_id = $1 AND user_id = $2", [iModelId, userId]);
    else
      await this.#side.query(
        "INSERT INTO imodel_user_permissions (imodel_id, user_id, permissions) VALUES ($1, $2, $3) ON CONFLICT (imodel_id, user_id) DO UPDATE SET permissions = excluded.permissions",
        [iModelId, userId, JSON.stringify(canonical(permissions))],
      );
  }

  async close(): Promise<void> {
    this.#side.close();
  }
}

async function hasMember(db: PgQueryable, iTwinId: string): Promise<boolean> {
  return ((await db.query("SELECT 1 FROM itwin_members WHERE itwin_id = $1 LIMIT 1", [iTwinId])).rowCount ?? 0) > 0;
}
