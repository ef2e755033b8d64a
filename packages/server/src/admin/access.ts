// `modelhub access …`: roles, members and iModel grants of a running hub, over its HTTP API (the same calls any
// client makes, so the hub checks the caller's permissions and records each change in the audit log).
import { IMODELS_API_MEDIA_TYPE } from "@modelhub/protocol";
import { PERMISSIONS, parsePermission } from "../domain/access/permissions.js";
import type { HubConnection } from "./hub-client.js";
import { HubCommandError, originOf } from "./hub-client.js";
import { jsonRequested, printer, stderr, stdout, tableLines, timestamp } from "./terminal.js";

export interface AccessCommandOptions extends HubConnection {
  json: boolean;
  write?: (text: string) => void;
}

interface RoleJson {
  id: string;
  displayName: string;
  description: string | null;
  permissions: string[];
}

interface MemberJson {
  id: string;
  addedDateTime: string;
  roles: { id: string; displayName: string }[];
}

const out = (o: AccessCommandOptions) => (o.write ? printer(o.write) : stdout);
/** The answer: `value` as JSON with --json, else one line of text. */
const show = (o: AccessCommandOptions, value: unknown, text: string) => (o.json ? out(o).json(value) : out(o).line(text));
const enc = encodeURIComponent;

/** `read,write` or `imodels_read imodels-write` → the permissions' names; a usage error (exit 2) for anything else. */
export function parsePermissionList(text: string): string[] {
  const names = text.split(/[\s,]+/).filter((s) => s !== "");
  if (names.length === 0) throw new HubCommandError("--permissions needs at least one of webview, read, write, manage, delete.", 2);
  return names.map((name) => {
    const p = parsePermission(name.startsWith("imodels") ? name : `imodels_${name}`);
    if (!p) throw new HubCommandError(`'${name}' is not a permission: use ${PERMISSIONS.map((x) => x.replace("imodels_", "")).join(", ")}.`, 2);
    return p;
  });
}

/** One API call with an optional JSON body; other answers than `expected` become the API's code and message (exit 1). */
async function send<T>(o: HubConnection, method: string, path: string, body: unknown, expected: readonly number[]): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${originOf(o.url)}${path}`, {
      method,
      headers: {
        accept: IMODELS_API_MEDIA_TYPE,
        authorization: `Bearer ${o.token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new HubCommandError(`cannot reach the hub at ${originOf(o.url)}: ${(err as { cause?: { code?: string } }).cause?.code ?? String(err)}`, 1);
  }
  // Open mode answers changes with a Warning: roles are recorded, not enforced.
  const warning = response.headers.get("warning");
  if (warning) {
    const message = warning.replace(/^\d{3} \S+ "(.*)"$/, "$1");
    // Under --json stderr carries JSON only.
    if (jsonRequested()) stderr.json({ warning: { command: "modelhub access", message } });
    else stderr.line(`modelhub access: warning: ${message}`);
  }
  const text = await response.text();
  if (!expected.includes(response.status)) {
    let reason = text.slice(0, 500);
    try {
      const error = (JSON.parse(text) as { error?: { code?: string; message?: string; details?: { message?: string }[] } }).error;
      if (error) reason = `${error.code ?? "Error"}: ${error.message ?? ""}${error.details?.[0]?.message ? ` ${error.details[0].message}` : ""}`;
    } catch {
      // not JSON: the text as it came
    }
    throw new HubCommandError(`the hub answered ${response.status}: ${reason}`, 1);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

const iTwinBase = (iTwinId: string) => `/accesscontrol/itwins/${enc(iTwinId)}`;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `--itwin`: an id as it is, else one of the caller's iTwins by display name (any case). */
async function iTwinIdOf(o: HubConnection, idOrName: string): Promise<string> {
  if (GUID.test(idOrName.trim())) return idOrName.trim();
  const { iTwins } = await send<{ iTwins: { id: string }[] }>(o, "GET", `/itwins?displayName=${enc(idOrName.trim())}&includeInactive=true&$top=1`, undefined, [200]);
  if (!iTwins[0]) throw new HubCommandError(`the hub answered 404: iTwinNotFound: You are a member of no iTwin named '${idOrName.trim()}' (modelhub itwin list shows yours).`, 1);
  return iTwins[0].id;
}

async function roles(o: HubConnection, iTwinId: string): Promise<RoleJson[]> {
  return (await send<{ roles: RoleJson[] }>(o, "GET", `${iTwinBase(iTwinId)}/roles`, undefined, [200])).roles;
}

/** A role by display name (any case) or id. */
async function findRole(o: HubConnection, iTwinId: string, nameOrId: string): Promise<RoleJson> {
  const all = await roles(o, iTwinId);
  const role = all.find((r) => r.id === nameOrId) ?? all.find((r) => r.displayName.toLowerCase() === nameOrId.toLowerCase());
  if (!role) throw new HubCommandError(`iTwin ${iTwinId} has no role '${nameOrId}' (it has: ${all.map((r) => r.displayName).join(", ") || "none"}).`, 1);
  return role;
}

const roleLine = (r: RoleJson) => `${r.displayName}  ${r.permissions.join(",") || "-"}  ${r.id}${r.description ? `  ${r.description}` : ""}`;
const memberLine = (m: MemberJson) => `${m.id}  ${m.roles.map((r) => r.displayName).join(",")}  added ${timestamp(m.addedDateTime)}`;

export async function runRolesList(o: AccessCommandOptions & { iTwinId: string }): Promise<void> {
  o = { ...o, iTwinId: await iTwinIdOf(o, o.iTwinId) };
  const all = await roles(o, o.iTwinId);
  if (o.json) return all.forEach((r) => out(o).json(r));
  if (all.length === 0) return out(o).line("no roles");
  out(o).lines(tableLines([["ROLE", "PERMISSIONS", "ID", "DESCRIPTION"], ...all.map((r) => [r.displayName, r.permissions.join(",") || "-", r.id, r.description ?? ""])]).map((l) => l.trimEnd()));
}

export async function runRolesCreate(o: AccessCommandOptions & { iTwinId: string; name: string; permissions: string; description?: string }): Promise<void> {
  o = { ...o, iTwinId: await iTwinIdOf(o, o.iTwinId) };
  const body = { displayName: o.name, permissions: parsePermissionList(o.permissions), ...(o.description !== undefined ? { description: o.description } : {}) };
  const { role } = await send<{ role: RoleJson }>(o, "POST", `${iTwinBase(o.iTwinId)}/roles`, body, [201]);
  show(o, role, `created role ${roleLine(role)}`);
}

export async function runRolesDelete(o: AccessCommandOptions & { iTwinId: string; role: string }): Promise<void> {
  o = { ...o, iTwinId: await iTwinIdOf(o, o.iTwinId) };
  const role = await findRole(o, o.iTwinId, o.role);
  await send(o, "DELETE", `${iTwinBase(o.iTwinId)}/roles/${enc(role.id)}`, undefined, [204]);
  show(o, { deleted: true, role }, `deleted role ${role.displayName} (its members lost it)`);
}

export async function runMembersList(o: AccessCommandOptions & { iTwinId: string }): Promise<void> {
  o = { ...o, iTwinId: await iTwinIdOf(o, o.iTwinId) };
  const { members } = await send<{ members: MemberJson[] }>(o, "GET", `${iTwinBase(o.iTwinId)}/members/users`, undefined, [200]);
  if (o.json) return members.forEach((m) => out(o).json(m));
  if (members.length === 0) return out(o).line("no members");
  out(o).lines(tableLines([["USER", "ROLES", "ADDED"], ...members.map((m) => [m.id, m.roles.map((r) => r.displayName).join(","), timestamp(m.addedDateTime)])]));
}

export async function runMembersAdd(o: AccessCommandOptions & { iTwinId: string; user: string; roles: string[] }): Promise<void> {
  o = { ...o, iTwinId: await iTwinIdOf(o, o.iTwinId) };
  if (o.roles.length === 0) throw new HubCommandError("members add needs --role <name>.", 2);
  const roleIds = [];
  for (const name of o.roles) roleIds.push((await findRole(o, o.iTwinId, name)).id);
  const { members } = await send<{ members: MemberJson[] }>(o, "POST", `${iTwinBase(o.iTwinId)}/members/users`, { members: [{ userId: o.user, roleIds }] }, [201]);
  const m = members[0]!;
  show(o, m, `member ${memberLine(m)}`);
}

/** Without roles: the user is no member any more; with roles: only those are taken away. */
export async function runMembersRemove(o: AccessCommandOptions & { iTwinId: string; user: string; roles: string[] }): Promise<void> {
  o = { ...o, iTwinId: await iTwinIdOf(o, o.iTwinId) };
  const path = `${iTwinBase(o.iTwinId)}/members/users/${enc(o.user)}`;
  if (o.roles.length === 0) {
    await send(o, "DELETE", path, undefined, [204]);
    show(o, { removed: true, userId: o.user }, `removed ${o.user} from iTwin ${o.iTwinId}`);
    return;
  }
  const drop = new Set<string>();
  for (const name of o.roles) drop.add((await findRole(o, o.iTwinId, name)).id);
  const { member } = await send<{ member: MemberJson }>(o, "GET", path, undefined, [200]);
  const keep = member.roles.map((r) => r.id).filter((id) => !drop.has(id));
  if (keep.length === 0) {
    await send(o, "DELETE", path, undefined, [204]);
    show(o, { removed: true, userId: o.user }, `removed ${o.user} from iTwin ${o.iTwinId} (no role left)`);
    return;
  }
  const updated = await send<{ member: MemberJson }>(o, "PATCH", path, { roleIds: keep }, [200]);
  show(o, updated.member, `member ${memberLine(updated.member)}`);
}

type GrantTarget = { user: string; role?: undefined } | { role: string; user?: undefined };

async function grantPath(o: HubConnection, iModelId: string, target: GrantTarget): Promise<{ path: string; label: string }> {
  const base = `/imodels/${enc(iModelId)}/permissions`;
  if (target.user !== undefined) return { path: `${base}/users/${enc(target.user)}`, label: `user ${target.user}` };
  const { iModel } = await send<{ iModel: { iTwinId: string } }>(o, "GET", `/imodels/${enc(iModelId)}`, undefined, [200]);
  const role = await findRole(o, iModel.iTwinId, target.role);
  return { path: `${base}/roles/${enc(role.id)}`, label: `role ${role.displayName}` };
}

/** Gives a user or a role its own permissions on one iModel (from then on the iModel's grants replace the iTwin's). */
export async function runIModelGrant(o: AccessCommandOptions & { iModelId: string; target: GrantTarget; permissions: string }): Promise<void> {
  const permissions = parsePermissionList(o.permissions);
  const { path, label } = await grantPath(o, o.iModelId, o.target);
  const answer = await send<Record<string, { permissions: string[] }>>(o, "PATCH", path, { permissions }, [200]);
  const granted = Object.values(answer)[0]?.permissions ?? permissions;
  show(o, { iModelId: o.iModelId, ...answer }, `${label} has ${granted.join(",")} on iModel ${o.iModelId}`);
}

export async function runIModelRevoke(o: AccessCommandOptions & { iModelId: string; target: GrantTarget }): Promise<void> {
  const { path, label } = await grantPath(o, o.iModelId, o.target);
  await send(o, "DELETE", path, undefined, [204]);
  show(o, { revoked: true, iModelId: o.iModelId, target: label }, `${label} has no own permissions on iModel ${o.iModelId} any more`);
}

/** The caller's effective permissions on an iModel. */
export async function runAccessShow(o: AccessCommandOptions & { iModelId: string }): Promise<void> {
  const { permissions } = await send<{ permissions: string[] }>(o, "GET", `/imodels/${enc(o.iModelId)}/permissions`, undefined, [200]);
  if (o.json) out(o).json({ iModelId: o.iModelId, permissions });
  else out(o).lines(permissions.length > 0 ? permissions : ["(none)"]);
}
