import type { Permission } from "@modelhub/protocol";
import { canonicalPermissions } from "@modelhub/protocol";
import { queueMembershipEvent } from "./webhook-outbox.js";
import type {
  AccessStore,
  IModelOverrides,
  ITwinQuery,
  ITwinRecord,
  ITwinWrite,
  MemberRecord,
  RoleRecord,
} from "../../ports/access-store.js";
import type { ITwinRow, MemberRow, RoleOverrideRow, RoleRow, UserOverrideRow } from "./access-rows.js";
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
} from "./access-rows.js";
import type { SideDatabase, SideSerialization } from "./side-database.js";
import type { SqlSession } from "./sql-session.js";

/** The serialization key of an iTwin's read-then-write steps (creation, role rename, member grants). */
const iTwinKey = (iTwinId: string) => `modelhub access ${iTwinId}`;
/** Serializes every creation, rename and deletion of iTwins (their names and numbers are unique hub-wide). */
const ITWIN_NAMES_KEY = "modelhub access itwin names";

/**
 * The access tables (iTwins, roles, members, per-iModel permissions) of the metadata database, for SQLite and
 * PostgreSQL alike. The steps that read before they write (createITwin's "no such id, name or number yet",
 * updateRole's name check, addMemberRoles's "the role exists", deleteRole's cascade, the last-Owner check of
 * removeMemberRoles) are transactions serialized on the iTwin's key, so they run one at a time per iTwin across every
 * node (SQLite's single writer gives that by itself). Single-statement writes need no transaction.
 */
export class SqlAccessStore implements AccessStore {
  constructor(private readonly db: SideDatabase) {}

  async createITwin(iTwin: ITwinRecord, ownerRole: RoleRecord): Promise<ITwinWrite | "exists"> {
    return this.db.transaction(async (tx) => {
      if (await tx.get("SELECT 1 FROM itwins WHERE id = ?", iTwin.id)) return "exists";
      const clash = clashOf(await tx.get<{ name: unknown }>(ITWIN_CLASH, ...iTwinClashParams(iTwin)));
      if (clash) return clash;
      await tx.run(INSERT_ITWIN, ...insertITwinParams(iTwin));
      await insertRole(tx, { ...ownerRole, owner: true });
      await tx.run(
        "INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES (?, ?, ?, ?)",
        iTwin.id,
        iTwin.createdBy,
        ownerRole.id,
        iTwin.createdAt,
      );
      return "done";
    }, namesOf(iTwin.id));
  }

  async getITwin(iTwinId: string): Promise<ITwinRecord | undefined> {
    const row = await this.db.session.get<ITwinRow>("SELECT * FROM itwins WHERE id = ?", iTwinId);
    return row && iTwinOf(row);
  }

  async listITwins(query: ITwinQuery): Promise<ITwinRecord[]> {
    const { sql, params } = listITwinsSql(query, this.db.dialect.byteOrder);
    return (await this.db.session.all<ITwinRow>(sql, ...params)).map(iTwinOf);
  }

  async updateITwin(iTwin: ITwinRecord): Promise<ITwinWrite | "notFound"> {
    return this.db.transaction(async (tx) => {
      const clash = clashOf(await tx.get<{ name: unknown }>(ITWIN_CLASH, ...iTwinClashParams(iTwin)));
      if (clash) return clash;
      return (await tx.run(UPDATE_ITWIN, ...updateITwinParams(iTwin))) === 1 ? "done" : "notFound";
    }, namesOf(iTwin.id));
  }

  async deleteITwin(iTwinId: string, at: string): Promise<"done" | "notFound" | { iModels: number }> {
    // Serialized with the metadata store's iModel creation in this iTwin: an iModel created meanwhile commits either
    // before the count below, or after the iTwin is marked deleted, and is then refused (MetadataReader.iTwinDeleted).
    return this.db.transaction(
      async (tx) => {
        if (!(await tx.get("SELECT 1 FROM itwins WHERE id = ? AND deleted_at IS NULL", iTwinId))) return "notFound";
        const n = Number(
          (await tx.get<{ n: number | string }>("SELECT COUNT(*) AS n FROM imodels WHERE itwin_id = ?", iTwinId))!.n,
        );
        if (n > 0) return { iModels: n };
        await tx.run("UPDATE itwins SET deleted_at = ? WHERE id = ?", at, iTwinId);
        await tx.run("DELETE FROM itwin_members WHERE itwin_id = ?", iTwinId);
        await tx.run("DELETE FROM itwin_roles WHERE itwin_id = ?", iTwinId);
        return "done";
      },
      { ...namesOf(iTwinId), metadataITwinId: iTwinId },
    );
  }

  async discardITwin(iTwinId: string, createdBy: string): Promise<boolean> {
    // As deleteITwin: serialized with iModel creation in this iTwin.
    return this.db.transaction(
      async (tx) => {
        const removed = await tx.run(
          "DELETE FROM itwins WHERE id = ? AND created_by = ? AND deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM imodels WHERE itwin_id = ?)",
          iTwinId,
          createdBy,
          iTwinId,
        );
        if (removed === 0) return false;
        await tx.run("DELETE FROM itwin_members WHERE itwin_id = ?", iTwinId);
        await tx.run("DELETE FROM itwin_roles WHERE itwin_id = ?", iTwinId);
        return true;
      },
      { ...namesOf(iTwinId), metadataITwinId: iTwinId },
    );
  }

  async listRoles(iTwinId: string): Promise<RoleRecord[]> {
    const rows = await this.db.session.all<RoleRow>(
      `SELECT * FROM itwin_roles WHERE itwin_id = ? ORDER BY display_name${this.db.dialect.byteOrder}, id`,
      iTwinId,
    );
    return rows.map(roleOf);
  }

  async getRole(iTwinId: string, roleId: string): Promise<RoleRecord | undefined> {
    const row = await this.db.session.get<RoleRow>(
      "SELECT * FROM itwin_roles WHERE itwin_id = ? AND id = ?",
      iTwinId,
      roleId,
    );
    return row && roleOf(row);
  }

  async createRole(role: RoleRecord): Promise<boolean> {
    return this.db.transaction(
      async (tx) => {
        if (
          await tx.get(
            "SELECT 1 FROM itwin_roles WHERE itwin_id = ? AND display_name = ?",
            role.iTwinId,
            role.displayName,
          )
        )
          return false;
        await insertRole(tx, role);
        return true;
      },
      { keys: [iTwinKey(role.iTwinId)] },
    );
  }

  async updateRole(role: RoleRecord): Promise<boolean | "nameTaken"> {
    return this.db.transaction(
      async (tx) => {
        if (
          await tx.get(
            "SELECT 1 FROM itwin_roles WHERE itwin_id = ? AND display_name = ? AND id <> ?",
            role.iTwinId,
            role.displayName,
            role.id,
          )
        )
          return "nameTaken";
        const changed = await tx.run(
          "UPDATE itwin_roles SET display_name = ?, description = ?, permissions = ? WHERE itwin_id = ? AND id = ?",
          role.displayName,
          role.description,
          JSON.stringify(canonicalPermissions(role.permissions)),
          role.iTwinId,
          role.id,
        );
        return changed === 1;
      },
      { keys: [iTwinKey(role.iTwinId)] },
    );
  }

  async deleteRole(iTwinId: string, roleId: string): Promise<boolean> {
    return this.db.transaction(
      async (tx) => {
        if ((await tx.run("DELETE FROM itwin_roles WHERE itwin_id = ? AND id = ?", iTwinId, roleId)) === 0)
          return false;
        await tx.run("DELETE FROM itwin_members WHERE itwin_id = ? AND role_id = ?", iTwinId, roleId);
        // Role ids are random UUIDs: one names one role of one iTwin.
        await tx.run(
          "DELETE FROM imodel_role_permissions WHERE role_id = ? AND imodel_id IN (SELECT id FROM imodels WHERE itwin_id = ?)",
          roleId,
          iTwinId,
        );
        return true;
      },
      { keys: [iTwinKey(iTwinId)] },
    );
  }

  async listMembers(iTwinId: string): Promise<MemberRecord[]> {
    const rows = await this.db.session.all<MemberRow>(
      `SELECT * FROM itwin_members WHERE itwin_id = ? ORDER BY user_id${this.db.dialect.byteOrder}, added_at, role_id`,
      iTwinId,
    );
    return membersOf(rows);
  }

  async getMember(iTwinId: string, userId: string): Promise<MemberRecord | undefined> {
    const rows = await this.db.session.all<MemberRow>(
      "SELECT * FROM itwin_members WHERE itwin_id = ? AND user_id = ? ORDER BY added_at, role_id",
      iTwinId,
      userId,
    );
    return membersOf(rows)[0];
  }

  async rolesOf(iTwinId: string, userId: string): Promise<RoleRecord[]> {
    const rows = await this.db.session.all<RoleRow>(
      `SELECT r.* FROM itwin_members m JOIN itwin_roles r ON r.itwin_id = m.itwin_id AND r.id = m.role_id
        WHERE m.itwin_id = ? AND m.user_id = ? ORDER BY r.display_name${this.db.dialect.byteOrder}, r.id`,
      iTwinId,
      userId,
    );
    return rows.map(roleOf);
  }

  async addMemberRoles(iTwinId: string, userId: string, roleIds: readonly string[], at: string, by?: string) {
    await this.db.transaction(
      async (tx) => {
        const was = await tx.get("SELECT 1 FROM itwin_members WHERE itwin_id = ? AND user_id = ?", iTwinId, userId);
        for (const roleId of roleIds) {
          if (!(await tx.get("SELECT 1 FROM itwin_roles WHERE itwin_id = ? AND id = ?", iTwinId, roleId)))
            throw new Error(`role '${roleId}' does not exist on iTwin '${iTwinId}'`);
          const added = await tx.run(
            "INSERT INTO itwin_members (itwin_id, user_id, role_id, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            iTwinId,
            userId,
            roleId,
            at,
          );
          const event = was ? "accessControl.roleAssigned.v1" : "accessControl.memberAdded.v1";
          if (added > 0) await queueMembershipEvent(tx, event, { iTwinId, memberId: userId, by, roleId });
        }
      },
      { keys: [iTwinKey(iTwinId)] },
    );
  }

  async removeMemberRoles(iTwinId: string, userId: string, roleIds?: readonly string[], by?: string) {
    // Under the iTwin's key: two Owners removing each other at once must not both see "another Owner is left".
    return this.db
      .transaction(
        async (tx) => {
          const removed =
            roleIds === undefined
              ? await tx.run("DELETE FROM itwin_members WHERE itwin_id = ? AND user_id = ?", iTwinId, userId)
              : await tx.run(
                  `DELETE FROM itwin_members WHERE itwin_id = ? AND user_id = ? AND role_id IN (SELECT value FROM ${this.db.dialect.stringList("r")})`,
                  iTwinId,
                  userId,
                  JSON.stringify(roleIds),
                );
          // Rolled back by throwing: the iTwin had an Owner before and must keep one.
          if (removed > 0 && (await ownerless(tx, iTwinId))) throw new LastOwner();
          if (removed > 0 && roleIds === undefined)
            await queueMembershipEvent(tx, "accessControl.memberRemoved.v1", { iTwinId, memberId: userId, by });
          return removed;
        },
        { keys: [iTwinKey(iTwinId)] },
      )
      .catch((err: unknown) => {
        if (err instanceof LastOwner) return "lastOwner" as const;
        throw err;
      });
  }

  async owners(iTwinId: string): Promise<string[]> {
    return this.db.session.column<string>(
      `SELECT m.user_id FROM itwin_members m JOIN itwin_roles r ON r.itwin_id = m.itwin_id AND r.id = m.role_id
        WHERE m.itwin_id = ? AND r.owner = 1 ORDER BY m.user_id${this.db.dialect.byteOrder}`,
      iTwinId,
    );
  }

  async iModelOverrides(iModelId: string): Promise<IModelOverrides> {
    const order = this.db.dialect.byteOrder;
    const roles = await this.db.session.all<Omit<RoleOverrideRow, "imodel_id">>(
      `SELECT role_id, permissions FROM imodel_role_permissions WHERE imodel_id = ? ORDER BY role_id${order}`,
      iModelId,
    );
    const users = await this.db.session.all<Omit<UserOverrideRow, "imodel_id">>(
      `SELECT user_id, permissions FROM imodel_user_permissions WHERE imodel_id = ? ORDER BY user_id${order}`,
      iModelId,
    );
    return overridesOf(iModelId, roles, users);
  }

  async iModelOverridesInITwin(iTwinId: string): Promise<Map<string, IModelOverrides>> {
    const roles = await this.db.session.all<RoleOverrideRow>(
      "SELECT p.imodel_id, p.role_id, p.permissions FROM imodel_role_permissions p JOIN imodels i ON i.id = p.imodel_id WHERE i.itwin_id = ?",
      iTwinId,
    );
    const users = await this.db.session.all<UserOverrideRow>(
      "SELECT p.imodel_id, p.user_id, p.permissions FROM imodel_user_permissions p JOIN imodels i ON i.id = p.imodel_id WHERE i.itwin_id = ?",
      iTwinId,
    );
    return overridesByIModel(roles, users);
  }

  async setIModelRolePermissions(iModelId: string, roleId: string, permissions: readonly Permission[]): Promise<void> {
    if (permissions.length === 0)
      await this.db.session.run(
        "DELETE FROM imodel_role_permissions WHERE imodel_id = ? AND role_id = ?",
        iModelId,
        roleId,
      );
    else
      await this.db.session.run(
        "INSERT INTO imodel_role_permissions (imodel_id, role_id, permissions) VALUES (?, ?, ?) ON CONFLICT (imodel_id, role_id) DO UPDATE SET permissions = excluded.permissions",
        iModelId,
        roleId,
        JSON.stringify(canonicalPermissions(permissions)),
      );
  }

  async setIModelUserPermissions(iModelId: string, userId: string, permissions: readonly Permission[]): Promise<void> {
    if (permissions.length === 0)
      await this.db.session.run(
        "DELETE FROM imodel_user_permissions WHERE imodel_id = ? AND user_id = ?",
        iModelId,
        userId,
      );
    else
      await this.db.session.run(
        "INSERT INTO imodel_user_permissions (imodel_id, user_id, permissions) VALUES (?, ?, ?) ON CONFLICT (imodel_id, user_id) DO UPDATE SET permissions = excluded.permissions",
        iModelId,
        userId,
        JSON.stringify(canonicalPermissions(permissions)),
      );
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Steps that create, rename or delete an iTwin: its own key, and the one of every iTwin's names and numbers. */
function namesOf(iTwinId: string): SideSerialization {
  return { keys: [iTwinKey(iTwinId), ITWIN_NAMES_KEY] };
}

async function insertRole(tx: SqlSession, role: RoleRecord): Promise<void> {
  await tx.run(
    "INSERT INTO itwin_roles (itwin_id, id, display_name, description, permissions, owner) VALUES (?, ?, ?, ?, ?, ?)",
    role.iTwinId,
    role.id,
    role.displayName,
    role.description,
    JSON.stringify(canonicalPermissions(role.permissions)),
    role.owner ? 1 : 0,
  );
}

/** True when the iTwin has an Owner role but nobody holds it. */
async function ownerless(tx: SqlSession, iTwinId: string): Promise<boolean> {
  const row = await tx.get(
    `SELECT 1 FROM itwin_roles r WHERE r.itwin_id = ? AND r.owner = 1
      AND NOT EXISTS (SELECT 1 FROM itwin_members m WHERE m.itwin_id = r.itwin_id AND m.role_id = r.id)`,
    iTwinId,
  );
  return row !== undefined;
}

/** Thrown inside a transaction to roll it back: it would have left the iTwin without an Owner. */
class LastOwner extends Error {}
