import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AccessService } from "../../domain/access/access-service.js";
import { canonical } from "../../domain/access/permissions.js";
import type { MemberRecord, RoleRecord } from "../../ports/access-store.js";
import { parseBody } from "../validation.js";

const text = (max: number) => z.string().max(max, { error: `The value exceeds allowed ${max} characters.` });
const permissionList = z.array(text(64)).max(16);
const createRoleBody = z.object({ displayName: text(255), description: text(255).nullable().optional(), permissions: permissionList.optional() });
const updateRoleBody = z
  .object({ displayName: text(255).optional(), description: text(255).nullable().optional(), permissions: permissionList.optional() })
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

function presentRole(r: RoleRecord) {
  return { id: r.id, displayName: r.displayName, description: r.description, permissions: r.permissions };
}

/**
 * Access control of one iTwin, in the shapes of the cloud's Access Control API (`/accesscontrol/itwins/{id}/…`):
 * roles (named sets of permissions), user members with their roles, and the caller's own permissions. Who may call
 * what is in rules.ts (reading: any permission on the iTwin; changing: `imodels_manage`).
 */
export async function accessControlRoutes(api: FastifyInstance, { access }: { access: AccessService }): Promise<void> {
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

  api.get<{ Params: { iTwinId: string } }>("/itwins/:iTwinId/permissions", async (request) => {
    // The caller's iTwin-level permissions (the Access Control API spells imodels_delete with an underscore).
    const grants = await access.effective(request.actor, { iTwinId: request.params.iTwinId });
    return { permissions: canonical(grants.permissions) };
  });

  api.get<{ Params: { iTwinId: string } }>("/itwins/:iTwinId/roles", async (request) => {
    return { roles: (await access.listRoles(request.params.iTwinId)).map(presentRole) };
  });

  api.get<{ Params: { iTwinId: string; roleId: string } }>("/itwins/:iTwinId/roles/:roleId", async (request) => {
    return { role: presentRole(await access.getRole(request.params.iTwinId, request.params.roleId)) };
  });

  api.post<{ Params: { iTwinId: string } }>("/itwins/:iTwinId/roles", async (request, reply) => {
    const body = parseBody(createRoleBody, request.body, "Cannot create Role.");
    const role = await access.createRole(request.params.iTwinId, { displayName: body.displayName, description: body.description ?? null, permissions: body.permissions ?? [] });
    return reply.code(201).send({ role: presentRole(role) });
  });

  api.patch<{ Params: { iTwinId: string; roleId: string } }>("/itwins/:iTwinId/roles/:roleId", async (request) => {
    const body = parseBody(updateRoleBody, request.body, "Cannot update Role.");
    const role = await access.updateRole(request.params.iTwinId, request.params.roleId, {
      ...(body.displayName !== undefined ? { displayName: body.displayName } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.permissions !== undefined ? { permissions: body.permissions } : {}),
    });
    return { role: presentRole(role) };
  });

  api.delete<{ Params: { iTwinId: string; roleId: string } }>("/itwins/:iTwinId/roles/:roleId", async (request, reply) => {
    await access.deleteRole(request.params.iTwinId, request.params.roleId);
    return reply.code(204).send();
  });

  api.get<{ Params: { iTwinId: string } }>("/itwins/:iTwinId/members/users", async (request) => {
    const { iTwinId } = request.params;
    const roles = new Map((await access.listRoles(iTwinId)).map((r) => [r.id, r]));
    return { members: await Promise.all((await access.listMembers(iTwinId)).map((m) => presentMember(iTwinId, m, roles))) };
  });

  api.get<{ Params: { iTwinId: string; userId: string } }>("/itwins/:iTwinId/members/users/:userId", async (request) => {
    const { iTwinId, userId } = request.params;
    return { member: await presentMember(iTwinId, await access.getMember(iTwinId, userId)) };
  });

  api.post<{ Params: { iTwinId: string } }>("/itwins/:iTwinId/members/users", async (request, reply) => {
    const body = parseBody(addMembersBody, request.body, "Cannot add members.");
    const { iTwinId } = request.params;
    const members = await access.addMembers(iTwinId, body.members);
    return reply.code(201).send({ members: await Promise.all(members.map((m) => presentMember(iTwinId, m))) });
  });

  api.patch<{ Params: { iTwinId: string; userId: string } }>("/itwins/:iTwinId/members/users/:userId", async (request) => {
    const body = parseBody(updateMemberBody, request.body, "Cannot update member.");
    const { iTwinId, userId } = request.params;
    return { member: await presentMember(iTwinId, await access.setMemberRoles(iTwinId, userId, body.roleIds)) };
  });

  api.delete<{ Params: { iTwinId: string; userId: string } }>("/itwins/:iTwinId/members/users/:userId", async (request, reply) => {
    await access.removeMember(request.params.iTwinId, request.params.userId);
    return reply.code(204).send();
  });
}
