import type { ITwinClass, ITwinStatus, ITwinSubClass } from "@modelhub/protocol";
import type { Permission } from "@modelhub/protocol";

/** A named set of permissions defined on one iTwin. */
export interface RoleRecord {
  iTwinId: string;
  id: string;
  displayName: string;
  description: string | null;
  permissions: Permission[];
  /** The iTwin's built-in Owner role (every permission; exactly one per iTwin). */
  owner: boolean;
}

/** An iTwin as stored (table `itwins`). A deleted one keeps its row (`deletedAt`): its id is never reused. */
export interface ITwinRecord {
  id: string;
  class: ITwinClass;
  subClass: ITwinSubClass;
  type: string | null;
  /** Unique among live iTwins (case-insensitively), like `displayName`. */
  number: string;
  displayName: string;
  status: ITwinStatus;
  geographicLocation: string | null;
  ianaTimeZone: string | null;
  createdAt: string;
  createdBy: string;
  modifiedAt: string;
  modifiedBy: string;
  deletedAt: string | null;
}

/** Which live iTwins `listITwins` answers; every filter is optional. */
export interface ITwinQuery {
  /** Only those this user is a member of (any role); all live iTwins when absent. */
  memberId?: string;
  subClasses?: readonly ITwinSubClass[];
  /** Exactly these statuses (by default every status but `Inactive`). */
  statuses?: readonly ITwinStatus[];
  type?: string;
  /** Exact, case-insensitive. */
  displayName?: string;
  number?: string;
  /** Part of the display name or number, case-insensitive. */
  search?: string;
  offset: number;
  limit: number;
}

export type ITwinWrite = "done" | "nameTaken" | "numberTaken";

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
 * iTwins with their roles, members and iModel-level grants (tables `itwins`, `itwin_roles`, `itwin_members`,
 * `imodel_role_permissions`, `imodel_user_permissions`). Each method is atomic on its own; none spans another.
 */
export interface AccessStore {
  /**
   * Creates the iTwin and makes its creator (`iTwin.createdBy`) its Owner — `ownerRole` (marked `owner`) created,
   * the creator its member — atomically. `"exists"` when an iTwin with that id exists or ever existed (nothing
   * written: two users creating the same id at once, exactly one gets `"done"`).
   */
  createITwin(iTwin: ITwinRecord, ownerRole: RoleRecord): Promise<ITwinWrite | "exists">;
  /** The iTwin, deleted ones included (`deletedAt` set). */
  getITwin(iTwinId: string): Promise<ITwinRecord | undefined>;
  /** Live iTwins matching `query`, ordered by display name (case-insensitively), then id. */
  listITwins(query: ITwinQuery): Promise<ITwinRecord[]>;
  /** Writes the changeable fields of a live iTwin; `"notFound"` when there is none. */
  updateITwin(iTwin: ITwinRecord): Promise<ITwinWrite | "notFound">;
  /**
   * Marks a live iTwin deleted (its id stays taken) and drops its roles and members — unless it still holds
   * iModels: then nothing changes and their number is answered. Serialized with iModel creation in that iTwin.
   */
  deleteITwin(iTwinId: string, at: string): Promise<"done" | "notFound" | { iModels: number }>;
  /**
   * Undoes a `createITwin` whose purpose failed: removes the iTwin created by `createdBy` with its roles and members
   * as if it never existed — only while it holds no iModels and is not deleted. `true` when it was removed.
   */
  discardITwin(iTwinId: string, createdBy: string): Promise<boolean>;

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
  /**
   * Gives roles (that must exist on the iTwin) to a user; roles the user already has are kept once. In the same
   * transaction it queues the webhook events (issue 21) of each role given: `accessControl.memberAdded.v1` for a user
   * who was no member, `accessControl.roleAssigned.v1` for a member; `by` is the user who did it.
   */
  addMemberRoles(iTwinId: string, userId: string, roleIds: readonly string[], at: string, by?: string): Promise<void>;
  /**
   * Takes the given roles (all when omitted) away; returns how many were taken — unless that would leave the iTwin
   * without an Owner: then nothing changes and `"lastOwner"` is answered (checked and written in one step, so two
   * Owners removing each other at once cannot both succeed). Removing all of them queues the webhook event
   * `accessControl.memberRemoved.v1` in the same transaction (issue 21); `by` is the user who did it.
   */
  removeMemberRoles(
    iTwinId: string,
    userId: string,
    roleIds?: readonly string[],
    by?: string,
  ): Promise<number | "lastOwner">;
  /** The members holding the iTwin's Owner role. */
  owners(iTwinId: string): Promise<string[]>;

  iModelOverrides(iModelId: string): Promise<IModelOverrides>;
  /** The overrides of every iModel of the iTwin that has any (iModels without are absent). */
  iModelOverridesInITwin(iTwinId: string): Promise<Map<string, IModelOverrides>>;
  /** Sets (or, with an empty list, removes) a role's grant on one iModel. */
  setIModelRolePermissions(iModelId: string, roleId: string, permissions: readonly Permission[]): Promise<void>;
  /** Sets (or, with an empty list, removes) a user's grant on one iModel. */
  setIModelUserPermissions(iModelId: string, userId: string, permissions: readonly Permission[]): Promise<void>;

  close(): Promise<void>;
}
