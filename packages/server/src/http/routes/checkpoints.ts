import type { FastifyInstance } from "fastify";
import { parseChangesetIdOrIndex } from "../../domain/ids.js";
import type { ApiRouteContext } from "../app.js";

export async function checkpointRoutes(api: FastifyInstance, { hub }: ApiRouteContext): Promise<void> {
  api.get<{ Params: { id: string; changesetId: string } }>("/:id/changesets/:changesetId/checkpoint", async (request) => {
    const record = await hub.checkpoints.forChangeset(request.params.id, parseChangesetIdOrIndex(request.params.changesetId));
    return { checkpoint: request.presenter.checkpoint(record) };
  });

  api.get<{ Params: { id: string; versionId: string } }>("/:id/namedversions/:versionId/checkpoint", async (request) => {
    const record = await hub.checkpoints.forNamedVersion(request.params.id, request.params.versionId);
    return { checkpoint: request.presenter.checkpoint(record) };
  });

  // Asks for a named version's checkpoint again (after a failure): `scheduled`, or the existing one.
  api.put<{ Params: { id: string; versionId: string } }>("/:id/namedversions/:versionId/checkpoint", async (request) => {
    const record = await hub.checkpoints.rescheduleForNamedVersion(request.params.id, request.params.versionId);
    return { checkpoint: request.presenter.checkpoint(record) };
  });

  // modelhub's own: every checkpoint of the iModel with its state and size, and the disk they use.
  api.get<{ Params: { id: string } }>("/:id/checkpoints", async (request) => {
    const records = await hub.checkpoints.list(request.params.id);
    return {
      checkpoints: records.map((r) => request.presenter.checkpoint(r)),
      totalSize: records.reduce((sum, r) => sum + (r.state === "successful" ? r.size : 0), 0),
    };
  });
}
