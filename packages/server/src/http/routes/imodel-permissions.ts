import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { ApiRouteContext } from "./context.js";
import { MANAGE, iModel } from "../authz/rules.js";
import { parseBody } from "../validation.js";
import { bodyOf } from "../schemas.js";
import { warnWhenNotEnforced } from "./access-control.js";

type Params = Record<string, string | undefined>;

const ROLE_GRANT = {
  type: "object",
  properties: {
    roleId: { type: "string" },
    displayName: { type: ["string", "null"] },
    permissions: { type: "array", items: { type: "string" } },
  },
};
const USER_GRANT = {
  type: "object",
  properties: { userId: { type: "string" }, permissions: { type: "array", items: { type: "string" } } },
};

const permissions = z.array(z.string().max(64)).max(16);
const permissionsBody = z.object({ permissions });
// The iModels API's `PATCH /imodels/{id}/rolepermissions` and `…/userpermissions` name the role or user in the body.
const rolePermissionsBody = z.object({ roleId: z.string().min(1).max(64), permissions });
const userPermissionsBody = z.object({ userId: z.string().min(1).max(255), permissions });

/**
 * The iModels API's iModel permission operations: grants of one iModel to iTwin roles or single users, at the
 * cloud's paths (`/rolepermissions`, `/userpermissions`) and modelhub's first ones (`/permissions/roles|users`).
 * When an iModel has any, they replace the iTwin's permissions for it (`imodels_delete` stays iTwin-level; Owners
 * keep everything). All need `imodels_manage` on the iModel (each route's config) and follow AccessService's no-escalation rules.
 */
export const iModelPermissionRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub, access }) => {
  const scopeOf = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const iModel = await hub.iModels.get(request.params.id);
    return { iTwinId: iModel.iTwinId, iModelId: iModel.id };
  };

  const listRoles = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const scope = await scopeOf(request);
    const names = new Map((await access.listRoles(scope.iTwinId)).map((r) => [r.id, r.displayName]));
    const grants = await access.iModelGrants(scope.iModelId);
    return {
      rolePermissions: grants.roles.map((r) => ({
        roleId: r.roleId,
        displayName: names.get(r.roleId) ?? null,
        permissions: r.permissions,
      })),
    };
  };
  const setRole = async (
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
    roleId: string,
    wanted: readonly string[],
  ) => {
    const scope = await scopeOf(request);
    const granted = await access.setIModelRolePermissions(request.actor, scope, roleId, wanted);
    const role = await access.getRole(scope.iTwinId, roleId);
    warnWhenNotEnforced(access, reply);
    return { rolePermission: { roleId: role.id, displayName: role.displayName, permissions: granted } };
  };
  const listUsers = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const grants = await access.iModelGrants((await scopeOf(request)).iModelId);
    return { userPermissions: grants.users.map((u) => ({ userId: u.userId, permissions: u.permissions })) };
  };
  const setUser = async (
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
    userId: string,
    wanted: readonly string[],
  ) => {
    const granted = await access.setIModelUserPermissions(request.actor, await scopeOf(request), userId, wanted);
    warnWhenNotEnforced(access, reply);
    return { userPermission: { userId, permissions: granted } };
  };

  // modelhub's paths: the role or user in the path.
  api.get<{ Params: { id: string } }>(
    "/:id/permissions/roles",
    {
      schema: {
        response: { 200: { type: "object", properties: { rolePermissions: { type: "array", items: ROLE_GRANT } } } },
      },
      config: { summary: "List an iModel's role grants", authz: iModel(MANAGE) },
    },
    listRoles,
  );
  api.patch<{ Params: { id: string; roleId: string } }>(
    "/:id/permissions/roles/:roleId",
    {
      schema: {
        body: bodyOf(permissionsBody),
        response: { 200: { type: "object", properties: { rolePermission: ROLE_GRANT } } },
      },
      config: {
        summary: "Grant a role permissions on an iModel",
        authz: iModel(MANAGE),
        audit: { action: "imodel.permissions.role.set", target: (p) => p.roleId },
      },
    },
    async (request, reply) =>
      setRole(
        request,
        reply,
        request.params.roleId,
        parseBody(permissionsBody, request.body, "Cannot update iModel role permissions.").permissions,
      ),
  );
  api.get<{ Params: { id: string } }>(
    "/:id/permissions/users",
    {
      schema: {
        response: { 200: { type: "object", properties: { userPermissions: { type: "array", items: USER_GRANT } } } },
      },
      config: { summary: "List an iModel's user grants", authz: iModel(MANAGE) },
    },
    listUsers,
  );
  api.patch<{ Params: { id: string; userId: string } }>(
    "/:id/permissions/users/:userId",
    {
      schema: {
        body: bodyOf(permissionsBody),
        response: { 200: { type: "object", properties: { userPermission: USER_GRANT } } },
      },
      config: {
        summary: "Grant a user permissions on an iModel",
        authz: iModel(MANAGE),
        audit: { action: "imodel.permissions.user.set", target: (p) => p.userId },
      },
    },
    async (request, reply) =>
      setUser(
        request,
        reply,
        request.params.userId,
        parseBody(permissionsBody, request.body, "Cannot update iModel user permissions.").permissions,
      ),
  );

  // The cloud's paths: the role or user in the body of a PATCH.
  api.get<{ Params: { id: string } }>(
    "/:id/rolepermissions",
    {
      schema: {
        response: { 200: { type: "object", properties: { rolePermissions: { type: "array", items: ROLE_GRANT } } } },
      },
      config: { summary: "List an iModel's role permissions", authz: iModel(MANAGE) },
    },
    listRoles,
  );
  api.patch<{ Params: { id: string } }>(
    "/:id/rolepermissions",
    {
      schema: {
        body: bodyOf(rolePermissionsBody),
        response: { 200: { type: "object", properties: { rolePermission: ROLE_GRANT } } },
      },
      config: {
        summary: "Set a role's permissions on an iModel",
        authz: iModel(MANAGE),
        audit: { action: "imodel.permissions.role.set", target: (_p, body) => body.roleId },
      },
    },
    async (request, reply) => {
      const body = parseBody(rolePermissionsBody, request.body, "Cannot update iModel role permissions.");
      return setRole(request, reply, body.roleId, body.permissions);
    },
  );
  api.get<{ Params: { id: string } }>(
    "/:id/userpermissions",
    {
      schema: {
        response: { 200: { type: "object", properties: { userPermissions: { type: "array", items: USER_GRANT } } } },
      },
      config: { summary: "List an iModel's user permissions", authz: iModel(MANAGE) },
    },
    listUsers,
  );
  api.patch<{ Params: { id: string } }>(
    "/:id/userpermissions",
    {
      schema: {
        body: bodyOf(userPermissionsBody),
        response: { 200: { type: "object", properties: { userPermission: USER_GRANT } } },
      },
      config: {
        summary: "Set a user's permissions on an iModel",
        authz: iModel(MANAGE),
        audit: { action: "imodel.permissions.user.set", target: (_p, body) => body.userId },
      },
    },
    async (request, reply) => {
      const body = parseBody(userPermissionsBody, request.body, "Cannot update iModel user permissions.");
      return setUser(request, reply, body.userId, body.permissions);
    },
  );

  // Removing a grant, at both paths.
  for (const path of ["/:id/permissions/roles/:roleId", "/:id/rolepermissions/:roleId"]) {
    const config = {
      summary: "Remove a role's grant on an iModel",
      authz: iModel(MANAGE),
      audit: { action: "imodel.permissions.role.delete", target: (p: Params) => p.roleId },
    };
    api.delete<{ Params: { id: string; roleId: string } }>(
      path,
      { schema: { response: { 204: {} } }, config },
      async (request, reply) => {
        await setRole(request, reply, request.params.roleId, []);
        return reply.code(204).send();
      },
    );
  }
  for (const path of ["/:id/permissions/users/:userId", "/:id/userpermissions/:userId"]) {
    const config = {
      summary: "Remove a user's grant on an iModel",
      authz: iModel(MANAGE),
      audit: { action: "imodel.permissions.user.delete", target: (p: Params) => p.userId },
    };
    api.delete<{ Params: { id: string; userId: string } }>(
      path,
      { schema: { response: { 204: {} } }, config },
      async (request, reply) => {
        await setUser(request, reply, request.params.userId, []);
        return reply.code(204).send();
      },
    );
  }
};
