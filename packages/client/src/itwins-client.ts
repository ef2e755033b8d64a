// The iTwins and Access Control APIs and the audit log, as ModelHubClient calls them.
import type {
  AuditLogEntry,
  CreatedGate,
  CreateITwinInput,
  Gate,
  GateInput,
  ITwin,
  ITwinMember,
  ITwinRole,
} from "@modelhub/protocol";
import { ModelHubError } from "./errors.js";
import type { ITwinQuery, AuditLogQuery, IModelGrantee } from "./client-types.js";
import { ModelHubClientBase, query, pageSize, GUID } from "./client-base.js";

/** The iTwins API, the Access Control API (roles, members, iModel grants) and the audit log. */
export class ITwinsClient extends ModelHubClientBase {
  // iTwins

  /** The caller's iTwins (with `all`, every iTwin for administrators), by display name, all pages. */
  iTwins(filter: ITwinQuery = {}): AsyncGenerator<ITwin> {
    const q = query({
      $top: pageSize(filter.pageSize),
      $search: filter.search,
      displayName: filter.displayName,
      subClass: filter.subClass,
      includeInactive: filter.includeInactive ? "true" : undefined,
    });
    return this.paged<ITwin>(`${this.iTwinsBase}?${q}`, "iTwins", filter.all ? { "x-itwin-query-scope": "all" } : {});
  }

  async getITwin(iTwinId: string): Promise<ITwin> {
    return (await this.request<{ iTwin: ITwin }>("GET", `${this.iTwinsBase}/${encodeURIComponent(iTwinId)}`)).iTwin;
  }

  /** A new iTwin; the caller becomes its Owner. */
  async createITwin(input: CreateITwinInput): Promise<ITwin> {
    return (await this.request<{ iTwin: ITwin }>("POST", this.iTwinsBase, input, [201])).iTwin;
  }

  async updateITwin(iTwinId: string, input: Partial<CreateITwinInput>): Promise<ITwin> {
    return (await this.request<{ iTwin: ITwin }>("PATCH", `${this.iTwinsBase}/${encodeURIComponent(iTwinId)}`, input))
      .iTwin;
  }

  /** Deletes an iTwin that holds no iModels (its Owners, or an administrator). */
  async deleteITwin(iTwinId: string): Promise<void> {
    await this.request("DELETE", `${this.iTwinsBase}/${encodeURIComponent(iTwinId)}`, undefined, [204]);
  }

  /**
   * One of the caller's iTwins named by its id (a GUID) or its display name (any case; names are unique on the
   * hub). An unknown name throws `iTwinNotFound` (404) like an unknown id.
   */
  async findITwin(idOrName: string): Promise<ITwin> {
    if (GUID.test(idOrName.trim())) return this.getITwin(idOrName.trim());
    for await (const iTwin of this.iTwins({ displayName: idOrName.trim(), includeInactive: true, pageSize: 2 }))
      return iTwin;
    throw new ModelHubError(
      404,
      "iTwinNotFound",
      `You are a member of no iTwin named '${idOrName.trim()}' (modelhub itwin list shows yours).`,
    );
  }

  // Gates of an iTwin (a modelhub extension, issue 21: URLs the hub asks before a push or a named version)

  private gatesPath(iTwinId: string, gateId?: string): string {
    const base = `${this.iTwinsBase}/${encodeURIComponent(iTwinId)}/gates`;
    return gateId === undefined ? base : `${base}/${encodeURIComponent(gateId)}`;
  }

  /** The iTwin's gates in calling order (`imodels_manage` on it). */
  async gates(iTwinId: string): Promise<Gate[]> {
    return (await this.request<{ gates: Gate[] }>("GET", this.gatesPath(iTwinId))).gates;
  }

  async getGate(iTwinId: string, gateId: string): Promise<Gate> {
    return (await this.request<{ gate: Gate }>("GET", this.gatesPath(iTwinId, gateId))).gate;
  }

  /** Registers a gate; `secret` is in the answer only when the hub generated it (the one time it is shown). */
  async createGate(iTwinId: string, input: GateInput): Promise<CreatedGate> {
    return (await this.request<{ gate: CreatedGate }>("POST", this.gatesPath(iTwinId), input, [201])).gate;
  }

  /** Changes the fields given. */
  async updateGate(iTwinId: string, gateId: string, change: Partial<GateInput>): Promise<Gate> {
    return (await this.request<{ gate: Gate }>("PATCH", this.gatesPath(iTwinId, gateId), change)).gate;
  }

  async deleteGate(iTwinId: string, gateId: string): Promise<void> {
    await this.request("DELETE", this.gatesPath(iTwinId, gateId), undefined, [204]);
  }

  // Access control (roles and members of an iTwin; an iModel's own grants)

  private iTwinAccess(iTwinId: string): string {
    return `${this.accessControlBase}/itwins/${encodeURIComponent(iTwinId)}`;
  }

  async roles(iTwinId: string): Promise<ITwinRole[]> {
    return (await this.request<{ roles: ITwinRole[] }>("GET", `${this.iTwinAccess(iTwinId)}/roles`)).roles;
  }

  async createRole(
    iTwinId: string,
    input: { displayName: string; permissions: string[]; description?: string },
  ): Promise<ITwinRole> {
    return (await this.request<{ role: ITwinRole }>("POST", `${this.iTwinAccess(iTwinId)}/roles`, input, [201])).role;
  }

  /** Deletes a role; its members lose it. */
  async deleteRole(iTwinId: string, roleId: string): Promise<void> {
    await this.request("DELETE", `${this.iTwinAccess(iTwinId)}/roles/${encodeURIComponent(roleId)}`, undefined, [204]);
  }

  async members(iTwinId: string): Promise<ITwinMember[]> {
    return (await this.request<{ members: ITwinMember[] }>("GET", `${this.iTwinAccess(iTwinId)}/members/users`))
      .members;
  }

  async getMember(iTwinId: string, userId: string): Promise<ITwinMember> {
    return (
      await this.request<{ member: ITwinMember }>(
        "GET",
        `${this.iTwinAccess(iTwinId)}/members/users/${encodeURIComponent(userId)}`,
      )
    ).member;
  }

  /** Adds users with roles (or adds roles to members); returns them as they are now. */
  async addMembers(iTwinId: string, members: { userId: string; roleIds: string[] }[]): Promise<ITwinMember[]> {
    return (
      await this.request<{ members: ITwinMember[] }>(
        "POST",
        `${this.iTwinAccess(iTwinId)}/members/users`,
        { members },
        [201],
      )
    ).members;
  }

  /** A member's roles become exactly these. */
  async setMemberRoles(iTwinId: string, userId: string, roleIds: string[]): Promise<ITwinMember> {
    return (
      await this.request<{ member: ITwinMember }>(
        "PATCH",
        `${this.iTwinAccess(iTwinId)}/members/users/${encodeURIComponent(userId)}`,
        { roleIds },
      )
    ).member;
  }

  /** The user is no member of the iTwin any more. */
  async removeMember(iTwinId: string, userId: string): Promise<void> {
    await this.request(
      "DELETE",
      `${this.iTwinAccess(iTwinId)}/members/users/${encodeURIComponent(userId)}`,
      undefined,
      [204],
    );
  }

  /** The caller's permissions on an iTwin. */
  async iTwinPermissions(iTwinId: string): Promise<string[]> {
    return (await this.request<{ permissions: string[] }>("GET", `${this.iTwinAccess(iTwinId)}/permissions`))
      .permissions;
  }

  /** The caller's effective permissions on an iModel. */
  async iModelPermissions(iModelId: string): Promise<string[]> {
    return (await this.request<{ permissions: string[] }>("GET", `/${encodeURIComponent(iModelId)}/permissions`))
      .permissions;
  }

  private grantPath(iModelId: string, grantee: IModelGrantee): string {
    const base = `/${encodeURIComponent(iModelId)}/permissions`;
    return grantee.userId !== undefined
      ? `${base}/users/${encodeURIComponent(grantee.userId)}`
      : `${base}/roles/${encodeURIComponent(grantee.roleId)}`;
  }

  /** Gives a user or a role its own permissions on one iModel (from then on the iModel's grants replace the iTwin's); the hub's answer. */
  async grantIModelPermissions(
    iModelId: string,
    grantee: IModelGrantee,
    permissions: string[],
  ): Promise<Record<string, { permissions: string[] }>> {
    return this.request("PATCH", this.grantPath(iModelId, grantee), { permissions });
  }

  async revokeIModelPermissions(iModelId: string, grantee: IModelGrantee): Promise<void> {
    await this.request("DELETE", this.grantPath(iModelId, grantee), undefined, [204]);
  }

  // The audit log (a modelhub extension: managers see their iModels', administrators the whole hub's)

  /** Entries page after page, oldest first unless `newestFirst`; stop iterating to stop asking. */
  auditLog(filter: AuditLogQuery = {}): AsyncGenerator<AuditLogEntry> {
    const q = query({
      iTwinId: filter.iTwinId,
      userId: filter.userId,
      action: filter.action,
      since: filter.since,
      until: filter.until,
      $orderBy: filter.newestFirst ? "at desc" : undefined,
      $top: pageSize(filter.pageSize),
    });
    const path =
      filter.iModelId !== undefined
        ? `${this.apiBase}/${encodeURIComponent(filter.iModelId)}/auditlog`
        : `${this.root}/auditlog`;
    return this.paged<AuditLogEntry>(`${path}?${q}`, "auditEntries");
  }
}
