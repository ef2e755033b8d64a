// Changing who may do what: an iTwin's roles and members, and iModel-level grants, each change checked by the
// no-escalation rules of access-rules.ts.
import type { IModelOverrides, MemberRecord, RoleRecord } from "../../ports/access-store.js";
import type { Actor } from "../context.js";
import { invalidRequest } from "../errors.js";
import type { Permission } from "@modelhub/protocol";
import { PERMISSIONS, canonicalPermissions } from "@modelhub/protocol";
import { IMODEL_LEVEL_PERMISSIONS } from "./permissions.js";
import { checkName, checkPermissions, lastOwner, ownerRoleFixed, roleExists, sameSet } from "./access-checks.js";
import type { AccessScope } from "./access-rules.js";
import { AccessRules, accessNotFound } from "./access-rules.js";

/**
 * The hub's access control: the decisions of {@link AccessRules}, and the changes of roles, members and iModel grants.
 *
 * No escalation: nobody grants a permission they do not hold (nor a role that holds one), only Owners give or take
 * the Owner role, the last Owner stays, and an iModel grant is changed or removed only by someone holding at least
 * what its holder holds on the iTwin. In open mode everyone holds everything, so only the last-Owner rule bites.
 */
export class AccessService extends AccessRules {
  // ---- Roles ----------------------------------------------------------------------------------------------------

  listRoles(iTwinId: string): Promise<RoleRecord[]> {
    return this.store.listRoles(iTwinId);
  }

  async getRole(iTwinId: string, roleId: string): Promise<RoleRecord> {
    const role = await this.store.getRole(iTwinId, roleId);
    if (!role) throw accessNotFound.role();
    return role;
  }

  async createRole(
    by: Actor,
    iTwinId: string,
    input: { displayName: string; description: string | null; permissions: readonly string[] },
  ): Promise<RoleRecord> {
    const role: RoleRecord = {
      iTwinId,
      id: this.newId(),
      displayName: checkName(input.displayName, "Cannot create Role."),
      description: input.description,
      permissions: checkPermissions(input.permissions, PERMISSIONS, "Cannot create Role."),
      owner: false,
    };
    await this.mayHandOut(by, role, "give");
    if (!(await this.store.createRole(role))) throw roleExists(role.displayName);
    return role;
  }

  async updateRole(
    by: Actor,
    iTwinId: string,
    roleId: string,
    input: { displayName?: string; description?: string | null; permissions?: readonly string[] },
  ): Promise<RoleRecord> {
    const current = await this.getRole(iTwinId, roleId);
    if (current.owner) throw ownerRoleFixed();
    const role: RoleRecord = {
      ...current,
      ...(input.displayName !== undefined ? { displayName: checkName(input.displayName, "Cannot update Role.") } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.permissions !== undefined
        ? { permissions: checkPermissions(input.permissions, PERMISSIONS, "Cannot update Role.") }
        : {}),
    };
    // What the role holds now is taken from its members, what it will hold is given to them: both must be the caller's.
    if (input.permissions !== undefined)
      await this.mayGrant(
        by,
        { iTwinId },
        canonicalPermissions([...current.permissions, ...role.permissions]),
        `change role '${current.displayName}'`,
      );
    const result = await this.store.updateRole(role);
    if (result === "nameTaken") throw roleExists(role.displayName);
    if (!result) throw accessNotFound.role();
    return role;
  }

  async deleteRole(by: Actor, iTwinId: string, roleId: string): Promise<void> {
    const role = await this.getRole(iTwinId, roleId);
    if (role.owner) throw ownerRoleFixed();
    await this.mayHandOut(by, role, "delete");
    if (!(await this.store.deleteRole(iTwinId, roleId))) throw accessNotFound.role();
  }

  // ---- Members --------------------------------------------------------------------------------------------------

  listMembers(iTwinId: string): Promise<MemberRecord[]> {
    return this.store.listMembers(iTwinId);
  }

  async getMember(iTwinId: string, userId: string): Promise<MemberRecord> {
    const member = await this.store.getMember(iTwinId, userId);
    if (!member) throw accessNotFound.member();
    return member;
  }

  owners(iTwinId: string): Promise<string[]> {
    return this.store.owners(iTwinId);
  }

  /** Gives roles to users (roles they already hold are kept once); every role must exist on the iTwin. */
  async addMembers(
    by: Actor,
    iTwinId: string,
    members: readonly { userId: string; roleIds: readonly string[] }[],
  ): Promise<MemberRecord[]> {
    const roles = new Map((await this.store.listRoles(iTwinId)).map((r) => [r.id, r]));
    members.forEach((m, i) => {
      if (m.userId.trim() === "" || m.userId.length > 255) {
        throw invalidRequest("Cannot add members.", [
          { code: "InvalidValue", message: "A user id is 1 to 255 characters.", target: `members[${i}].userId` },
        ]);
      }
      if (m.roleIds.length === 0) {
        throw invalidRequest("Cannot add members.", [
          { code: "InvalidValue", message: "A member needs at least one role.", target: `members[${i}].roleIds` },
        ]);
      }
      const unknown = m.roleIds.find((id) => !roles.has(id));
      if (unknown !== undefined) throw accessNotFound.role();
    });
    for (const roleId of new Set(members.flatMap((m) => m.roleIds)))
      await this.mayHandOut(by, roles.get(roleId)!, "give");
    const at = this.clock.now().toISOString();
    for (const m of members) await this.store.addMemberRoles(iTwinId, m.userId, m.roleIds, at, by.userId);
    return Promise.all(members.map((m) => this.getMember(iTwinId, m.userId)));
  }

  /** Replaces a member's roles with exactly `roleIds`. */
  async setMemberRoles(by: Actor, iTwinId: string, userId: string, roleIds: readonly string[]): Promise<MemberRecord> {
    const current = await this.getMember(iTwinId, userId);
    if (roleIds.length === 0) {
      throw invalidRequest("Cannot update member.", [
        {
          code: "InvalidValue",
          message: "A member needs at least one role; remove the member instead.",
          target: "roleIds",
        },
      ]);
    }
    const roles = new Map((await this.store.listRoles(iTwinId)).map((r) => [r.id, r]));
    if (roleIds.some((id) => !roles.has(id))) throw accessNotFound.role();
    const added = roleIds.filter((id) => !current.roleIds.includes(id));
    const dropped = current.roleIds.filter((id) => !roleIds.includes(id));
    for (const id of added) await this.mayHandOut(by, roles.get(id)!, "give");
    for (const id of dropped) {
      const role = roles.get(id);
      if (role) await this.mayHandOut(by, role, "take away");
    }
    if (dropped.length > 0 && (await this.store.removeMemberRoles(iTwinId, userId, dropped)) === "lastOwner")
      throw lastOwner(userId);
    await this.store.addMemberRoles(iTwinId, userId, roleIds, this.clock.now().toISOString(), by.userId);
    return this.getMember(iTwinId, userId);
  }

  async removeMember(by: Actor, iTwinId: string, userId: string): Promise<void> {
    const current = await this.getMember(iTwinId, userId);
    const roles = new Map((await this.store.listRoles(iTwinId)).map((r) => [r.id, r]));
    for (const id of current.roleIds) {
      const role = roles.get(id);
      if (role) await this.mayHandOut(by, role, "take away");
    }
    const removed = await this.store.removeMemberRoles(iTwinId, userId, undefined, by.userId);
    if (removed === "lastOwner") throw lastOwner(userId);
    if (removed === 0) throw accessNotFound.member();
  }

  // ---- iModel-level grants --------------------------------------------------------------------------------------

  iModelGrants(iModelId: string): Promise<IModelOverrides> {
    return this.store.iModelOverrides(iModelId);
  }

  /**
   * Sets a role's permissions on one iModel (an empty list removes the grant); the role must be the iTwin's. `by`:
   * who does it — they must hold what they grant here, and hold on the iTwin all the role holds to change or remove
   * an existing grant of it (see {@link #keepGranter} for the first grant of an iModel).
   */
  async setIModelRolePermissions(
    by: Actor,
    scope: Required<AccessScope>,
    roleId: string,
    permissions: readonly string[],
  ): Promise<Permission[]> {
    const role = await this.getRole(scope.iTwinId, roleId);
    const checked = checkPermissions(permissions, IMODEL_LEVEL_PERMISSIONS, "Cannot update iModel role permissions.");
    if (role.owner && checked.length > 0) {
      throw invalidRequest("Cannot update iModel role permissions.", [
        {
          code: "InvalidValue",
          message: "Owners have every permission on every iModel of their iTwin: the Owner role takes no iModel grant.",
          target: "roleId",
        },
      ]);
    }
    await this.mayGrant(by, scope, checked, "grant this");
    const existing = (await this.store.iModelOverrides(scope.iModelId)).roles.find((r) => r.roleId === roleId);
    if (existing && !sameSet(existing.permissions, checked))
      await this.mayChangeGrantOf(by, scope.iTwinId, role.permissions, `role '${role.displayName}'`);
    if (checked.length > 0) await this.#keepGranter(by, scope);
    await this.store.setIModelRolePermissions(scope.iModelId, roleId, checked);
    return checked;
  }

  /** Sets a user's permissions on one iModel (an empty list removes the grant), under the same rules. */
  async setIModelUserPermissions(
    by: Actor,
    scope: Required<AccessScope>,
    userId: string,
    permissions: readonly string[],
  ): Promise<Permission[]> {
    if (userId.trim() === "" || userId.length > 255) {
      throw invalidRequest("Cannot update iModel user permissions.", [
        { code: "InvalidValue", message: "A user id is 1 to 255 characters.", target: "userId" },
      ]);
    }
    const checked = checkPermissions(permissions, IMODEL_LEVEL_PERMISSIONS, "Cannot update iModel user permissions.");
    await this.mayGrant(by, scope, checked, "grant this");
    const existing = (await this.store.iModelOverrides(scope.iModelId)).users.find((u) => u.userId === userId);
    if (existing && userId !== by.userId && !sameSet(existing.permissions, checked)) {
      const holder = await this.effective({ userId }, { iTwinId: scope.iTwinId });
      await this.mayChangeGrantOf(by, scope.iTwinId, [...holder.permissions], `user '${userId}'`);
    }
    if (checked.length > 0 && userId !== by.userId) await this.#keepGranter(by, scope);
    await this.store.setIModelUserPermissions(scope.iModelId, userId, checked);
    return checked;
  }

  /**
   * The first grant of an iModel replaces the iTwin's permissions for it, which would lock out the very manager who
   * makes it: they keep what they had, as a user grant of their own (admins and Owners need none; they can revoke it).
   */
  async #keepGranter(by: Actor, scope: Required<AccessScope>): Promise<void> {
    if (await this.isOwner(by, scope.iTwinId)) return;
    const current = await this.store.iModelOverrides(scope.iModelId);
    if (current.roles.length + current.users.length > 0) return;
    const had = (await this.effective(by, scope)).permissions;
    const kept = IMODEL_LEVEL_PERMISSIONS.filter((p) => had.has(p));
    if (kept.length > 0) await this.store.setIModelUserPermissions(scope.iModelId, by.userId, kept);
  }
}
