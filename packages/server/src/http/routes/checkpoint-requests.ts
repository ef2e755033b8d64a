// `PUT /imodels/{id}/changesets/{changesetId}/checkpoint`: asks the hub to make the checkpoint of any changeset, so
// that the iModel as of that changeset can be downloaded as a .bim (the web UI's "Prepare .bim"). modelhub's own, the
// changeset twin of the cloud's `PUT …/namedversions/{id}/checkpoint`: answers the checkpoint, `scheduled` or the
// existing one; the change feed tells when it is done. Registered inside the `/imodels` API scope.
import type { FastifyPluginAsync } from "fastify";
import { READ, iModel } from "../authz/rules.js";
import { parseChangesetIdOrIndex } from "../../domain/ids.js";
import type { ApiRouteContext } from "./context.js";

export const checkpointRequestRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub }) => {
  api.put<{ Params: { id: string; changesetId: string } }>(
    "/:id/changesets/:changesetId/checkpoint",
    // Who may download the files may ask for this one: it costs the worker what replaying the changesets would cost them.
    {
      config: {
        summary: "Make any changeset's checkpoint (modelhub)",
        authz: iModel(READ),
        audit: { action: "checkpoint.request", target: (p) => p.changesetId },
      },
    },
    async (request) => {
      const record = await hub.checkpoints.requestForChangeset(
        request.params.id,
        parseChangesetIdOrIndex(request.params.changesetId),
      );
      return { checkpoint: request.presenter.checkpoint(record) };
    },
  );
};
