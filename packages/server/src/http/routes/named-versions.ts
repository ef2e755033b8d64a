import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { ApiRouteContext } from "./context.js";
import { offsetPagingLinks, readPage } from "../paging.js";
import { parseEnumParam, parseOrderBy, parsePage, parseStringParam, prefersRepresentation } from "../query.js";
import { parseBody } from "../validation.js";
import { NAMED_VERSION, ORDER_BY, PAGING, PREFER, bodyOf, one, page, query } from "../schemas.js";
import { WEBVIEW, WRITE, iModel } from "../authz/rules.js";
import { objectAt } from "../route-config.js";

const name = z
  .string()
  .trim()
  .min(1, { error: "The value must not be empty." })
  .max(255, { error: "The value exceeds allowed 255 characters." });
const description = z.string().max(255, { error: "The value exceeds allowed 255 characters." }).nullable().optional();

const createBody = z.object({
  name,
  description,
  changesetId: z
    .union([
      z.string().regex(/^[0-9a-fA-F]{40}$/, { error: "A Changeset id is 40 hexadecimal characters." }),
      z.literal(""),
    ])
    .nullable()
    .optional(),
  changesetIndex: z.number().int().min(0).optional(),
});

const updateBody = z
  .object({ name: name.optional(), description, state: z.enum(["visible", "hidden"]).optional() })
  .refine((b) => b.name !== undefined || b.description !== undefined || b.state !== undefined, {
    error: "At least one of 'name', 'description', 'state' must be provided.",
  });

export const namedVersionRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub }) => {
  api.post<{ Params: { id: string } }>(
    "/:id/namedversions",
    {
      schema: { body: bodyOf(createBody), response: { 201: one("namedVersion", NAMED_VERSION) } },
      config: {
        summary: "Create a named version",
        authz: iModel(WRITE),
        audit: {
          action: "namedversion.create",
          target: (_p, body, answer) => objectAt(answer, "namedVersion").id ?? body.name,
        },
      },
    },
    async (request, reply) => {
      const body = parseBody(createBody, request.body, "Cannot create Named Version.");
      const record = await hub.namedVersions.create(request.actor, request.params.id, {
        name: body.name,
        description: body.description ?? null,
        ...(body.changesetId ? { changesetId: body.changesetId.toLowerCase() } : {}),
        ...(body.changesetIndex !== undefined ? { changesetIndex: body.changesetIndex } : {}),
      });
      return reply.code(201).send({ namedVersion: request.presenter.namedVersion(record) });
    },
  );

  api.get<{ Params: { id: string } }>(
    "/:id/namedversions",
    {
      schema: {
        querystring: query({
          name: "Exact name",
          $search: "Part of the name",
          state: { type: "string", enum: ["visible", "hidden"] },
          $orderBy: ORDER_BY("changesetIndex", "createdDateTime"),
          ...PAGING,
        }),
        headers: PREFER,
        response: { 200: page("namedVersions", NAMED_VERSION) },
      },
      config: { summary: "List named versions", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const q = request.params_;
      const operation = "Cannot get Named Versions.";
      const page = parsePage(q, operation);
      const byName = parseStringParam(q, "name", operation);
      const search = parseStringParam(q, "$search", operation);
      const state = parseEnumParam(q, "state", operation, ["visible", "hidden"] as const);
      const orderBy = parseOrderBy(q, operation, ["changesetIndex", "createdDateTime"] as const);
      const { rows, hasMore } = await readPage(page, (p) =>
        hub.namedVersions.list(
          request.params.id,
          {
            ...(byName ? { name: byName } : {}),
            ...(search ? { search } : {}),
            ...(state ? { state } : {}),
            ...(orderBy ? { orderBy } : {}),
          },
          p,
        ),
      );
      const full = prefersRepresentation(request.headers.prefer);
      return {
        namedVersions: rows.map((r) =>
          full ? request.presenter.namedVersion(r) : request.presenter.minimalNamedVersion(r),
        ),
        _links: offsetPagingLinks(`${request.presenter.apiBase}/${request.params.id}/namedversions`, q, page, hasMore),
      };
    },
  );

  api.get<{ Params: { id: string; versionId: string } }>(
    "/:id/namedversions/:versionId",
    {
      schema: { response: { 200: one("namedVersion", NAMED_VERSION) } },
      config: { summary: "Get a named version", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      return {
        namedVersion: request.presenter.namedVersion(
          await hub.namedVersions.get(request.params.id, request.params.versionId),
        ),
      };
    },
  );

  api.patch<{ Params: { id: string; versionId: string } }>(
    "/:id/namedversions/:versionId",
    {
      schema: { body: bodyOf(updateBody), response: { 200: one("namedVersion", NAMED_VERSION) } },
      config: {
        summary: "Update a named version (name, description, state)",
        authz: iModel(WRITE),
        audit: { action: "namedversion.update", target: (p) => p.versionId },
      },
    },
    async (request) => {
      const body = parseBody(updateBody, request.body, "Cannot update Named Version.");
      const record = await hub.namedVersions.update(request.params.id, request.params.versionId, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.state !== undefined ? { state: body.state } : {}),
      });
      return { namedVersion: request.presenter.namedVersion(record) };
    },
  );
};
