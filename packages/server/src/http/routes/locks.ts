import type { LockLevel } from "@modelhub/protocol";
import { LOCK_ANSWER_HEADER } from "@modelhub/protocol";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { invalidRequest } from "../../domain/errors.js";
import { normalizeId64 } from "../../domain/ids.js";
import type { ApiRouteContext } from "./context.js";
import { grantsOfRequest } from "../authz/authorize.js";
import { WEBVIEW, WRITE_OR_MANAGE, iModel } from "../authz/rules.js";
import { offsetPagingLinks } from "../paging.js";
import { parseEnumParam, parseIndexParam, parsePage } from "../query.js";
import { parseBody } from "../validation.js";
import { LOCK, PAGING, bodyOf, one, page, query } from "../schemas.js";
import { PerUserLimit } from "../per-user-limit.js";
import { sendJsonInPieces } from "../json-pieces.js";
import { yieldIfBusy } from "../../util/event-loop.js";

const changesetRef = z
  .union([
    z.string().regex(/^[0-9a-fA-F]{40}$/, { error: "A Changeset id is 40 hexadecimal characters." }),
    z.literal(""),
  ])
  .nullable()
  .optional();

const updateBody = z.object({
  briefcaseId: z.number().int().min(0),
  // BackendIModelsAccess sends "" for a briefcase at the baseline.
  changesetId: changesetRef,
  lockedObjects: z.array(
    z.object({
      lockLevel: z.enum(["none", "shared", "exclusive"], { error: "Should be one of 'none', 'shared', 'exclusive'." }),
      objectIds: z.array(z.string()),
    }),
  ),
});

/**
 * Most object ids one lock request may name. The cloud documents 1,000, but iTwin.js sends all the locks of one
 * `acquireLocks` call in one request (BackendIModelsAccess 6.0.2 does not split them), and 10,000 is a common case;
 * the hub handles 10,000 in a few tens of milliseconds of event-loop time, which bounds what one request may
 * stall everyone else. @modelhub/backend-access splits larger requests.
 */
export const MAX_LOCK_OBJECT_IDS = 10_000;

const releaseChunkBody = z.object({ briefcaseId: z.number().int().min(0), changesetId: changesetRef });

/**
 * Lock updates of one user at a time, and waiting after them. Each is one write transaction of up to 10,000 ids,
 * and they all take the write connection one after the other anyway: a user's burst (20 × 10,000 ids) then holds two
 * places ahead of other users' pushes instead of twenty, and two answers (each the briefcase's whole lock set) in
 * the making. The official clients do not retry a 429, so the line is long enough for any real client.
 */
const LOCK_UPDATES_RUNNING = 2;
/** An answer listing more locks than this (the briefcase's whole set) is sent in pieces (see json-pieces.ts). */
const STREAMED_ANSWER_IDS = 20_000;
const LOCK_UPDATES_WAITING = 64;

/** Locks: acquiring needs write and one's own briefcase; releasing also manage (domain: LockService). */
export const lockRoutes: FastifyPluginAsync<ApiRouteContext> = async (api, { hub }) => {
  const updates = new PerUserLimit(LOCK_UPDATES_RUNNING, LOCK_UPDATES_WAITING, "lock requests");
  api.patch<{ Params: { id: string } }>(
    "/:id/locks",
    {
      schema: { body: bodyOf(updateBody), response: { 200: one("lock", LOCK), 204: { type: "null" } } },
      config: {
        summary: "Acquire locks (one's own briefcase, imodels_write) or release them (also anyone's, imodels_manage)",
        authz: iModel(WRITE_OR_MANAGE),
        audit: { action: "locks.update", target: (_p, body) => body.briefcaseId },
      },
    },
    (request, reply) => updates.run(request.actor.userId, () => updateLocks(request, reply)),
  );

  async function updateLocks(request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) {
    const operation = "Cannot update Locks.";
    // Counted before validation: the validator's own work grows with the number of ids.
    const count = countObjectIds(request.body);
    if (count > MAX_LOCK_OBJECT_IDS) {
      throw invalidRequest(operation, [
        {
          code: "InvalidValue",
          message: `A lock request may name at most ${MAX_LOCK_OBJECT_IDS} object ids; this one names ${count}. Send the locks in several requests.`,
          target: "lockedObjects",
        },
      ]);
    }
    const body = parseBody(updateBody, request.body, operation);
    const objects = new Map<string, LockLevel>();
    // A plain loop, and the error target built only on error: a request may name 10,000 ids.
    for (let g = 0; g < body.lockedObjects.length; g++) {
      const { lockLevel, objectIds } = body.lockedObjects[g]!;
      for (let i = 0; i < objectIds.length; i++) {
        if (i % 1000 === 999) await yieldIfBusy();
        const raw = objectIds[i]!;
        const id = normalizeId64(raw);
        if (!id) {
          const target = `lockedObjects[${g}].objectIds[${i}]`;
          throw invalidRequest(operation, [
            {
              code: "InvalidValue",
              message: `Provided '${target}' value is not valid. '${raw}' is not an Id64 string such as '0x1a'.`,
              target,
            },
          ]);
        }
        const earlier = objects.get(id);
        if (earlier !== undefined && earlier !== lockLevel) {
          const target = `lockedObjects[${g}].objectIds[${i}]`;
          throw invalidRequest(operation, [
            { code: "InvalidValue", message: `Object '${raw}' is requested with two different lock levels.`, target },
          ]);
        }
        objects.set(id, lockLevel);
      }
    }
    // A modelhub extension (docs/compatibility.md): `x-modelhub-lock-answer: none` asks for no answer body (204)
    // instead of the briefcase's whole lock set, which @modelhub/backend-access never reads: after a request of
    // 10,000 ids, reading the set back and sending it cost about as much as taking the locks.
    const answered = request.headers[LOCK_ANSWER_HEADER] !== "none";
    const locks = await hub.locks.update(
      request.actor,
      grantsOfRequest(request),
      request.params.id,
      { briefcaseId: body.briefcaseId, changesetId: (body.changesetId ?? "").toLowerCase(), objects },
      { answer: answered },
    );
    if (!locks) return reply.code(204).send();
    const answer = { lock: request.presenter.lock(locks) };
    return locks.exclusive.length + locks.shared.length > STREAMED_ANSWER_IDS
      ? sendJsonInPieces(reply, answer)
      : answer;
  }

  api.get<{ Params: { id: string } }>(
    "/:id/locks",
    {
      schema: {
        querystring: query({
          briefcaseId: "Only this briefcase's",
          lockLevel: { type: "string", enum: ["shared", "exclusive"] },
          ...PAGING,
        }),
        response: { 200: page("locks", LOCK) },
      },
      config: { summary: "List locks", authz: iModel(WEBVIEW) },
    },
    async (request) => {
      const q = request.params_;
      const operation = "Cannot get Locks.";
      const page = parsePage(q, operation);
      const briefcaseId = parseIndexParam(q, "briefcaseId", operation);
      const level = parseEnumParam(q, "lockLevel", operation, ["shared", "exclusive"] as const);
      // Pages count object ids, not entities; one extra id tells whether another page exists.
      const filter = { ...(briefcaseId !== undefined ? { briefcaseId } : {}), ...(level ? { level } : {}) };
      const groups = await hub.locks.list(request.params.id, filter, { limit: page.limit + 1, offset: page.offset });
      let count = 0;
      for (const g of groups) count += g.exclusive.length + g.shared.length;
      const hasMore = count > page.limit;
      if (hasMore) trimLastId(groups);
      return {
        locks: groups.filter((g) => g.exclusive.length + g.shared.length > 0).map((g) => request.presenter.lock(g)),
        _links: offsetPagingLinks(`${request.presenter.apiBase}/${request.params.id}/locks`, q, page, hasMore),
      };
    },
  );

  api.post<{ Params: { id: string } }>(
    "/:id/locks/release-chunk",
    {
      schema: {
        body: bodyOf(releaseChunkBody),
        response: { 200: { type: "object", properties: { isLastChunk: { type: "boolean" } } } },
      },
      config: {
        summary: "Release a briefcase's locks, a chunk at a time (one's own; anyone's with imodels_manage)",
        authz: iModel(WRITE_OR_MANAGE),
        audit: { action: "locks.release", target: (_p, body) => body.briefcaseId },
      },
    },
    async (request) => {
      const body = parseBody(releaseChunkBody, request.body, "Cannot release Locks.");
      return hub.locks.releaseChunk(
        request.actor,
        grantsOfRequest(request),
        request.params.id,
        body.briefcaseId,
        (body.changesetId ?? "").toLowerCase(),
      );
    },
  );
};

/** The number of `lockedObjects[].objectIds[]` entries of a body of any shape (what is not an array counts 0). */
function countObjectIds(body: unknown): number {
  const groups = (body as { lockedObjects?: unknown } | null)?.lockedObjects;
  if (!Array.isArray(groups)) return 0;
  let count = 0;
  for (const group of groups) {
    const ids = (group as { objectIds?: unknown } | null)?.objectIds;
    if (Array.isArray(ids)) count += ids.length;
  }
  return count;
}

/** Drops the one object id read past the page (the last one in store order: shared after exclusive). */
function trimLastId(groups: { exclusive: string[]; shared: string[] }[]): void {
  const last = groups.at(-1);
  if (!last) return;
  if (last.shared.length > 0) last.shared.pop();
  else last.exclusive.pop();
}
