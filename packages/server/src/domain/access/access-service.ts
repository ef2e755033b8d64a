import { randomUUID } from "node:crypto";
import type { AccessStore, IModelOverrides, MemberRecord, RoleRecord } from "../../ports/access-store.js";
import type { Actor, Clock } from "../context.js";
import { HubError, invalidRequest, notFound } from "../errors.js";
import type { Grants, Permission } from "./permissions.js";
import { ALL_PERMISSIONS, IMODEL_LEVEL_PERMISSIONS, PERMISSIONS, canonical, grantsOf, parsePermission } from "./permissions.js";

/** How the hub grants permissions (from the configuration). */
export interface AccessPolicy {
  /** Open mode: tokens are not verified, so permissions mean nothing; everyone may do everything. */
  everyoneMayDoEverything: boolean;
  /** Organization administrators (`--admin`): every permission everywhere. */
  admins: readonly string[];
  /** Whoever creates the first iModel of an iTwin nobody is a member of becomes its "Owner" (`--no-claim-itwins` turns it off). */
  claimITwins: boolean;
}

/** The built-in role given to whoever claims an iTwin: every permission. */
export const OWNER_ROLE_NAME = "Owner";

/** Where a permission is asked for: an iTwin, or one iModel of it. */
export interface AccessScope {
  iTwinId: string;
  iModelId?: string;
}

const insufficient = () => new HubError("InsufficientPermissions", "The user has insufficient permissions for the requested operation.");

export const accessNotFound = {
  role: () => new HubError("RoleNotFound", "Requested Role is not available."),
  member: () => new HubError("MemberNotFound", "Requested Member is not available."),
};

const ALL: Grants = grantsOf(ALL_PERMISSIONS);

/**
 * Who may do what (the cloud's model): iTwin roles given to members, iModel-level role and user grants that replace
 * the iTwin's for that iModel when it has any (except `imodels_delete`, iTwin-level only), organization admins who
 * may do everything, and the bootstrap rule for unclaimed iTwins.
 */
export class AccessService {
  readonly #admins: ReadonlySet<string>;

  constructor(
    private readonly store: AccessStore,
    private readonly clock: Clock,
    readonly policy: AccessPolicy,
    private readonly newId: () => string = randomUUID,
  ) {
    this.#admins = new Set(policy.admins);
  }

  isAdmin(actor: Actor): boolean {
    return this.#admins.has(actor.userId);
  }

  /** Everything the actor may do in the scope, implications included. */
  async effective(actor: Actor, scope: AccessScope): Promise<Grants> {
    if (this.policy.everyoneMayDoEverything || this.isAdmin(actor)) return ALL;
    const roles = await this.store.rolesOf(scope.iTwinId, actor.userId);
    const iTwinLevel = roles.flatMap((r) => r.permissions);
    if (scope.iModelId === undefined) return grantsOf(iTwinLevel);
    return grantsOf(this.#iModelLevel(actor, roles, iTwinLevel, await this.store.iModelOverrides(scope.iModelId)));
  }

  #iModelLevel(actor: Actor, roles: readonly RoleRecord[], iTwinLevel: readonly Permission[], overrides: IModelOverrides | undefined): Permission[] {
    if (!overrides || overrides.roles.length + overrides.users.length === 0) return [...iTwinLevel];
    const roleIds = new Set(roles.map((r) => r.id));
    const granted = [
      ...overrides.roles.filter((r) => roleIds.has(r.roleId)).flatMap((r) => r.permissions),
      ...overrides.users.filter((u) => u.userId === actor.userId).flatMap((u) => u.permissions),
    ].filter((p) => p !== "imodels_delete");
    // Deleting stays an iTwin-level decision even when the iModel has grants of its own.
    if (iTwinLevel.includes("imodels_delete")) return [...granted, "imodels_delete"];
    return granted;
  }

  /**
   * Checks that the actor has one of `anyOf` in the scope and returns what they have. On an iModel, no permission
   * at all answers `iModelNotFound` (existence is not revealed), some but not enough `InsufficientPermissions`.
   */
  async require(actor: Actor, anyOf: readonly Permission[], scope: AccessScope): Promise<Grants> {
    const grants = await this.effective(actor, scope);
    if (anyOf.some((p) => grants.has(p))) return grants;
    if (scope.iModelId !== undefined && grants.permissions.size === 0) throw notFound.iModel();
    throw insufficient();
  }

  /**
   * Creating an iModel needs `imodels_manage` on the iTwin. An iTwin nobody is a member of is claimed by the first
   * user who creates an iModel in it (they become its member with the built-in "Owner" role), unless turned off.
   */
  async requireCreate(actor: Actor, iTwinId: string): Promise<Grants> {
    const grants = await this.effective(actor, { iTwinId });
    if (grants.has("imodels_manage")) return grants;
    if (this.policy.claimITwins && !(await this.store.hasMembers(iTwinId))) {
      await this.store.claimITwin(iTwinId, actor.userId, this.#ownerRole(iTwinId), this.clock.now().toISOString());
      // Whoever won the race is the owner; everyone else is checked like any non-member.
      const after = await this.effective(actor, { iTwinId });
      if (after.has("imodels_manage")) return after;
    }
    throw insufficient();
  }

  #ownerRole(iTwinId: string): RoleRecord {
    return { iTwinId, id: this.newId(), displayName: OWNER_ROLE_NAME, description: "Every iModels permission (given to whoever claimed the iTwin).", permissions: [...PERMISSIONS] };
  }

  /**
   * Which of an iTwin's iModels the actor may see (at least `imodels_webview`): `all` when nothing is hidden from
   * them, else a test by iModel id. One read of the iTwin's grants, whatever the number of iModels.
   */
  async visibility(actor: Actor, iTwinId: string): Promise<"all" | ((iModelId: string) => boolean)> {
    if (this.policy.everyoneMayDoEverything || this.isAdmin(actor)) return "all";
    const roles = await this.store.rolesOf(iTwinId, actor.userId);
    const iTwinLevel = roles.flatMap((r) => r.permissions);
    const overrides = await this.store.iModelOverridesInITwin(iTwinId);
    const seesByDefault = grantsOf(iTwinLevel).has("imodels_webview");
    if (seesByDefault && overrides.size === 0) return "all";
    return (iModelId) => {
      const own = overrides.get(iModelId);
      if (!own) return seesByDefault;
      return grantsOf(this.#iModelLevel(actor, roles, iTwinLevel, own)).has("imodels_webview");
    };
  }

  // ---- Roles ----------------------------------------------------------------------------------------------------

  listRoles(iTwinId: string): Promise<RoleRecord[]> {
    return this.store.listRoles(iTwinId);
  }

  async getRole(iTwinId: string, roleId: string): Promise<RoleRecord> {
    const role = await this.store.getRole(iTwinId, roleId);
    if (!role) throw accessNotFound.role();
    return role;
  }

  async createRole(iTwinId: string, input: { displayName: string; description: string | null; permissions: readonly string[] }): Promise<RoleRecord> {
    const role: RoleRecord = {
      iTwinId,
      id: this.newId(),
      displayName: checkName(input.displayName, "Cannot create Role."),
      description: input.description,
      permissions: checkPermissions(input.permissions, PERMISSIONS, "Cannot create Role."),
    };
    if (!(await this.store.createRole(role))) throw roleExists(role.displayName);
    return role;
  }

  async updateRole(iTwinId: string, roleId: string, input: { displayName?: string; description?: string | null; permissions?: readonly string[] }): Promise<RoleRecord> {
    const current = await this.getRole(iTwinId, roleId);
    const role: RoleRecord = {
      ...current,
      ...(input.displayName !== undefined ? { displayName: checkName(input.displayName, "Cannot update Role.") } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.permissions !== undefined ? { permissions: checkPermissions(input.permissions, PERMISSIONS, "Cannot update Role.") } : {}),
    };
    const result = await this.store.updateRole(role);
    if (result === "nameTaken") throw roleExists(role.displayName);
    if (!result) throw accessNotFound.role();
    return role;
  }

  async deleteRole(iTwinId: string, roleId: string): Promise<void> {
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

  /** Gives roles to users (roles they already hold are kept once); every role must exist on the iTwin. */
  async addMembers(iTwinId: string, members: readonly { userId: string; roleIds: readonly string[] }[]): Promise<MemberRecord[]> {
    const roles = new Set((await this.store.listRoles(iTwinId)).map((r) => r.id));
    members.forEach((m, i) => {
      if (m.userId.trim() === "" || m.userId.length > 255) {
        throw invalidRequest("Cannot add members.", [{ code: "InvalidValue", message: "A user id is 1 to 255 characters.", target: `members[${i}].userId` }]);
      }
      if (m.roleIds.length === 0) {
        throw invalidRequest("Cannot add members.", [{ code: "InvalidValue", message: "A member needs at least one role.", target: `members[${i}].roleIds` }]);
      }
      const unknown = m.roleIds.find((id) => !roles.has(id));
      if (unknown !== undefined) throw accessNotFound.role();
    });
    const at = this.clock.now().toISOString();
    for (const m of members) await this.store.addMemberRoles(iTwinId, m.userId, m.roleIds, at);
    return Promise.all(members.map((m) => this.getMember(iTwinId, m.userId)));
  }

  /** Replaces a member's roles with exactly `roleIds`. */
  async setMemberRoles(iTwinId: string, userId: string, roleIds: readonly string[]): Promise<MemberRecord> {
    const current = await this.getMember(iTwinId, userId);
    if (roleIds.length === 0) {
      throw invalidRequest("Cannot update member.", [{ code: "InvalidValue", message: "A member needs at least one role; remove the member instead.", target: "roleIds" }]);
    }
    const roles = new Set((await this.store.listRoles(iTwinId)).map((r) => r.id));
    if (roleIds.some((id) => !roles.has(id))) throw accessNotFound.role();
    await this.store.addMemberRoles(iTwinId, userId, roleIds, this.clock.now().toISOString());
    const dropped = current.roleIds.filter((id) => !roleIds.includes(id));
    if (dropped.length > 0) await this.store.removeMemberRoles(iTwinId, userId, dropped);
    return this.getMember(iTwinId, userId);
  }

  async removeMember(iTwinId: string, userId: string): Promise<void> {
    if ((await this.store.removeMemberRoles(iTwinId, userId)) === 0) throw accessNotFound.member();
  }

  // ---- iModel-level grants --------------------------------------------------------------------------------------

  iModelGrants(iModelId: string): Promise<IModelOverrides> {
    return this.store.iModelOverrides(iModelId);
  }

  /**
   * Sets a role's permissions on one iModel (an empty list removes the grant); the role must be the iTwin's. `by`:
   * who does it (see {@link #keepGranter}).
   */
  async setIModelRolePermissions(by: Actor, scope: Required<AccessScope>, roleId: string, permissions: readonly string[]): Promise<Permission[]> {
    await this.getRole(scope.iTwinId, roleId);
    const checked = checkPermissions(permissions, IMODEL_LEVEL_PERMISSIONS, "Cannot update iModel role permissions.");
    if (checked.length > 0) await this.#keepGranter(by, scope);
    await this.store.setIModelRolePermissions(scope.iModelId, roleId, checked);
    return checked;
  }

  /** Sets a user's permissions on one iModel (an empty list removes the grant). */
  async setIModelUserPermissions(by: Actor, scope: Required<AccessScope>, userId: string, permissions: readonly string[]): Promise<Permission[]> {
    if (userId.trim() === "" || userId.length > 255) {
      throw invalidRequest("Cannot update iModel user permissions.", [{ code: "InvalidValue", message: "A user id is 1 to 255 characters.", target: "userId" }]);
    }
    const checked = checkPermissions(permissions, IMODEL_LEVEL_PERMISSIONS, "Cannot update iModel user permissions.");
    if (checked.length > 0 && userId !== by.userId) await this.#keepGranter(by, scope);
    await this.store.setIModelUserPermissions(scope.iModelId, userId, checked);
    return checked;
  }

  /**
   * The first grant of an iModel replaces the iTwin's permissions for it, which would lock out the very manager who
   * makes it: they keep what they had, as a user grant of their own (admins need none; they can revoke it later).
   */
  async #keepGranter(by: Actor, scope: Required<AccessScope>): Promise<void> {
    if (this.policy.everyoneMayDoEverything || this.isAdmin(by)) return;
    const current = await this.store.iModelOverrides(scope.iModelId);
    if (current.roles.length + current.users.length > 0) return;
    const had = (await this.effective(by, scope)).permissions;
    const kept = IMODEL_LEVEL_PERMISSIONS.filter((p) => had.has(p));
    if (kept.length > 0) await this.store.setIModelUserPermissions(scope.iModelId, by.userId, kept);
  }
}

function roleExists(name: string): HubError {
  return new HubError("RoleExists", `A Role named '${name}' already exists on this iTwin.`);
}

function checkName(name: string, operation: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 255) {
    throw invalidRequest(operation, [{ code: "InvalidValue", message: "A role's displayName is 1 to 255 characters.", target: "displayName" }]);
  }
  return trimmed;
}

function checkPermissions(names: readonly string[], allowed: readonly Permission[], operation: string): Permission[] {
  const result: Permission[] = [];
  names.forEach((name, i) => {
    const p = parsePermission(name);
    if (p === undefined || !allowed.includes(p)) {
      throw invalidRequest(operation, [
        { code: "InvalidValue", message: `'${name}' is not one of the permissions that can be granted here: ${allowed.join(", ")}.`, target: `permissions[${i}]` },
      ]);
    }
    result.push(p);
  });
  return canonical(result);
}
