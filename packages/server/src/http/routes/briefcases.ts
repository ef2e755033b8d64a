import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import { notFound } from "../../domain/errors.js";
import type { ApiRouteContext } from "./context.js";
import { grantsOfRequest } from "../authz/authorize.js";
import { offsetPagingLinks, readPage } from "../paging.js";
import { parseOrderBy, parsePage, parseStringParam, prefersRepresentation } from "../query.js";
import { parseBody } from "../validation.js";
import { BRIEFCASE, CHECKPOINT, ORDER_BY, PAGING, PREFER, bodyOf, one, page, query } from "../schemas.js";
import { READ, WEBVIEW, iModel } from "../authz/rules.js";
import { objectAt } from "../route-config.js";

const acquireBody = z.object({
  deviceName: z.string().max(255, { error: "The value exceeds allowed 255 characters." }).nullable().optional(),
});

function parseBriefcaseId(raw: string): number {
  // Anything but a whole number in range names no briefcase.
  if (!/^\d{1,9}$/.test(raw)) throw notFound.briefcase();
  return Number(raw);
}

/** Briefcases: acquiring one needs read (opening a briefcase is reading); releasing: one's own, or anyone's with manage (domain). */
export const briefcaseRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub }) => {
  api.post<{ Params: { id: string } }>(
    "/:id/briefcases",
    {
      schema: { body: bodyOf(acquireBody), response: { 201: one("briefcase", BRIEFCASE) } },
      config: {
        summary: "Acquire a briefcase",
        authz: iModel(READ),
        audit: { action: "briefcase.acquire", target: (_p, _b, answer) => objectAt(answer, "briefcase").briefcaseId },
      },
    },
    async (request, reply) => {
      const body = parseBody(acquireBody, request.body ?? {}, "Cannot acquire Briefcase.");
      const record = await hub.briefcases.acquire(request.actor, request.params.id, body.deviceName ?? null);
      return reply.code(201).send({ briefcase: request.presenter.briefcase(record) });
    },
  );

  api.get<{ Params: { id: string } }>(
    "/:id/briefcases",
    {
      schema: {
        querystring: query({
          ownerId: "Only this user's (`me`: the caller's)",
          $orderBy: ORDER_BY("acquiredDateTime"),
          ...PAGING,
        }),
        headers: PREFER,
        response: { 200: page("briefcases", BRIEFCASE) },
      },
      config: { summary: "List briefcases", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const q = request.params_;
      const operation = "Cannot get Briefcases.";
      const page = parsePage(q, operation);
      const orderBy = parseOrderBy(q, operation, ["acquiredDateTime"] as const);
      const owner = parseStringParam(q, "ownerId", operation);
      const ownerId = owner === "me" ? request.actor.userId : owner;
      const { rows, hasMore } = await readPage(page, (p) =>
        hub.briefcases.list(
          request.params.id,
          { ...(ownerId !== undefined ? { ownerId } : {}), direction: orderBy?.direction ?? "asc" },
          p,
        ),
      );
      const full = prefersRepresentation(request.headers.prefer);
      return {
        briefcases: rows.map((r) => (full ? request.presenter.briefcase(r) : request.presenter.minimalBriefcase(r))),
        _links: offsetPagingLinks(`${request.presenter.apiBase}/${request.params.id}/briefcases`, q, page, hasMore),
      };
    },
  );

  // The iModel's latest checkpoint: a static path, so before `/:briefcaseId`.
  api.get<{ Params: { id: string } }>(
    "/:id/briefcases/checkpoint",
    {
      schema: { response: { 200: one("checkpoint", CHECKPOINT) } },
      config: { summary: "Get the checkpoint a new briefcase starts from", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      return { checkpoint: request.presenter.checkpoint(await hub.checkpoints.latest(request.params.id)) };
    },
  );

  api.get<{ Params: { id: string; briefcaseId: string } }>(
    "/:id/briefcases/:briefcaseId",
    {
      schema: { response: { 200: one("briefcase", BRIEFCASE) } },
      config: { summary: "Get a briefcase", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const record = await hub.briefcases.get(request.params.id, parseBriefcaseId(request.params.briefcaseId));
      return { briefcase: request.presenter.briefcase(record) };
    },
  );

  api.delete<{ Params: { id: string; briefcaseId: string } }>(
    "/:id/briefcases/:briefcaseId",
    {
      schema: { response: { 204: {} } },
      config: {
        summary: "Release a briefcase (one's own; anyone's with imodels_manage)",
        authz: iModel(READ),
        audit: { action: "briefcase.release", target: (p) => p.briefcaseId },
      },
    },
    async (request, reply) => {
      await hub.briefcases.release(
        request.actor,
        grantsOfRequest(request),
        request.params.id,
        parseBriefcaseId(request.params.briefcaseId),
      );
      return reply.code(204).send();
    },
  );
};
