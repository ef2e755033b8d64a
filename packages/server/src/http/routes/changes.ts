import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { READ, iModel } from "../authz/rules.js";
import type {
  ChangeElementFilter,
  ChangeService,
  HistoryPoint,
  ResolvedPoint,
} from "../../domain/changes/change-service.js";
import { HubError, invalidValue } from "../../domain/errors.js";
import { parseChangesetIdOrIndex } from "../../domain/ids.js";
import type { NetChange } from "../../domain/changes/net-effect.js";
import type { ApiRouteContext } from "./context.js";
import { offsetPagingLinks } from "../paging.js";
import type { Query } from "../query.js";
import { parseEnumParam, parsePage, parseStringParam } from "../query.js";

/**
 * modelhub extension (issue 20, docs/changes.md): what a changeset did to elements, and the net effect between two
 * points of history. Both read element contents (labels, classes), hence `imodels_read`.
 */
const changesetChanges = { config: { summary: "What one changeset did to elements (modelhub)", authz: iModel(READ) } };
const compare = {
  config: { summary: "Net element changes between two points of history (modelhub)", authz: iModel(READ) },
};

const OPS = ["inserted", "updated", "deleted", "reinserted"] as const;

function parseFilter(q: Query, operation: string): ChangeElementFilter {
  const op = parseEnumParam(q, "op", operation, OPS);
  const modelId = parseStringParam(q, "modelId", operation);
  const classFullName = parseStringParam(q, "classFullName", operation);
  return {
    ...(op ? { op } : {}),
    ...(modelId ? { modelId } : {}),
    ...(classFullName ? { classFullName: classFullName.replace(".", ":") } : {}),
  };
}

/** `12` is changeset index 12 (0: version 0); anything else names a named version. */
function parsePoint(q: Query, name: "from" | "to", operation: string): HistoryPoint {
  const raw = q[name];
  if (raw === undefined || raw.trim() === "") {
    throw new HubError("InvalidiModelsRequest", operation, {
      details: [
        {
          code: "MissingRequiredParameter",
          message: `Required parameter '${name}' is missing: a changeset index or a named version's name.`,
          target: name,
        },
      ],
    });
  }
  if (raw.length > 255)
    throw invalidValue(operation, name, `Provided '${name}' value is not valid: it exceeds 255 characters.`);
  if (/^\d+$/.test(raw)) {
    if (!Number.isSafeInteger(Number(raw)))
      throw invalidValue(operation, name, `Provided '${name}' value is not valid: '${raw}' is not a changeset index.`);
    return { index: Number(raw) };
  }
  return { versionName: raw };
}

function element(c: NetChange & { changedBy?: string[] }) {
  return {
    id: c.id,
    op: c.op,
    classFullName: c.classFullName,
    modelId: c.modelId,
    ...(c.previousModelId ? { previousModelId: c.previousModelId } : {}),
    parentId: c.parentId,
    label: c.label,
    ...(c.properties ? { properties: c.properties } : {}),
    changesets: c.changesets,
    ...(c.changedBy ? { changedBy: c.changedBy } : {}),
  };
}

function point(p: ResolvedPoint) {
  return { changesetIndex: p.changesetIndex, changesetId: p.changesetId, namedVersion: p.namedVersion };
}

function serviceOf(hub: ApiRouteContext["hub"]): ChangeService {
  if (!hub.changes) throw new HubError("NotFound", "Change summaries are not enabled on this hub.");
  return hub.changes;
}

/** The routes, as a plugin under the `/imodels` prefix (the same context as the other API routes). */
export const changeRoutes: FastifyPluginAsync<ApiRouteContext> = async (
  api: FastifyInstance,
  { hub }: ApiRouteContext,
) => {
  api.get<{ Params: { id: string; changesetId: string } }>(
    "/:id/changesets/:changesetId/changes",
    changesetChanges,
    async (request) => {
      const operation = "Cannot get Changeset changes.";
      const q = request.params_;
      const page = parsePage(q, operation);
      const filter = parseFilter(q, operation);
      const result = await serviceOf(hub).changeset(
        request.params.id,
        parseChangesetIdOrIndex(request.params.changesetId),
        filter,
        page,
      );
      return {
        changes: {
          changesetIndex: result.changesetIndex,
          changesetId: result.changesetId,
          state: result.state,
          ...(result.failureReason !== null ? { failureReason: result.failureReason } : {}),
          inserted: result.counts.inserted,
          updated: result.counts.updated,
          deleted: result.counts.deleted,
          schemaChanged: result.summary?.schemaChanged ?? false,
          schemas: result.summary?.schemas ?? [],
          countsByModelAndClass: result.countsByModelAndClass.map(({ reinserted: _r, ...c }) => c),
          matchingElements: result.matching,
          elements: result.elements.map((e) => {
            const { changesets: _one, ...rest } = element(e);
            return rest;
          }),
        },
        _links: offsetPagingLinks(
          `${request.presenter.apiBase}/${request.params.id}/changesets/${request.params.changesetId}/changes`,
          q,
          page,
          page.offset + result.elements.length < result.matching,
        ),
      };
    },
  );

  api.get<{ Params: { id: string } }>("/:id/changes", compare, async (request) => {
    const operation = "Cannot compare versions.";
    const q = request.params_;
    const page = parsePage(q, operation);
    const filter = parseFilter(q, operation);
    const from = parsePoint(q, "from", operation);
    const to = parsePoint(q, "to", operation);
    const result = await serviceOf(hub).compare(request.params.id, from, to, filter, page);
    return {
      comparison: {
        from: point(result.from),
        to: point(result.to),
        state: result.state,
        pendingChangesets: result.pendingChangesets,
        failedChangesets: result.failedChangesets,
        ...result.counts,
        countsByModelAndClass: result.countsByModelAndClass,
        schemaChanges: result.schemaChanges,
        matchingElements: result.matching,
        elements: result.elements.map(element),
      },
      _links: offsetPagingLinks(
        `${request.presenter.apiBase}/${request.params.id}/changes`,
        q,
        page,
        page.offset + result.elements.length < result.matching,
      ),
    };
  });
};
