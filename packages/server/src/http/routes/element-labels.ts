// `GET /imodels/{id}/elementlabels?ids=0x…,0x…`: what people call the elements (or models) of a lock list — label,
// class, model — read from the iModel's newest checkpoint by the iTwin.js worker (app/element-labels.ts). modelhub's
// own, for the web UI's "Briefcases and locks". The labels are the model's content: `imodels_read`, like the files.
// Registered inside the `/imodels` API scope.
import type { FastifyPluginAsync } from "fastify";
import { READ, iModel } from "../authz/rules.js";
import type { ElementLabels } from "../../background/element-labels.js";
import { MAX_DESCRIBED_IDS } from "../../background/element-labels.js";
import { invalidValue } from "../../domain/errors.js";

const OPERATION = "Cannot get element labels.";
const ID = /^0x[0-9a-f]{1,16}$/i;

export const elementLabelRoutes: FastifyPluginAsync<{
  labels: ElementLabels;
  iModelExists: (iModelId: string) => Promise<void>;
}> = async (api, { labels, iModelExists }) => {
  api.get<{ Params: { id: string } }>(
    "/:id/elementlabels",
    { config: { summary: "Labels, classes and models of locked elements (modelhub)", authz: iModel(READ) } },
    async (request) => {
      await iModelExists(request.params.id);
      const raw = request.params_.ids;
      const ids =
        typeof raw === "string"
          ? [
              ...new Set(
                raw
                  .split(",")
                  .map((s) => s.trim().toLowerCase())
                  .filter(Boolean),
              ),
            ]
          : [];
      if (ids.length === 0)
        throw invalidValue(
          OPERATION,
          "ids",
          "Give the element ids as 'ids=0x1,0x2' (hexadecimal, as locks name them).",
        );
      if (ids.length > MAX_DESCRIBED_IDS)
        throw invalidValue(OPERATION, "ids", `At most ${MAX_DESCRIBED_IDS} ids at once, not ${ids.length}.`);
      const bad = ids.find((id) => !ID.test(id));
      if (bad !== undefined)
        throw invalidValue(
          OPERATION,
          "ids",
          `'${bad.slice(0, 40)}' is not an element id (hexadecimal, e.g. 0x20000000001).`,
        );
      return await labels.describe(request.params.id, ids);
    },
  );
};
