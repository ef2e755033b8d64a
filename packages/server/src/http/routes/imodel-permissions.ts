import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AccessService } from "../../domain/access/access-service.js";
import type { Hub } from "../../domain/hub.js";
import type { ApiRouteContext } from "../app.js";
import { parseBody } from "../validation.js";

const permissionsBody = z.object({ permissions: z.array(z.string().max(64)).max(16) });

/**
 * The iModels API's iModel permission operations: grants of one iModel to iTwin roles or single users. When an
 * iModel has any, they replace the iTwin's permissions for it (`imodels_delete` stays iTwin-level). All need
 * `imodels_manage` on the iModel (rules.ts).
 */
export async function iModelPermissionRoutes(api: FastifyInstance, { hub, access }: ApiRouteContext): Promise<void> {
  api.get<{ Params: { id: string } }>("/:id/permissions/roles", async (request) => {
    const { iModel, grants } = await grantsOfIModel(hub, access, request.params.id);
    const names = new Map((await access.listRoles(iModel.iTwinId)).map((r) => [r.id, r.displayName]));
    return { rolePermissions: grants.roles.map((r) => ({ roleId: r.roleId, displayName: names.get(r.roleId) ?? null, permissions: r.permissions })) };
  });

  api.patch<{ Params: { id: string; roleId: string } }>("/:id/permissions/roles/:roleId", async (request) => {
    const body = parseBody(permissionsBody, request.body, "Cannot update iModel role permissions.");
    const iModel = await hub.iModels.get(request.params.id);
    const permissions = await access.setIModelRolePermissions(request.actor, { iTwinId: iModel.iTwinId, iModelId: iModel.id }, request.params.roleId, body.permissions);
    const role = await access.getRole(iModel.iTwinId, request.params.roleId);
    return { rolePermission: { roleId: role.id, displayName: role.displayName, permissions } };
  });

  api.delete<{ Params: { id: string; roleId: string } }>("/:id/permissions/roles/:roleId", async (request, reply) => {
    const iModel = await hub.iModels.get(request.params.id);
    await access.setIModelRolePermissions(request.actor, { iTwinId: iModel.iTwinId, iModelId: iModel.id }, request.params.roleId, []);
    return reply.code(204).send();
  });

  api.get<{ Params: { id: string } }>("/:id/permissions/users", async (request) => {
    const { grants } = await grantsOfIModel(hub, access, request.params.id);
    return { userPermissions: grants.users.map((u) => ({ userId: u.userId, permissions: u.permissions })) };
  });

  api.patch<{ Params: { id: string; userId: string } }>("/:id/permissions/users/:userId", async (request) => {
    const body = parseBody(permissionsBody, request.body, "Cannot update iModel user permissions.");
    const iModel = await hub.iModels.get(request.params.id);
    const permissions = await access.setIModelUserPermissions(request.actor, { iTwinId: iModel.iTwinId, iModelId: iModel.id }, request.params.userId, body.permissions);
    return { userPermission: { userId: request.params.userId, permissions } };
  });

  api.delete<{ Params: { id: string; userId: string } }>("/:id/permissions/users/:userId", async (request, reply) => {
    const iModel = await hub.iModels.get(request.params.id);
    await access.setIModelUserPermissions(request.actor, { iTwinId: iModel.iTwinId, iModelId: iModel.id }, request.params.userId, []);
    return reply.code(204).send();
  });
}

async function grantsOfIModel(hub: Hub, access: AccessService, iModelId: string) {
  const iModel = await hub.iModels.get(iModelId);
  return { iModel, grants: await access.iModelGrants(iModel.id) };
}
