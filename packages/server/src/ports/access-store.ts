import type { Permission } from "../domain/access/permissions.js";

/** A named set of permissions defined on one iTwin. */
export interface RoleRecord {
  iTwinId: string;
  id: string;
  displayName: string;
  description: string | null;
  permissions: Permission[];
}

/** One user's roles on one iTwin. */
export interface MemberRecord {
  iTwinId: string;
  userId: string;
  /** In the order the roles were given. */
  roleIds: string[];
  /** When the user got their first role here. */
  addedAt: string;
}

export interface IModelRolePermissionRecord {
  iModelId: string;
  roleId: string;
  permissions: Permission[];
}

export interface IModelUserPermissionRecord {
  iModelId: string;
  userId: string;
  permissions: Permission[];
}

/** An iModel's own grants; when it has any, they replace the iTwin's for that iModel. */
export interface IModelOverrides {
  roles: IModelRolePermissionRecord[];
  users: IModelUserPermissionRecord[];
}

/**
 * Roles, members and iModel-level grants (tables `itwin_roles`, `itwin_members`, `imodel_role_permissions`,
 * `imodel_user_permissions`). Each method is atomic on its own; none spans another.
 */
export interface AccessStore {
  listRoles(iTwinId: string): Promise<RoleRecord[]>;
  getRole(iTwinId: string, roleId: string): Promise<RoleRecord | undefined>;
  /** `false` when the iTwin already has a role of that display name (names are unique per iTwin). */
  createRole(role: RoleRecord): Promise<boolean>;
  /** `false` when no such role exists, `"nameTaken"` when another role of the iTwin has that display name. */
  updateRole(role: RoleRecord): Promise<boolean | "nameTaken">;
  /** Also takes the role away from its members and from iModel role grants. `false` when it did not exist. */
  deleteRole(iTwinId: string, roleId: string): Promise<boolean>;

  listMembers(iTwinId: string): Promise<MemberRecord[]>;
  getMember(iTwinId: string, userId: string): Promise<MemberRecord | undefined>;
  /** The roles `userId` holds on the iTwin (empty for a non-member). */
  rolesOf(iTwinId: string, userId: string): Promise<RoleRecord[]>;
  /** Gives roles (that must exist on the iTwin) to a user; roles the user already has are kept once. */
  addMemberRoles(iTwinId: string, userId: string, roleIds: readonly string[], at: string): Promise<void>;
  /** Takes the given roles (all when omitted) away; returns how many were taken. */
  removeMemberRoles(iTwinId: string, userId: string, roleIds?: readonly string[]): Promise<number>;
  hasMembers(iTwinId: string): Promise<boolean>;
  /**
   * Bootstrapping, atomically: when the iTwin has no member at all, creates `ownerRole` (or reuses the iTwin's role
   * of that display name) and makes `userId` its member; `true` then. `false` when the iTwin already had a member
   * (two users claiming at once: exactly one gets `true`).
   */
  claimITwin(iTwinId: string, userId: string, ownerRole: RoleRecord, at: string): Promise<boolean>;

  iModelOverrides(iModelId: string): Promise<IModelOverrides>;
  /** The overrides of every iModel of the iTwin that has any (iModels without are absent). */
  iModelOverridesInITwin(iTwinId: string): Promise<Map<string, IModelOverrides>>;
  /** Sets (or, with an empty list, removes) a role's grant on one iModel. */
  setIModelRolePermissions(iModelId: string, roleId: string, permissions: readonly Permission[]): Promise<void>;
  /** Sets (or, with an empty list, removes) a user's grant on one iModel. */
  setIModelUserPermissions(iModelId: string, userId: string, permissions: readonly Permission[]): Promise<void>;

  close(): Promise<void>;
}
