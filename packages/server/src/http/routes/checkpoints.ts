import type { FastifyPluginAsync } from "fastify";
import { parseChangesetIdOrIndex } from "../../domain/ids.js";
import { MANAGE, WEBVIEW, iModel } from "../authz/rules.js";
import { CHECKPOINT, one } from "../schemas.js";
import type { ApiRouteContext } from "./context.js";

export const checkpointRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub }) => {
  api.get<{ Params: { id: string; changesetId: string } }>(
    "/:id/changesets/:changesetId/checkpoint",
    {
      schema: { response: { 200: one("checkpoint", CHECKPOINT) } },
      config: { summary: "Get a changeset's checkpoint", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const record = await hub.checkpoints.forChangeset(
        request.params.id,
        parseChangesetIdOrIndex(request.params.changesetId),
      );
      return { checkpoint: request.presenter.checkpoint(record) };
    },
  );

  api.get<{ Params: { id: string; versionId: string } }>(
    "/:id/namedversions/:versionId/checkpoint",
    {
      schema: { response: { 200: one("checkpoint", CHECKPOINT) } },
      config: { summary: "Get a named version's checkpoint", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const record = await hub.checkpoints.forNamedVersion(request.params.id, request.params.versionId);
      return { checkpoint: request.presenter.checkpoint(record) };
    },
  );

  // Asks for a named version's checkpoint again (after a failure): `scheduled`, or the existing one.
  api.put<{ Params: { id: string; versionId: string } }>(
    "/:id/namedversions/:versionId/checkpoint",
    {
      schema: { response: { 200: one("checkpoint", CHECKPOINT) } },
      config: {
        summary: "Schedule a named version's checkpoint again",
        authz: iModel(MANAGE),
        audit: { action: "checkpoint.reschedule", target: (p) => p.versionId },
      },
    },
    async (request) => {
      const record = await hub.checkpoints.rescheduleForNamedVersion(request.params.id, request.params.versionId);
      return { checkpoint: request.presenter.checkpoint(record) };
    },
  );

  // modelhub's own: every checkpoint of the iModel with its state and size, and the disk they use.
  api.get<{ Params: { id: string } }>(
    "/:id/checkpoints",
    {
      schema: {
        response: {
          200: {
            type: "object",
            properties: { checkpoints: { type: "array", items: CHECKPOINT }, totalSize: { type: "integer" } },
          },
        },
      },
      config: { summary: "List an iModel's checkpoints and their disk use (modelhub)", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const records = await hub.checkpoints.list(request.params.id);
      return {
        checkpoints: records.map((r) => request.presenter.checkpoint(r)),
        totalSize: records.reduce((sum, r) => sum + (r.state === "successful" ? r.size : 0), 0),
      };
    },
  );
};
