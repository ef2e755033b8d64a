import type { FastifyPluginAsync } from "fastify";
import { invalidRequest } from "../../domain/errors.js";
import { wirePermissions } from "@modelhub/protocol";
import { grantsOfRequest } from "../authz/authorize.js";
import { ANY, DELETE, MANAGE, READ, WEBVIEW, authenticated, iModel } from "../authz/rules.js";
import { objectAt } from "../route-config.js";
import { offsetPagingLinks, readPage } from "../paging.js";
import { parseEnumParam, parseOrderBy, parsePage, parseStringParam, prefersRepresentation } from "../query.js";
import { parseBody } from "../validation.js";
import { IMODEL, ORDER_BY, PAGING, PERMISSION_LIST, PREFER, bodyOf, one, page, query } from "../schemas.js";
import type { ApiRouteContext } from "./context.js";
import { copyBody, createBody, updateBody } from "../imodel-bodies.js";

/** iModels (`/imodels`, `/imodels/{id}` and what belongs to the iModel itself): the iModels API's iModel operations. */
export const iModelRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub, access }) => {
  api.post(
    "/",
    {
      schema: { body: bodyOf(createBody), response: { 201: one("iModel", IMODEL) } },
      config: {
        summary: "Create an iModel (empty, from a baseline file, or from a template)",
        // Creating in an iTwin needs manage there; an iTwin id the hub has never seen is created, the caller its Owner.
        authz: { kind: "iTwin", anyOf: MANAGE, from: "body", claim: true },
        audit: { action: "imodel.create", target: (_p, body, answer) => objectAt(answer, "iModel").id ?? body.name },
      },
    },
    async (request, reply) => {
      const body = parseBody(createBody, request.body, "Cannot create iModel.");
      if (body.creationMode === "fromIModelVersion") {
        throw invalidRequest("Cannot create iModel.", [
          {
            code: "InvalidValue",
            message: "Creating an iModel from another iModel's version is not supported by modelhub.",
            target: "creationMode",
          },
        ]);
      }
      if (
        body.template !== undefined &&
        (body.baselineFile !== undefined || (body.creationMode !== undefined && body.creationMode !== "empty"))
      ) {
        throw invalidRequest("Cannot create iModel.", [
          { code: "InvalidValue", message: "A template cannot be combined with a baseline file.", target: "template" },
        ]);
      }
      if (body.creationMode === "fromBaseline" && body.baselineFile === undefined) {
        throw invalidRequest("Cannot create iModel.", [
          { code: "MissingRequiredProperty", message: "Required property is missing.", target: "baselineFile" },
        ]);
      }
      if (body.geographicCoordinateSystem !== undefined) {
        throw invalidRequest("Cannot create iModel.", [
          // iTwin.js 5.1.9 resolves CRS ids only from Bentley's online GCS workspace, which the worker disables: offline,
          // its dictionary is empty and a GCS given at creation is silently not stored (docs/compatibility.md).
          {
            code: "InvalidValue",
            message:
              "modelhub cannot set a geographic coordinate system at creation: it resolves no coordinate reference system ids offline. Create the iModel without it, then set it with iTwin.js (IModelDb.setGeographicCoordinateSystem) and push.",
            target: "geographicCoordinateSystem",
          },
        ]);
      }
      const template = body.template;
      if (template !== undefined) {
        // The route's rule checked creating in the iTwin; the template must also be readable by the caller.
        const source = await hub.iModels.get(template.iModelId);
        await access.require(request.actor, ["imodels_read"], { iTwinId: source.iTwinId, iModelId: source.id });
        const input = {
          kind: "template" as const,
          iTwinId: body.iTwinId,
          name: body.name,
          description: body.description ?? null,
          containersEnabled: body.containersEnabled ?? 0,
          ...(body.extent !== undefined ? { extent: body.extent } : {}),
          ...(template.changesetId !== undefined ? { changesetId: template.changesetId } : {}),
        };
        await hub.iModels.checkCopy(source.id, input); // before createIn may make the target iTwin
        const record = await access.createIn(request.actor, body.iTwinId, () =>
          hub.iModels.copy(request.actor, source.id, input),
        );
        return reply.code(201).send({ iModel: request.presenter.iModel(record) });
      }
      const record = await access.createIn(request.actor, body.iTwinId, () =>
        hub.iModels.create(request.actor, {
          iTwinId: body.iTwinId,
          name: body.name,
          description: body.description ?? null,
          extent: body.extent ?? null,
          containersEnabled: body.containersEnabled ?? 0,
          ...(body.baselineFile ? { baselineFileSize: body.baselineFile.size } : {}),
        }),
      );
      return reply
        .code(201)
        .send({ iModel: request.presenter.iModel(record, { upload: body.baselineFile !== undefined }) });
    },
  );

  api.get(
    "/",
    {
      schema: {
        querystring: query(
          {
            iTwinId: "The iTwin (required)",
            name: "Exact name",
            $search: "Part of the name",
            state: { type: "string", enum: ["initialized", "notInitialized"] },
            $includeFailed: {
              type: "string",
              enum: ["true", "false"],
              description:
                "modelhub extension: also list iModels whose baseline failed (state notInitialized; the reason is in GET /imodels/{id}/operations/create)",
            },
            $orderBy: ORDER_BY("name", "createdDateTime"),
            ...PAGING,
          },
          ["iTwinId"],
        ),
        headers: PREFER,
        response: { 200: page("iModels", IMODEL) },
      },
      config: {
        summary: "List an iTwin's iModels",
        authz: authenticated("lists only the iModels the caller can see (AccessService.visibility)"),
      },
    },
    async (request) => {
      const q = request.params_;
      const operation = "Cannot get iModels.";
      const iTwinId = parseStringParam(q, "iTwinId", operation);
      if (iTwinId === undefined) {
        throw invalidRequest(operation, [
          { code: "MissingRequiredParameter", message: "Required parameter is missing.", target: "iTwinId" },
        ]);
      }
      const page = parsePage(q, operation);
      const name = parseStringParam(q, "name", operation);
      const search = parseStringParam(q, "$search", operation);
      const state = parseEnumParam(q, "state", operation, ["initialized", "notInitialized"] as const);
      const orderBy = parseOrderBy(q, operation, ["name", "createdDateTime"] as const);
      // A modelhub extension: failed creations stay out of lists (the official clients never see them) unless asked for.
      const includeFailed = parseEnumParam(q, "$includeFailed", operation, ["true", "false"] as const) === "true";
      const filter = {
        iTwinId,
        ...(includeFailed ? { includeFailed } : {}),
        ...(name ? { name } : {}),
        ...(search ? { search } : {}),
        ...(state ? { state } : {}),
        ...(orderBy ? { orderBy } : {}),
      };
      // Only what the caller can see; when something is hidden, the iTwin's (few) iModels are filtered, then paged.
      const visible = await access.visibility(request.actor, iTwinId);
      const { rows, hasMore } = await readPage(page, async (p) =>
        visible === "all"
          ? hub.iModels.list(filter, p)
          : (await hub.iModels.list(filter, { limit: Number.MAX_SAFE_INTEGER, offset: 0 }))
              .filter((r) => visible(r.id))
              .slice(p.offset, p.offset + p.limit),
      );
      const full = prefersRepresentation(request.headers.prefer);
      return {
        iModels: rows.map((r) => (full ? request.presenter.iModel(r) : request.presenter.minimalIModel(r))),
        _links: offsetPagingLinks(request.presenter.apiBase, q, page, hasMore),
      };
    },
  );

  api.get<{ Params: { id: string } }>(
    "/:id",
    {
      schema: { response: { 200: one("iModel", IMODEL) } },
      config: { summary: "Get an iModel", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      return { iModel: request.presenter.iModel(await hub.iModels.get(request.params.id)) };
    },
  );

  api.patch<{ Params: { id: string } }>(
    "/:id",
    {
      schema: { body: bodyOf(updateBody), response: { 200: one("iModel", IMODEL) } },
      config: { summary: "Update an iModel", authz: iModel(MANAGE), audit: { action: "imodel.update" } },
    },
    async (request) => {
      const body = parseBody(updateBody, request.body, "Cannot update iModel.");
      const record = await hub.iModels.update(request.params.id, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.extent !== undefined ? { extent: body.extent } : {}),
      });
      return { iModel: request.presenter.iModel(record) };
    },
  );

  api.delete<{ Params: { id: string } }>(
    "/:id",
    {
      schema: { response: { 204: {} } },
      config: { summary: "Delete an iModel", authz: iModel(DELETE), audit: { action: "imodel.delete" } },
    },
    async (request, reply) => {
      await hub.iModels.delete(request.params.id, request.actor);
      return reply.code(204).send();
    },
  );

  // Baseline upload: the client uploads to `_links.upload`, then POSTs here (`_links.complete`).
  api.post<{ Params: { id: string } }>(
    "/:id/baselinefile",
    {
      schema: { response: { 200: { type: "object" } } },
      config: {
        summary: "Complete a baseline file upload",
        authz: iModel(MANAGE),
        audit: { action: "imodel.baseline.complete" },
      },
    },
    async (request) => {
      const record = await hub.iModels.completeBaselineUpload(request.params.id);
      const checkpoint =
        record.state === "initialized" ? await hub.checkpoints.latest(record.id).catch(() => undefined) : undefined;
      return { baselineFile: request.presenter.baselineFile(record, checkpoint) };
    },
  );

  api.get<{ Params: { id: string } }>(
    "/:id/baselinefile",
    {
      schema: { response: { 200: { type: "object" } } },
      config: { summary: "Get an iModel's baseline file", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const record = await hub.iModels.get(request.params.id);
      // An iModel created empty has a baseline too (the one the hub generated): it is described the same way.
      const checkpoint =
        record.state === "initialized"
          ? await hub.checkpoints.forChangeset(record.id, { index: 0 }).catch(() => undefined)
          : undefined;
      return { baselineFile: request.presenter.baselineFile(record, checkpoint) };
    },
  );

  // Clone and fork: read on the source (the route's rule), create on the target iTwin (AccessService.createIn); 202.
  for (const kind of ["clone", "fork"] as const) {
    api.post<{ Params: { id: string } }>(
      `/:id/${kind}`,
      {
        schema: {
          body: bodyOf(copyBody),
          response: {
            202: {
              description: "Accepted: the new iModel is in `Location`, its creation in `create-imodel-operation`",
            },
          },
        },
        config: {
          summary: `${kind === "clone" ? "Clone" : "Fork"} an iModel (also needs imodels_manage on the target iTwin)`,
          authz: iModel(READ),
          audit: { action: `imodel.${kind}` },
        },
      },
      async (request, reply) => {
        const operation = kind === "clone" ? "Cannot clone iModel." : "Cannot fork iModel.";
        const body = parseBody(copyBody, request.body, operation);
        if (kind === "clone" && body.preserveHistory !== undefined) {
          throw invalidRequest(operation, [
            {
              code: "InvalidValue",
              message: "'preserveHistory' is a Fork iModel property.",
              target: "preserveHistory",
            },
          ]);
        }
        const input = {
          kind,
          iTwinId: body.iTwinId,
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.description !== undefined ? { description: body.description } : {}),
          ...(body.containersEnabled !== undefined ? { containersEnabled: body.containersEnabled } : {}),
          ...(body.changesetId !== undefined ? { changesetId: body.changesetId } : {}),
          ...(body.changesetIndex !== undefined ? { changesetIndex: body.changesetIndex } : {}),
          ...(body.preserveHistory !== undefined ? { preserveHistory: body.preserveHistory } : {}),
        };
        await hub.iModels.checkCopy(request.params.id, input); // before createIn may make the target iTwin
        const record = await access.createIn(request.actor, body.iTwinId, () =>
          hub.iModels.copy(request.actor, request.params.id, input),
        );
        const location = `${request.presenter.apiBase}/${record.id}`;
        return reply
          .code(202)
          .header("location", location)
          .header("create-imodel-operation", `${location}/operations/create`)
          .send();
      },
    );
  }

  api.get<{ Params: { id: string } }>(
    "/:id/operations/create",
    {
      schema: { response: { 200: { type: "object" } } },
      config: { summary: "Get an iModel's creation state", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const record = await hub.iModels.get(request.params.id);
      const state =
        record.state === "initialized"
          ? "successful"
          : record.baselineState === "initializationFailed"
            ? "failed"
            : record.baselineState === "waitingForFile"
              ? "waitingForFile"
              : "scheduled";
      const source = record.creationSource;
      return {
        createOperation: {
          state,
          clonedFrom: source?.kind === "clone" ? { iModelId: source.iModelId, changesetId: source.changesetId } : null,
          forkedFrom:
            source?.kind === "fork"
              ? {
                  iModelId: source.iModelId,
                  changesetId: source.changesetId,
                  relationshipId: source.relationshipId ?? record.id,
                }
              : null,
          ...(record.baselineFailure ? { failureReason: record.baselineFailure } : {}),
        },
      };
    },
  );

  // The caller's effective permissions (open mode: all of them), in the cloud's spelling (`imodels-delete`).
  api.get<{ Params: { id: string } }>(
    "/:id/permissions",
    {
      schema: { response: { 200: PERMISSION_LIST } },
      config: { summary: "Get the caller's permissions on an iModel", authz: iModel(ANY) },
    },
    async (request) => {
      await hub.iModels.get(request.params.id);
      return { permissions: wirePermissions(grantsOfRequest(request).permissions) };
    },
  );
};
