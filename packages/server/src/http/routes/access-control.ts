import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { z } from "zod";
import type { AccessService } from "../../domain/access/access-service.js";
import { canonicalPermissions } from "@modelhub/protocol";
import type { ITwinService } from "../../domain/itwins/itwin-service.js";
import type { Actor } from "../../domain/context.js";
import type { MemberRecord, RoleRecord } from "../../ports/access-store.js";
import { invalidRequest } from "../../domain/errors.js";
import { MANAGE, WEBVIEW, authenticated, iTwinInPath } from "../authz/rules.js";
import { objectAt } from "../route-config.js";
import { parseBody } from "../validation.js";
import { MEMBER, PERMISSION_LIST, ROLE, bodyOf, one } from "../schemas.js";

const text = (max: number) => z.string().max(max, { error: `The value exceeds allowed ${max} characters.` });
const permissionList = z.array(text(64)).max(16);
const createRoleBody = z.object({
  displayName: text(255),
  description: text(255).nullable().optional(),
  permissions: permissionList.optional(),
});
const updateRoleBody = z
  .object({
    displayName: text(255).optional(),
    description: text(255).nullable().optional(),
    permissions: permissionList.optional(),
  })
  .refine((b) => b.displayName !== undefined || b.description !== undefined || b.permissions !== undefined, {
    error: "At least one of 'displayName', 'description', 'permissions' must be provided.",
  });
const roleIds = z.array(text(64)).min(1, { error: "At least one role id is needed." }).max(50);
const addMembersBody = z.object({
  members: z
    .array(z.object({ userId: text(255), roleIds }))
    .min(1, { error: "At least one member is needed." })
    .max(100),
});
const updateMemberBody = z.object({ roleIds });
// The Access Control API v1's "add members": one role per entry (`roleId`), the user named by `email`; modelhub
// identifies users by their user id, so `userId` (or `email`, taken as the user id) names them, and `roleIds` is
// accepted too.
const addMembersV1Body = z.object({
  members: z
    .array(
      z.object({
        userId: text(255).optional(),
        email: text(255).optional(),
        roleId: text(64).optional(),
        roleIds: roleIds.optional(),
      }),
    )
    .min(1, { error: "At least one member is needed." })
    .max(100),
});

/** `Warning` of every change in open mode: roles are recorded (they apply once the hub verifies tokens), not enforced. */
export const OPEN_MODE_WARNING =
  '299 modelhub "Open mode: roles and permissions are recorded but not enforced (everyone may do everything) until the hub runs with --auth tokens or --auth oidc."';

/** Adds {@link OPEN_MODE_WARNING} to an answer that changed roles, members or grants, in open mode. */
export function warnWhenNotEnforced(access: AccessService, reply: FastifyReply): void {
  if (access.policy.everyoneMayDoEverything) void reply.header("warning", OPEN_MODE_WARNING);
}

type Params = Record<string, string | undefined>;

const MEMBER_LIST = {
  response: { 200: { type: "object", properties: { members: { type: "array", items: MEMBER } } } },
};

/** The users a member request names (the cloud's `{ members: [{ email | userId, roleIds }] }`), comma-separated (the audit log's target). */
function memberIds(body: Record<string, unknown>): string | undefined {
  const members = Array.isArray(body.members) ? (body.members as unknown[]) : [];
  const ids = members
    .map((m) =>
      m && typeof m === "object"
        ? ((m as Record<string, unknown>).userId ?? (m as Record<string, unknown>).email)
        : undefined,
    )
    .filter((id) => typeof id === "string");
  return ids.length > 0 ? ids.join(",") : undefined;
}

/** What the handlers below need of a request on one iTwin. */
interface ITwinRequest {
  actor: Actor;
  params: { iTwinId: string };
}

function presentRole(r: RoleRecord) {
  return { id: r.id, displayName: r.displayName, description: r.description, permissions: r.permissions };
}

/**
 * Access control of one iTwin, in the shapes of the cloud's Access Control API (`/accesscontrol/itwins/{id}/…`):
 * roles (named sets of permissions), user members with their roles (v2's `/members/users` and v1's `/members`), and
 * the caller's own permissions. Who may call what is on each route (reading: any permission on the iTwin; changing:
 * `imodels_manage`, and AccessService's no-escalation rules). Changes need a live iTwin (404 `iTwinNotFound`).
 */
export const accessControlRoutes: FastifyPluginAsync<{ access: AccessService; iTwins: ITwinService }> = async (
  api,
  { access, iTwins },
) => {
  const live = (request: ITwinRequest) => iTwins.get(request.actor, request.params.iTwinId);
  const changed = (reply: FastifyReply) => {
    warnWhenNotEnforced(access, reply);
    return reply;
  };

  const presentMember = async (iTwinId: string, m: MemberRecord, roles?: Map<string, RoleRecord>) => {
    const byId = roles ?? new Map((await access.listRoles(iTwinId)).map((r) => [r.id, r]));
    return {
      id: m.userId,
      addedDateTime: m.addedAt,
      roles: m.roleIds.flatMap((id) => {
        const r = byId.get(id);
        return r ? [{ id: r.id, displayName: r.displayName, description: r.description }] : [];
      }),
    };
  };

  api.get<{ Params: { iTwinId: string } }>(
    "/itwins/:iTwinId/permissions",
    {
      schema: { response: { 200: PERMISSION_LIST } },
      config: {
        summary: "Get the caller's permissions on an iTwin",
        authz: authenticated("the caller's own permissions on the iTwin"),
      },
    },
    async (request) => {
      // The caller's iTwin-level permissions (the Access Control API spells imodels_delete with an underscore).
      const grants = await access.effective(request.actor, { iTwinId: request.params.iTwinId });
      return { permissions: canonicalPermissions(grants.permissions) };
    },
  );

  api.get<{ Params: { iTwinId: string } }>(
    "/itwins/:iTwinId/roles",
    {
      schema: { response: { 200: { type: "object", properties: { roles: { type: "array", items: ROLE } } } } },
      config: { summary: "List an iTwin's roles", authz: iTwinInPath(WEBVIEW) },
    },
    async (request) => {
      return { roles: (await access.listRoles(request.params.iTwinId)).map(presentRole) };
    },
  );

  api.get<{ Params: { iTwinId: string; roleId: string } }>(
    "/itwins/:iTwinId/roles/:roleId",
    {
      schema: { response: { 200: one("role", ROLE) } },
      config: { summary: "Get a role", authz: iTwinInPath(WEBVIEW) },
    },
    async (request) => {
      return { role: presentRole(await access.getRole(request.params.iTwinId, request.params.roleId)) };
    },
  );

  api.post<{ Params: { iTwinId: string } }>(
    "/itwins/:iTwinId/roles",
    {
      schema: { body: bodyOf(createRoleBody), response: { 201: one("role", ROLE) } },
      config: {
        summary: "Create a role",
        authz: iTwinInPath(MANAGE),
        audit: {
          action: "access.role.create",
          target: (_p, body, answer) => objectAt(answer, "role").id ?? body.displayName,
        },
      },
    },
    async (request, reply) => {
      const body = parseBody(createRoleBody, request.body, "Cannot create Role.");
      await live(request);
      const role = await access.createRole(request.actor, request.params.iTwinId, {
        displayName: body.displayName,
        description: body.description ?? null,
        permissions: body.permissions ?? [],
      });
      return changed(reply)
        .code(201)
        .send({ role: presentRole(role) });
    },
  );

  api.patch<{ Params: { iTwinId: string; roleId: string } }>(
    "/itwins/:iTwinId/roles/:roleId",
    {
      schema: { body: bodyOf(updateRoleBody), response: { 200: one("role", ROLE) } },
      config: {
        summary: "Update a role",
        authz: iTwinInPath(MANAGE),
        audit: { action: "access.role.update", target: (p) => p.roleId },
      },
    },
    async (request, reply) => {
      const body = parseBody(updateRoleBody, request.body, "Cannot update Role.");
      const role = await access.updateRole(request.actor, request.params.iTwinId, request.params.roleId, {
        ...(body.displayName !== undefined ? { displayName: body.displayName } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.permissions !== undefined ? { permissions: body.permissions } : {}),
      });
      return changed(reply).send({ role: presentRole(role) });
    },
  );

  api.delete<{ Params: { iTwinId: string; roleId: string } }>(
    "/itwins/:iTwinId/roles/:roleId",
    {
      schema: { response: { 204: {} } },
      config: {
        summary: "Delete a role",
        authz: iTwinInPath(MANAGE),
        audit: { action: "access.role.delete", target: (p) => p.roleId },
      },
    },
    async (request, reply) => {
      await access.deleteRole(request.actor, request.params.iTwinId, request.params.roleId);
      return changed(reply).code(204).send();
    },
  );

  // The members: v2's `/members/users` and v1's `/members` (a member's id is their user id).
  for (const path of ["/itwins/:iTwinId/members/users", "/itwins/:iTwinId/members"]) {
    api.get<{ Params: { iTwinId: string } }>(
      path,
      { schema: MEMBER_LIST, config: { summary: "List an iTwin's members", authz: iTwinInPath(WEBVIEW) } },
      async (request) => {
        const { iTwinId } = request.params;
        const roles = new Map((await access.listRoles(iTwinId)).map((r) => [r.id, r]));
        return {
          members: await Promise.all((await access.listMembers(iTwinId)).map((m) => presentMember(iTwinId, m, roles))),
        };
      },
    );
  }

  const addMembers = async (request: ITwinRequest, members: { userId: string; roleIds: readonly string[] }[]) => {
    await live(request);
    const { iTwinId } = request.params;
    const added = await access.addMembers(request.actor, iTwinId, members);
    return { members: await Promise.all(added.map((m) => presentMember(iTwinId, m))) };
  };

  api.post<{ Params: { iTwinId: string } }>(
    "/itwins/:iTwinId/members/users",
    {
      schema: { body: bodyOf(addMembersBody), response: { 201: MEMBER_LIST.response[200] } },
      config: {
        summary: "Add members (with their roles)",
        authz: iTwinInPath(MANAGE),
        audit: { action: "access.member.add", target: (_p, body) => memberIds(body) },
      },
    },
    async (request, reply) => {
      const body = parseBody(addMembersBody, request.body, "Cannot add members.");
      return changed(reply)
        .code(201)
        .send(await addMembers(request, body.members));
    },
  );

  api.post<{ Params: { iTwinId: string } }>(
    "/itwins/:iTwinId/members",
    {
      schema: { body: bodyOf(addMembersV1Body), response: { 201: MEMBER_LIST.response[200] } },
      config: {
        summary: "Add members (Access Control API v1)",
        authz: iTwinInPath(MANAGE),
        audit: { action: "access.member.add", target: (_p, body) => memberIds(body) },
      },
    },
    async (request, reply) => {
      const body = parseBody(addMembersV1Body, request.body, "Cannot add members.");
      const members = body.members.map((m, i) => {
        const userId = m.userId ?? m.email;
        const ids = m.roleIds ?? (m.roleId !== undefined ? [m.roleId] : []);
        if (userId === undefined)
          throw invalidRequest("Cannot add members.", [
            {
              code: "MissingRequiredProperty",
              message: "Required property is missing.",
              target: `members[${i}].userId`,
            },
          ]);
        if (ids.length === 0)
          throw invalidRequest("Cannot add members.", [
            {
              code: "MissingRequiredProperty",
              message: "Required property is missing.",
              target: `members[${i}].roleId`,
            },
          ]);
        return { userId, roleIds: ids };
      });
      return changed(reply)
        .code(201)
        .send(await addMembers(request, members));
    },
  );

  // One member: v2's `/members/users/{userId}` and v1's `/members/{memberId}`.
  for (const path of ["/itwins/:iTwinId/members/users/:userId", "/itwins/:iTwinId/members/:userId"]) {
    api.get<{ Params: { iTwinId: string; userId: string } }>(
      path,
      {
        schema: { response: { 200: one("member", MEMBER) } },
        config: { summary: "Get a member", authz: iTwinInPath(WEBVIEW) },
      },
      async (request) => {
        const { iTwinId, userId } = request.params;
        return { member: await presentMember(iTwinId, await access.getMember(iTwinId, userId)) };
      },
    );

    const update = { action: "access.member.update", target: (p: Params) => p.userId };
    api.patch<{ Params: { iTwinId: string; userId: string } }>(
      path,
      {
        schema: { body: bodyOf(updateMemberBody), response: { 200: one("member", MEMBER) } },
        config: { summary: "Change a member's roles", authz: iTwinInPath(MANAGE), audit: update },
      },
      async (request, reply) => {
        const body = parseBody(updateMemberBody, request.body, "Cannot update member.");
        const { iTwinId, userId } = request.params;
        return changed(reply).send({
          member: await presentMember(
            iTwinId,
            await access.setMemberRoles(request.actor, iTwinId, userId, body.roleIds),
          ),
        });
      },
    );

    const remove = { action: "access.member.remove", target: (p: Params) => p.userId };
    api.delete<{ Params: { iTwinId: string; userId: string } }>(
      path,
      {
        schema: { response: { 204: {} } },
        config: { summary: "Remove a member", authz: iTwinInPath(MANAGE), audit: remove },
      },
      async (request, reply) => {
        await access.removeMember(request.actor, request.params.iTwinId, request.params.userId);
        return changed(reply).code(204).send();
      },
    );
  }
};
