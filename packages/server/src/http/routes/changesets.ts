import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Hub } from "../../domain/hub.js";
import type { CreateChangesetInput } from "../../domain/changesets/changeset-service.js";
import { invalidValue } from "../../domain/errors.js";
import { normalizeChangesetId, parseChangesetIdOrIndex } from "../../domain/ids.js";
import type { Changeset } from "@modelhub/protocol";
// A modelhub extension of the changeset list (docs/imodels-api.md): files of small changesets in the answer.
import { INLINE_FILES_HEADER } from "@modelhub/protocol";
import type { ChangesetRecord } from "../../ports/metadata-store.js";
import type { ApiRouteContext } from "./context.js";
import { keysetPagingLinks, offsetPagingLinks, readPage } from "../paging.js";
import type { Presenter } from "../presenters.js";
import { parseIndexParam, parseOrderBy, parsePage, prefersRepresentation } from "../query.js";
import { parseBody } from "../validation.js";
import { CHANGESET, CHANGESET_GROUP, ORDER_BY, PAGING, PREFER, bodyOf, one, page, query } from "../schemas.js";
import { WEBVIEW, WRITE, iModel } from "../authz/rules.js";
import { objectAt } from "../route-config.js";

const INLINE_FILES_PAGE = {
  ...page("changesets", CHANGESET),
  properties: {
    ...(page("changesets", CHANGESET).properties as object),
    inlineFiles: {
      type: "object",
      description: "modelhub extension: changeset id → the file's bytes (base64), when asked for",
      additionalProperties: { type: "string" },
    },
  },
};

const changesetId = z.string().regex(/^[0-9a-fA-F]{40}$/, { error: "A Changeset id is 40 hexadecimal characters." });

export const createBody = z.object({
  id: changesetId,
  description: z.string().max(255, { error: "The value exceeds allowed 255 characters." }).nullable().optional(),
  parentId: z
    .union([changesetId, z.literal("")])
    .nullable()
    .optional(),
  briefcaseId: z.number().int().min(2).max(16777205),
  containingChanges: z.number().int().min(0).max(127).optional(),
  fileSize: z.number().int().positive({ error: "The value must be a positive number of bytes." }),
  synchronizationInfo: z
    .object({ taskId: z.string().max(255), changedFiles: z.array(z.string()).nullable().optional() })
    .nullable()
    .optional(),
  groupId: z.string().min(1).nullable().optional(),
  // modelhub extension: iTwin.js's ChangesetProps.uncompressedSize (@modelhub/backend-access sends it).
  uncompressedSize: z.number().int().min(0).nullable().optional(),
});

// Seed 001: the exact details for a bad or missing `state`.
const completeBody = z.object({
  state: z.literal("fileUploaded", { error: "Should be set to 'fileUploaded'." }),
  briefcaseId: z.number().int().min(0),
});

const groupBody = z.object({
  description: z.string().max(255, { error: "The value exceeds allowed 255 characters." }).nullable().optional(),
});
const groupUpdateBody = z.object({ state: z.enum(["inProgress", "completed", "timedOut", "forciblyClosed"]) });
const extendedDataBody = z.object({ data: z.string().min(1).max(1_000_000) });

/** The domain's input of a changeset's create body. */
export function createInputOf(body: z.infer<typeof createBody>): CreateChangesetInput {
  return {
    id: normalizeChangesetId(body.id)!,
    parentId: body.parentId ? normalizeChangesetId(body.parentId)! : "",
    briefcaseId: body.briefcaseId,
    description: body.description ?? null,
    containingChanges: body.containingChanges ?? 0,
    fileSize: body.fileSize,
    groupId: body.groupId ?? null,
    synchronizationInfo: body.synchronizationInfo
      ? { taskId: body.synchronizationInfo.taskId, changedFiles: body.synchronizationInfo.changedFiles ?? null }
      : null,
    uncompressedSize: body.uncompressedSize ?? null,
  };
}

export async function present(
  hub: Hub,
  presenter: Presenter,
  r: ChangesetRecord,
  mode: "create" | "complete" | "read",
) {
  return presenter.changeset(r, await hub.changesets.related(r), mode);
}

/** Changesets, their extended data and changeset groups (download links only with imodels_read: see Presenter). */
export const changesetRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub }) => {
  api.post<{ Params: { id: string } }>(
    "/:id/changesets",
    {
      schema: {
        body: bodyOf(createBody),
        response: {
          201: one("changeset", CHANGESET),
          200: {
            ...one("changeset", CHANGESET),
            description: "The same changeset was created before (a retried request)",
          },
        },
      },
      config: {
        summary: "Create a changeset (push, step 1; with one's own briefcase)",
        authz: iModel(WRITE),
        audit: { action: "changeset.create", target: (_p, body) => body.id },
      },
    },
    async (request, reply) => {
      const body = parseBody(createBody, request.body, "Cannot create Changeset.");
      const { record, created } = await hub.changesets.create(request.actor, request.params.id, createInputOf(body));
      return reply
        .code(created ? 201 : 200)
        .send({ changeset: await present(hub, request.presenter, record, "create") });
    },
  );

  api.patch<{ Params: { id: string; changesetId: string } }>(
    "/:id/changesets/:changesetId",
    {
      schema: { body: bodyOf(completeBody), response: { 200: one("changeset", CHANGESET) } },
      config: {
        summary: "Complete a changeset upload (push, step 2; with one's own briefcase)",
        authz: iModel(WRITE),
        audit: { action: "changeset.complete", target: (p) => p.changesetId },
      },
    },
    async (request) => {
      const body = parseBody(completeBody, request.body, "Cannot update Changeset.");
      const id = normalizeChangesetId(request.params.changesetId);
      if (!id)
        throw invalidValue("Cannot update Changeset.", "changesetId", "A Changeset id is 40 hexadecimal characters.");
      const record = await hub.changesets.complete(
        request.actor,
        request.params.id,
        id,
        body.briefcaseId,
        request.presenter.gateLinks(),
        request.authz?.iModel,
      );
      return { changeset: await present(hub, request.presenter, record, "complete") };
    },
  );

  api.get<{ Params: { id: string } }>(
    "/:id/changesets",
    {
      schema: {
        querystring: query({
          afterIndex: "Only changesets after this index",
          lastIndex: "Only changesets up to this index",
          $orderBy: ORDER_BY("index"),
          ...PAGING,
        }),
        headers: {
          ...PREFER,
          properties: {
            ...(PREFER.properties as object),
            [INLINE_FILES_HEADER]: {
              type: "string",
              description:
                "modelhub extension: up to this many bytes of the page's first changeset files, inline (inlineFiles)",
            },
          },
        },
        response: { 200: INLINE_FILES_PAGE },
      },
      config: { summary: "List changesets", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const q = request.params_;
      const operation = "Cannot get Changesets.";
      const page = parsePage(q, operation);
      const afterIndex = parseIndexParam(q, "afterIndex", operation);
      const lastIndex = parseIndexParam(q, "lastIndex", operation);
      const direction = parseOrderBy(q, operation, ["index"] as const)?.direction ?? "asc";
      const full = prefersRepresentation(request.headers.prefer);
      const { rows: entries, hasMore } = await readPage(page, (p) =>
        hub.changesets.listWithRelated(
          request.params.id,
          {
            ...(afterIndex !== undefined ? { afterIndex } : {}),
            ...(lastIndex !== undefined ? { lastIndex } : {}),
            direction,
          },
          p,
          full,
        ),
      );
      const rows = entries.map((e) => e.record);
      const last = rows.at(-1);
      const continueWith =
        hasMore && last
          ? direction === "asc"
            ? { afterIndex: String(last.index) }
            : { lastIndex: String(last.index - 1) }
          : undefined;
      const url = `${request.presenter.apiBase}/${request.params.id}/changesets`;
      const changesets = full
        ? entries.map((e) => request.presenter.changeset(e.record, e.related, "read"))
        : rows.map((r) => request.presenter.minimalChangeset(r));
      const _links =
        page.offset > 0 && !continueWith
          ? offsetPagingLinks(url, q, page, false)
          : keysetPagingLinks(url, q, page, continueWith);
      // Files inline only for a client that asked, in the full representation, and only those it may download.
      const wanted = Number(request.headers[INLINE_FILES_HEADER]);
      if (!full || !(wanted > 0) || changesets.length === 0) return { changesets, _links };
      const downloadable = rows.filter((_r, i) => (changesets[i] as Changeset)._links.download);
      if (downloadable.length !== rows.length) return { changesets, _links };
      const files = await hub.changesetFiles.firstOf(rows, wanted);
      return {
        changesets,
        _links,
        inlineFiles: Object.fromEntries([...files].map(([id, bytes]) => [id, bytes.toString("base64")])),
      };
    },
  );

  // Static paths before `/:changesetId` (extended data list).
  api.get<{ Params: { id: string } }>(
    "/:id/changesets/extendeddata",
    {
      schema: { querystring: query({ ...PAGING }), response: { 200: { type: "object" } } },
      config: { summary: "List changesets' extended data", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const q = request.params_;
      const page = parsePage(q, "Cannot get Changeset Extended Data.");
      const { rows, hasMore } = await readPage(page, (p) => hub.changesetGroups.listExtendedData(request.params.id, p));
      return {
        extendedData: rows,
        _links: offsetPagingLinks(
          `${request.presenter.apiBase}/${request.params.id}/changesets/extendeddata`,
          q,
          page,
          hasMore,
        ),
      };
    },
  );

  api.get<{ Params: { id: string; changesetId: string } }>(
    "/:id/changesets/:changesetId",
    {
      schema: { response: { 200: one("changeset", CHANGESET) } },
      config: { summary: "Get a changeset (by id or index)", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const { record, related } = await hub.changesets.getWithRelated(
        request.params.id,
        parseChangesetIdOrIndex(request.params.changesetId),
      );
      return { changeset: request.presenter.changeset(record, related, "read") };
    },
  );

  api.post<{ Params: { id: string; changesetId: string } }>(
    "/:id/changesets/:changesetId/extendeddata",
    {
      schema: { body: bodyOf(extendedDataBody), response: { 201: { type: "object" } } },
      config: {
        summary: "Add extended data to a changeset",
        authz: iModel(WRITE),
        audit: { action: "changeset.extendeddata.create", target: (p) => p.changesetId },
      },
    },
    async (request, reply) => {
      const body = parseBody(extendedDataBody, request.body, "Cannot create Changeset Extended Data.");
      if (!isBase64Json(body.data)) {
        throw invalidValue(
          "Cannot create Changeset Extended Data.",
          "data",
          "Provided 'data' value is not valid. It must be a base64 encoded JSON object.",
        );
      }
      const result = await hub.changesetGroups.putExtendedData(
        request.params.id,
        parseChangesetIdOrIndex(request.params.changesetId),
        body.data,
      );
      return reply.code(201).send({ extendedData: result });
    },
  );

  api.get<{ Params: { id: string; changesetId: string } }>(
    "/:id/changesets/:changesetId/extendeddata",
    {
      schema: { response: { 200: { type: "object" } } },
      config: { summary: "Get a changeset's extended data", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      return {
        extendedData: await hub.changesetGroups.getExtendedData(
          request.params.id,
          parseChangesetIdOrIndex(request.params.changesetId),
        ),
      };
    },
  );

  api.post<{ Params: { id: string } }>(
    "/:id/changesetgroups",
    {
      schema: { body: bodyOf(groupBody), response: { 201: one("changesetGroup", CHANGESET_GROUP) } },
      config: {
        summary: "Create a changeset group",
        authz: iModel(WRITE),
        audit: { action: "changesetgroup.create", target: (_p, _b, answer) => objectAt(answer, "changesetGroup").id },
      },
    },
    async (request, reply) => {
      const body = parseBody(groupBody, request.body, "Cannot create Changeset Group.");
      const record = await hub.changesetGroups.createGroup(request.actor, request.params.id, body.description ?? null);
      return reply.code(201).send({ changesetGroup: request.presenter.changesetGroup(record) });
    },
  );

  api.patch<{ Params: { id: string; groupId: string } }>(
    "/:id/changesetgroups/:groupId",
    {
      schema: { body: bodyOf(groupUpdateBody), response: { 200: one("changesetGroup", CHANGESET_GROUP) } },
      config: {
        summary: "Update a changeset group",
        authz: iModel(WRITE),
        audit: { action: "changesetgroup.update", target: (p) => p.groupId },
      },
    },
    async (request) => {
      const body = parseBody(groupUpdateBody, request.body, "Cannot update Changeset Group.");
      const record = await hub.changesetGroups.updateGroup(
        request.params.id,
        request.params.groupId,
        body.state,
        request.actor,
      );
      return { changesetGroup: request.presenter.changesetGroup(record) };
    },
  );

  api.get<{ Params: { id: string; groupId: string } }>(
    "/:id/changesetgroups/:groupId",
    {
      schema: { response: { 200: one("changesetGroup", CHANGESET_GROUP) } },
      config: { summary: "Get a changeset group", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      return {
        changesetGroup: request.presenter.changesetGroup(
          await hub.changesetGroups.getGroup(request.params.id, request.params.groupId),
        ),
      };
    },
  );

  api.get<{ Params: { id: string } }>(
    "/:id/changesetgroups",
    {
      schema: { querystring: query({ ...PAGING }), response: { 200: page("changesetGroups", CHANGESET_GROUP) } },
      config: { summary: "List changeset groups", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const q = request.params_;
      const page = parsePage(q, "Cannot get Changeset Groups.");
      const { rows, hasMore } = await readPage(page, (p) => hub.changesetGroups.listGroups(request.params.id, p));
      return {
        changesetGroups: rows.map((r) => request.presenter.changesetGroup(r)),
        _links: offsetPagingLinks(
          `${request.presenter.apiBase}/${request.params.id}/changesetgroups`,
          q,
          page,
          hasMore,
        ),
      };
    },
  );
};

function isBase64Json(data: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return false;
  try {
    const value: unknown = JSON.parse(Buffer.from(data, "base64").toString("utf8"));
    return value !== null && typeof value === "object";
  } catch {
    return false;
  }
}
