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
  numbered,
  overridesByIModel,
  overridesOf,
  roleOf,
  updateITwinParams,
} from "../sql/access-rows.js";
import type { PgPool } from "./pg-database.js";
import type { PgQueryable } from "./pg-side.js";
import { PgSide } from "./pg-side.js";

/** The advisory-lock key that serializes an iTwin's read-then-write steps (creation, role rename, member grants). */
const iTwinKey = (iTwinId: string) => `modelhub access ${iTwinId}`;
/** Serializes every creation, rename and deletion of iTwins (their names and numbers are unique hub-wide). */
const ITWIN_NAMES_KEY = "modelhub access itwin names";

/**
 * The access tables in the hub's PostgreSQL database. The steps that read before they write (createITwin's "no such
 * id, name or number yet", updateRole's name check, addMemberRoles's "the role exists", deleteRole's cascade, the
 * last-Owner check of removeMemberRoles) hold a
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

  async createITwin(iTwin: ITwinRecord, ownerRole: RoleRecord): Promise<ITwinWrite | "exists"> {
    return this.#side.transaction(async (db) => {
      if ((await db.query("SELECT 1 FROM itwins WHERE id = $1", [iTwin.id])).rowCount) return "exists";
      const clash = clashOf((await db.query<{ name: unknown }>(numbered(ITWIN_CLASH), iTwinClashParams(iTwin))).rows[0]);
      if (clash) return clash;
      await db.query(numbered(INSERT_ITWIN), insertITwinParams(iTwin));
      await insertRole(db, { ...ownerRole, owner: true });
      await db.query("INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES ($1, $2, $3, $4)", [iTwin.id, iTwin.createdBy, ownerRole.id, iTwin.createdAt]);
      return "done";
    }, [iTwinKey(iTwin.id), ITWIN_NAMES_KEY]);
  }

  async getITwin(iTwinId: string): Promise<ITwinRecord | undefined> {
    const row = (await this.#side.query<ITwinRow>("SELECT * FROM itwins WHERE id = $1", [iTwinId])).rows[0];
    return row && iTwinOf(row);
  }

  async listITwins(query: ITwinQuery): Promise<ITwinRecord[]> {
    const { sql, params } = listITwinsSql(query);
    // COLLATE "C": the same byte order as SQLite's, whatever the database's default collation.
    const ordered = numbered(sql).replace("ORDER BY t.display_name_key,", 'ORDER BY t.display_name_key COLLATE "C",');
    return (await this.#side.query<ITwinRow>(ordered, params)).rows.map(iTwinOf);
  }

  async updateITwin(iTwin: ITwinRecord): Promise<ITwinWrite | "notFound"> {
    return this.#side.transaction(async (db) => {
      const clash = clashOf((await db.query<{ name: unknown }>(numbered(ITWIN_CLASH), iTwinClashParams(iTwin))).rows[0]);
      if (clash) return clash;
      return (await db.query(numbered(UPDATE_ITWIN), updateITwinParams(iTwin))).rowCount === 1 ? "done" : "notFound";
    }, [iTwinKey(iTwin.id), ITWIN_NAMES_KEY]);
  }

  async deleteITwin(iTwinId: string, at: string): Promise<"done" | "notFound" | { iModels: number }> {
    return this.#side.transaction(async (db) => {
      // The metadata store's lock for iModel creation in this iTwin (PgMetadataStore scopeKeys): an iModel created
      // meanwhile commits either before the count below, or after the iTwin is marked deleted, and is then refused.
      await db.query("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || $1, 0))", [`modelhub:itwin:${iTwinId}`]);
      if (!(await db.query("SELECT 1 FROM itwins WHERE id = $1 AND deleted_at IS NULL", [iTwinId])).rowCount) return "notFound";
      const n = Number((await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM imodels WHERE itwin_id = $1", [iTwinId])).rows[0]!.n);
      if (n > 0) return { iModels: n };
      await db.query("UPDATE itwins SET deleted_at = $1 WHERE id = $2", [at, iTwinId]);
      await db.query("DELETE FROM itwin_members WHERE itwin_id = $1", [iTwinId]);
      await db.query("DELETE FROM itwin_roles WHERE itwin_id = $1", [iTwinId]);
      return "done";
    }, [iTwinKey(iTwinId), ITWIN_NAMES_KEY]);
  }

  async discardITwin(iTwinId: string, createdBy: string): Promise<boolean> {
    return this.#side.transaction(async (db) => {
      // As deleteITwin: serialized with iModel creation in this iTwin.
      await db.query("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || $1, 0))", [`modelhub:itwin:${iTwinId}`]);
      const removed = await db.query(
        "DELETE FROM itwins WHERE id = $1 AND created_by = $2 AND deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM imodels WHERE itwin_id = $1)",
        [iTwinId, createdBy],
      );
      if (!removed.rowCount) return false;
      await db.query("DELETE FROM itwin_members WHERE itwin_id = $1", [iTwinId]);
      await db.query("DELETE FROM itwin_roles WHERE itwin_id = $1", [iTwinId]);
      return true;
    }, [iTwinKey(iTwinId), ITWIN_NAMES_KEY]);
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
    return this.#side.transaction(async (db) => {
      if ((await db.query("SELECT 1 FROM itwin_roles WHERE itwin_id = $1 AND display_name = $2", [role.iTwinId, role.displayName])).rowCount) return false;
      await insertRole(db, role);
      return true;
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

  async removeMemberRoles(iTwinId: string, userId: string, roleIds?: readonly string[]): Promise<number | "lastOwner"> {
    // Under the iTwin's lock: two Owners removing each other at once must not both see "another Owner is left".
    return this.#side
      .transaction(async (db) => {
        const result =
          roleIds === undefined
            ? await db.query("DELETE FROM itwin_members WHERE itwin_id = $1 AND user_id = $2", [iTwinId, userId])
            : await db.query("DELETE FROM itwin_members WHERE itwin_id = $1 AND user_id = $2 AND role_id = ANY($3::text[])", [iTwinId, userId, roleIds]);
        const removed = result.rowCount ?? 0;
        // Rolled back by throwing: the iTwin had an Owner before and must keep one.
        if (removed > 0 && (await ownerless(db, iTwinId))) throw new LastOwner();
        return removed;
      }, [iTwinKey(iTwinId)])
      .catch((err: unknown) => {
        if (err instanceof LastOwner) return "lastOwner" as const;
        throw err;
      });
  }

  async owners(iTwinId: string): Promise<string[]> {
    const rows = await this.#side.query<{ user_id: string }>(
      'SELECT m.user_id FROM itwin_members m JOIN itwin_roles r ON r.itwin_id = m.itwin_id AND r.id = m.role_id WHERE m.itwin_id = $1 AND r.owner = 1 ORDER BY m.user_id COLLATE "C"',
      [iTwinId],
    );
    return rows.rows.map((r) => r.user_id);
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

async function insertRole(db: PgQueryable, role: RoleRecord): Promise<void> {
  await db.query("INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions, owner) VALUES ($1, $2, $3, $4, $5, $6)", [
    role.iTwinId,
    role.id,
    role.displayName,
    role.description,
    JSON.stringify(canonical(role.permissions)),
    role.owner ? 1 : 0,
  ]);
}

/** True when the iTwin has an Owner role but nobody holds it. */
async function ownerless(db: PgQueryable, iTwinId: string): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 FROM itwin_roles r WHERE r.itwin_id = $1 AND r.owner = 1
      AND NOT EXISTS (SELECT 1 FROM itwin_members m WHERE m.itwin_id = r.itwin_id AND m.role_id = r.id)`,
    [iTwinId],
  );
  return (rows.rowCount ?? 0) > 0;
}

/** Thrown inside a transaction to roll it back: it would have left the iTwin without an Owner. */
class LastOwner extends Error {}
