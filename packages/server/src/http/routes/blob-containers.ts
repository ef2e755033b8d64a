import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import type { BlobContainerService, ContainerRecord } from "../../domain/blob-containers/blob-container-service.js";
import { MAX_TOKEN_SECONDS } from "../../domain/blob-containers/blob-container-service.js";
import { invalidValue } from "../../domain/errors.js";
import type { AuthzRule } from "../authz/rules.js";
import type { AuditAction } from "../route-config.js";
import { objectAt } from "../route-config.js";
import type { Query } from "../query.js";
import { parseStringParam } from "../query.js";
import { parseBody } from "../validation.js";

const text = (max: number) => z.string().max(max, { error: `The value exceeds allowed ${max} characters.` });
const json = z.record(z.string(), z.unknown());
const scope = z.strictObject({
  iTwinId: text(64).min(1),
  iModelId: text(64).min(1).optional(),
  ownerGuid: text(64).min(1).optional(),
});
const metadata = z.strictObject({
  // iTwin.js: "machine-readable, always lowercase and singular" (e.g. "workspace", "schemasync").
  containerType: text(64).min(1),
  label: text(255),
  description: text(1024).optional(),
  json: json.optional(),
});
const createBody = z.strictObject({ scope, metadata, containerId: text(63).optional() });
const updateJsonBody = z.strictObject({ json });
const tokenBody = z.strictObject({
  accessLevel: z.enum(["read", "write", "admin", "writeIfPossible"]).optional(),
  durationSeconds: z
    .number()
    .int()
    .positive()
    .max(10 * MAX_TOKEN_SECONDS)
    .optional(),
});

/**
 * Who may call each route: any authenticated caller reaches them, and BlobContainerService checks the container's
 * iTwin roles (the container's iTwin is in its record, not in the path).
 */
const BY_CONTAINER: AuthzRule = {
  kind: "authenticated",
  why: "BlobContainerService checks the roles on the container's iTwin (or iModel): read to see it and get a read token, write for a write token, manage to create, delete, update it and get an admin token",
};
const LIST: AuthzRule = {
  kind: "authenticated",
  why: "lists only the containers of the iTwin the caller may read (BlobContainerService.list)",
};

type Target = NonNullable<AuditAction["target"]>;
/** A route's own facts (`config: { authz, audit }`, see route-config.ts), next to it. */
function routeConfig(authz: AuthzRule, summary: string, audit?: { action: string; target: Target }) {
  return { config: { authz, summary, ...(audit ? { audit } : {}) } };
}
const byContainerId: Target = (p) => p.containerId;

export interface BlobContainerRouteOptions {
  containers: BlobContainerService;
  publicUrl: string | undefined;
}

/**
 * The `BlobContainer` service of iTwin.js over HTTP (`/blobcontainers`): what `@modelhub/backend-access`'s
 * `ContainerService` calls, so workspaces (`IModelHost.getITwinWorkspace`, `WorkspaceEditor`) and SchemaSync work
 * against the hub. Containers live in the storage account of `--blobs azure:`; a hub on local files answers 409
 * `ContainerServiceNotAvailable`.
 *
 * - `POST /blobcontainers` `{scope, metadata, containerId?}` → 201 `{container}`
 * - `GET /blobcontainers?iTwinId=…[&iModelId=…][&containerType=…][&label=…]` → `{containers: [...]}`
 * - `GET /blobcontainers/{id}` → `{container}` (scope and metadata)
 * - `PATCH /blobcontainers/{id}` `{json}` → `{container}` (metadata's json replaced)
 * - `DELETE /blobcontainers/{id}` → 204 (the container and every blob in it)
 * - `POST /blobcontainers/{id}/token` `{accessLevel?, durationSeconds?}` → `{token, accessLevel, expiration, provider, baseUri, containerId, scope, metadata}`
 */
export const blobContainerRoutes: FastifyPluginAsync<BlobContainerRouteOptions> = async (
  api,
  { containers, publicUrl },
) => {
  const self = (request: FastifyRequest, containerId: string) =>
    `${publicUrl ? publicUrl.replace(/\/+$/, "") : `${request.protocol}://${request.host}`}/blobcontainers/${encodeURIComponent(containerId)}`;
  const present = (request: FastifyRequest, r: ContainerRecord) => ({
    containerId: r.containerId,
    ...containers.location(),
    scope: r.scope,
    metadata: r.metadata,
    createdBy: r.createdBy,
    createdDateTime: r.createdAt,
    _links: { self: { href: self(request, r.containerId) } },
  });

  api.post(
    "/",
    routeConfig(BY_CONTAINER, "Create a blob container", {
      action: "blobcontainer.create",
      target: (_p, body, answer) => objectAt(answer, "container").containerId ?? body.containerId,
    }),
    async (request, reply) => {
      const body = parseBody(createBody, request.body, "Cannot create container.");
      const record = await containers.create(request.actor, {
        scope: body.scope,
        metadata: body.metadata,
        ...(body.containerId !== undefined ? { containerId: body.containerId } : {}),
      });
      return reply.code(201).send({ container: present(request, record) });
    },
  );

  api.get("/", routeConfig(LIST, "List an iTwin's blob containers"), async (request) => {
    const q = request.query as Query;
    const operation = "Cannot get containers.";
    const iTwinId = parseStringParam(q, "iTwinId", operation);
    if (iTwinId === undefined)
      throw invalidValue(operation, "iTwinId", "The iTwin whose containers are listed is required.");
    const iModelId = parseStringParam(q, "iModelId", operation);
    const containerType = parseStringParam(q, "containerType", operation);
    const label = parseStringParam(q, "label", operation);
    const rows = await containers.list(request.actor, {
      iTwinId,
      ...(iModelId !== undefined ? { iModelId } : {}),
      ...(containerType !== undefined ? { containerType } : {}),
      ...(label !== undefined ? { label } : {}),
    });
    return { containers: rows.map((r) => present(request, r)) };
  });

  api.get<{ Params: { containerId: string } }>(
    "/:containerId",
    routeConfig(BY_CONTAINER, "Get a blob container"),
    async (request) => {
      return { container: present(request, await containers.get(request.actor, request.params.containerId)) };
    },
  );

  api.patch<{ Params: { containerId: string } }>(
    "/:containerId",
    routeConfig(BY_CONTAINER, "Update a blob container's metadata json", {
      action: "blobcontainer.update",
      target: byContainerId,
    }),
    async (request) => {
      const body = parseBody(updateJsonBody, request.body, "Cannot update container.");
      return {
        container: present(request, await containers.updateJson(request.actor, request.params.containerId, body.json)),
      };
    },
  );

  api.delete<{ Params: { containerId: string } }>(
    "/:containerId",
    routeConfig(BY_CONTAINER, "Delete a blob container", { action: "blobcontainer.delete", target: byContainerId }),
    async (request, reply) => {
      await containers.delete(request.actor, request.params.containerId);
      return reply.code(204).send();
    },
  );

  api.post<{ Params: { containerId: string } }>(
    "/:containerId/token",
    routeConfig(BY_CONTAINER, "Get a SAS token for a blob container", {
      action: "blobcontainer.token",
      target: byContainerId,
    }),
    async (request) => {
      const body = parseBody(tokenBody, request.body ?? {}, "Cannot get container token.");
      const granted = await containers.requestToken(request.actor, request.params.containerId, {
        ...(body.accessLevel !== undefined ? { accessLevel: body.accessLevel } : {}),
        ...(body.durationSeconds !== undefined ? { durationSeconds: body.durationSeconds } : {}),
      });
      return {
        token: granted.token,
        accessLevel: granted.access,
        expiration: granted.expiresAt.toISOString(),
        containerId: granted.record.containerId,
        ...containers.location(),
        scope: granted.record.scope,
        metadata: granted.record.metadata,
      };
    },
  );
};
