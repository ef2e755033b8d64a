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

  // Asks for a named version's checkpoint again (after a failure). Until the hub generates checkpoints past the
  // baseline, this answers with the existing checkpoint or CheckpointNotFound.
  api.put<{ Params: { id: string; versionId: string } }>("/:id/namedversions/:versionId/checkpoint", async (request) => {
    const record = await hub.checkpoints.forNamedVersion(request.params.id, request.params.versionId);
    return { checkpoint: request.presenter.checkpoint(record) };
  });
}
