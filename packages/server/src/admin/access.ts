// `modelhub access …`: roles, members and iModel grants of a running hub, over its HTTP API (the same calls any
// client makes, so the hub checks the caller's permissions and records each change in the audit log).
import type { ITwinMember, ITwinRole, ModelHubClient } from "@modelhub/client";
import { PERMISSIONS, parsePermission } from "@modelhub/protocol";
import type { HubConnection } from "./hub-connection.js";
import { HubCommandError, withClient } from "./hub-connection.js";
import { jsonRequested, printer, stderr, stdout, tableLines, timestamp } from "./terminal.js";

export interface AccessCommandOptions extends HubConnection {
  json: boolean;
  write?: (text: string) => void;
}

const out = (o: AccessCommandOptions) => (o.write ? printer(o.write) : stdout);
/** The answer: `value` as JSON with --json, else one line of text. */
const show = (o: AccessCommandOptions, value: unknown, text: string) =>
  o.json ? out(o).json(value) : out(o).line(text);

/** `read,write` or `imodels_read imodels-write` → the permissions' names; a usage error (exit 2) for anything else. */
export function parsePermissionList(text: string): string[] {
  const names = text.split(/[\s,]+/).filter((s) => s !== "");
  if (names.length === 0)
    throw new HubCommandError("--permissions needs at least one of webview, read, write, manage, delete.", 2);
  return names.map((name) => {
    const p = parsePermission(name.startsWith("imodels") ? name : `imodels_${name}`);
    if (!p)
      throw new HubCommandError(
        `'${name}' is not a permission: use ${PERMISSIONS.map((x) => x.replace("imodels_", "")).join(", ")}.`,
        2,
      );
    return p;
  });
}

/**
 * Runs `body` with a client of the hub: refusals become the API's code, message and first detail (exit 1); open
 * mode's Warning (roles are recorded, not enforced) goes to stderr.
 */
function hub<T>(o: HubConnection, body: (client: ModelHubClient) => Promise<T>): Promise<T> {
  return withClient(o, body, {
    withDetail: true,
    onWarning: (warning) =>
      jsonRequested()
        ? stderr.json({ warning: { command: "modelhub access", message: warning } })
        : stderr.line(`modelhub access: warning: ${warning}`),
  });
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `--itwin`: an id as it is, else one of the caller's iTwins by display name (any case). */
async function iTwinIdOf(client: ModelHubClient, idOrName: string): Promise<string> {
  if (GUID.test(idOrName.trim())) return idOrName.trim();
  for await (const iTwin of client.iTwins({ displayName: idOrName.trim(), includeInactive: true, pageSize: 1 }))
    return iTwin.id;
  throw new HubCommandError(
    `the hub answered 404: iTwinNotFound: You are a member of no iTwin named '${idOrName.trim()}' (modelhub itwin list shows yours).`,
    1,
  );
}

/** A role by display name (any case) or id. */
async function findRole(client: ModelHubClient, iTwinId: string, nameOrId: string): Promise<ITwinRole> {
  const all = await client.roles(iTwinId);
  const role =
    all.find((r) => r.id === nameOrId) ?? all.find((r) => r.displayName.toLowerCase() === nameOrId.toLowerCase());
  if (!role)
    throw new HubCommandError(
      `iTwin ${iTwinId} has no role '${nameOrId}' (it has: ${all.map((r) => r.displayName).join(", ") || "none"}).`,
      1,
    );
  return role;
}

const roleLine = (r: ITwinRole) =>
  `${r.displayName}  ${r.permissions.join(",") || "-"}  ${r.id}${r.description ? `  ${r.description}` : ""}`;
const memberLine = (m: ITwinMember) =>
  `${m.id}  ${m.roles.map((r) => r.displayName).join(",")}  added ${timestamp(m.addedDateTime)}`;

export async function runRolesList(o: AccessCommandOptions & { iTwinId: string }): Promise<void> {
  const all = await hub(o, async (client) => client.roles(await iTwinIdOf(client, o.iTwinId)));
  if (o.json) return all.forEach((r) => out(o).json(r));
  if (all.length === 0) return out(o).line("no roles");
  out(o).lines(
    tableLines([
      ["ROLE", "PERMISSIONS", "ID", "DESCRIPTION"],
      ...all.map((r) => [r.displayName, r.permissions.join(",") || "-", r.id, r.description ?? ""]),
    ]).map((l) => l.trimEnd()),
  );
}

export async function runRolesCreate(
  o: AccessCommandOptions & { iTwinId: string; name: string; permissions: string; description?: string },
): Promise<void> {
  const input = {
    displayName: o.name,
    permissions: parsePermissionList(o.permissions),
    ...(o.description !== undefined ? { description: o.description } : {}),
  };
  const role = await hub(o, async (client) => client.createRole(await iTwinIdOf(client, o.iTwinId), input));
  show(o, role, `created role ${roleLine(role)}`);
}

export async function runRolesDelete(o: AccessCommandOptions & { iTwinId: string; role: string }): Promise<void> {
  const role = await hub(o, async (client) => {
    const iTwinId = await iTwinIdOf(client, o.iTwinId);
    const found = await findRole(client, iTwinId, o.role);
    await client.deleteRole(iTwinId, found.id);
    return found;
  });
  show(o, { deleted: true, role }, `deleted role ${role.displayName} (its members lost it)`);
}

export async function runMembersList(o: AccessCommandOptions & { iTwinId: string }): Promise<void> {
  const members = await hub(o, async (client) => client.members(await iTwinIdOf(client, o.iTwinId)));
  if (o.json) return members.forEach((m) => out(o).json(m));
  if (members.length === 0) return out(o).line("no members");
  out(o).lines(
    tableLines([
      ["USER", "ROLES", "ADDED"],
      ...members.map((m) => [m.id, m.roles.map((r) => r.displayName).join(","), timestamp(m.addedDateTime)]),
    ]),
  );
}

export async function runMembersAdd(
  o: AccessCommandOptions & { iTwinId: string; user: string; roles: string[] },
): Promise<void> {
  const m = await hub(o, async (client) => {
    const iTwinId = await iTwinIdOf(client, o.iTwinId);
    if (o.roles.length === 0) throw new HubCommandError("members add needs --role <name>.", 2);
    const roleIds = [];
    for (const name of o.roles) roleIds.push((await findRole(client, iTwinId, name)).id);
    return (await client.addMembers(iTwinId, [{ userId: o.user, roleIds }]))[0]!;
  });
  show(o, m, `member ${memberLine(m)}`);
}

/** Without roles: the user is no member any more; with roles: only those are taken away. */
export async function runMembersRemove(
  o: AccessCommandOptions & { iTwinId: string; user: string; roles: string[] },
): Promise<void> {
  await hub(o, async (client) => {
    const iTwinId = await iTwinIdOf(client, o.iTwinId);
    if (o.roles.length === 0) {
      await client.removeMember(iTwinId, o.user);
      show(o, { removed: true, userId: o.user }, `removed ${o.user} from iTwin ${iTwinId}`);
      return;
    }
    const drop = new Set<string>();
    for (const name of o.roles) drop.add((await findRole(client, iTwinId, name)).id);
    const member = await client.getMember(iTwinId, o.user);
    const keep = member.roles.map((r) => r.id).filter((id) => !drop.has(id));
    if (keep.length === 0) {
      await client.removeMember(iTwinId, o.user);
      show(o, { removed: true, userId: o.user }, `removed ${o.user} from iTwin ${iTwinId} (no role left)`);
      return;
    }
    const updated = await client.setMemberRoles(iTwinId, o.user, keep);
    show(o, updated, `member ${memberLine(updated)}`);
  });
}

type GrantTarget = { user: string; role?: undefined } | { role: string; user?: undefined };

/** The grantee of a `--user` or `--role` (a role by name, in the iModel's iTwin). */
async function granteeOf(
  client: ModelHubClient,
  iModelId: string,
  target: GrantTarget,
): Promise<{ grantee: { userId: string } | { roleId: string }; label: string }> {
  if (target.user !== undefined) return { grantee: { userId: target.user }, label: `user ${target.user}` };
  const iModel = await client.getIModel(iModelId);
  const role = await findRole(client, iModel.iTwinId, target.role);
  return { grantee: { roleId: role.id }, label: `role ${role.displayName}` };
}

/** Gives a user or a role its own permissions on one iModel (from then on the iModel's grants replace the iTwin's). */
export async function runIModelGrant(
  o: AccessCommandOptions & { iModelId: string; target: GrantTarget; permissions: string },
): Promise<void> {
  const permissions = parsePermissionList(o.permissions);
  const { answer, label } = await hub(o, async (client) => {
    const { grantee, label } = await granteeOf(client, o.iModelId, o.target);
    return { answer: await client.grantIModelPermissions(o.iModelId, grantee, permissions), label };
  });
  const granted = Object.values(answer)[0]?.permissions ?? permissions;
  show(o, { iModelId: o.iModelId, ...answer }, `${label} has ${granted.join(",")} on iModel ${o.iModelId}`);
}

export async function runIModelRevoke(
  o: AccessCommandOptions & { iModelId: string; target: GrantTarget },
): Promise<void> {
  const label = await hub(o, async (client) => {
    const { grantee, label } = await granteeOf(client, o.iModelId, o.target);
    await client.revokeIModelPermissions(o.iModelId, grantee);
    return label;
  });
  show(
    o,
    { revoked: true, iModelId: o.iModelId, target: label },
    `${label} has no own permissions on iModel ${o.iModelId} any more`,
  );
}

/** The caller's effective permissions on an iModel. */
export async function runAccessShow(o: AccessCommandOptions & { iModelId: string }): Promise<void> {
  const permissions = await hub(o, (client) => client.iModelPermissions(o.iModelId));
  if (o.json) out(o).json({ iModelId: o.iModelId, permissions });
  else out(o).lines(permissions.length > 0 ? permissions : ["(none)"]);
}
