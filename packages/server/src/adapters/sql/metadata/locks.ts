// Locks: part of the metadata port's queries (SqlMetadataTx, ../sql-metadata-tx.ts), written once for SQLite and
// PostgreSQL. locks(imodel_id, object_id) holds the exclusive holder and the pull-required index; shared_locks holds
// one row per (briefcase, object). A `locks` row that remembers nothing (no holder, no release index) is deleted.
import type { BriefcaseLocks, ObjectLockRecord, Page } from "../../../ports/metadata-store.js";
import type { SqlContext } from "./common.js";
import { limitOf, offsetOf } from "./common.js";

type LockRow = {
  object_id: string;
  exclusive_briefcase_id: number | null;
  last_exclusive_release_index: number | null;
};

/** Object ids read per statement when a briefcase's whole lock set is read. */
const LIST_CHUNK = 5_000;

/**
 * Object ids per statement that looks up, grants or releases locks by id. On SQLite each statement runs on the event
 * loop: one over 10,000 ids (an upsert, a join) took 10–30 ms, and every other request waited that long.
 */
const ID_CHUNK = 2_500;

/** `objectIds` as JSON arrays of at most ID_CHUNK ids, one per statement. */
function* idChunks(objectIds: readonly string[]): Generator<string> {
  for (let start = 0; start < objectIds.length; start += ID_CHUNK)
    yield JSON.stringify(objectIds.slice(start, start + ID_CHUNK));
}

// locks(imodel_id, object_id) holds the exclusive holder and the pull-required index; shared_locks holds one row
// per (briefcase, object). A `locks` row that remembers nothing (no holder, no release index) is deleted.

export async function getObjectLocks(
  q: SqlContext,
  iModelId: string,
  objectIds: readonly string[],
  options: { releasedAfter?: number } = {},
): Promise<Map<string, ObjectLockRecord>> {
  const result = new Map<string, ObjectLockRecord>();
  for (const ids of idChunks(objectIds)) await readObjectLocks(q, iModelId, ids, options.releasedAfter ?? null, result);
  for (const record of result.values())
    if (record.sharedBriefcaseIds.length > 1) record.sharedBriefcaseIds.sort((a, b) => a - b);
  return result;
}

/** getObjectLocks for one chunk of ids (a JSON array), into `result`. */
async function readObjectLocks(
  q: SqlContext,
  iModelId: string,
  ids: string,
  releasedAfter: number | null,
  result: Map<string, ObjectLockRecord>,
): Promise<void> {
  // CROSS JOIN: SQLite always loops over its left table outermost, so each requested id is one primary-key lookup.
  // With a plain JOIN the planner (json_each tells it a scan costs 1) looped over all the iModel's locks and, for
  // each, scanned the whole id list: O(held × requested), 5 s for 10,000 ids on top of 10,000 held.
  const held = `SELECT l.object_id, l.exclusive_briefcase_id, l.last_exclusive_release_index
      FROM ${q.dialect.stringList("j")} ${q.dialect.orderedJoin} locks l ON l.imodel_id = ? AND l.object_id = j.value`;
  const lockRows =
    releasedAfter === null
      ? await q.s.all<LockRow>(held, ids, iModelId)
      : await q.s.all<LockRow>(
          `${held} WHERE l.exclusive_briefcase_id IS NOT NULL OR l.last_exclusive_release_index > ?`,
          ids,
          iModelId,
          releasedAfter,
        );
  for (const row of lockRows) {
    result.set(row.object_id, {
      objectId: row.object_id,
      exclusiveBriefcaseId: row.exclusive_briefcase_id,
      sharedBriefcaseIds: [],
      lastExclusiveReleaseIndex: row.last_exclusive_release_index,
    });
  }
  for (const row of await q.s.all<{ object_id: string; briefcase_id: number }>(
    `SELECT s.object_id, s.briefcase_id FROM ${q.dialect.stringList("j")} ${q.dialect.orderedJoin} shared_locks s ON s.imodel_id = ? AND s.object_id = j.value`,
    ids,
    iModelId,
  )) {
    let record = result.get(row.object_id);
    if (!record) {
      record = {
        objectId: row.object_id,
        exclusiveBriefcaseId: null,
        sharedBriefcaseIds: [],
        lastExclusiveReleaseIndex: null,
      };
      result.set(row.object_id, record);
    }
    record.sharedBriefcaseIds.push(row.briefcase_id);
  }
}

export async function listLocks(
  q: SqlContext,
  iModelId: string,
  filter: { briefcaseId?: number; level?: "shared" | "exclusive" },
  page: Page,
): Promise<BriefcaseLocks[]> {
  // One stream of (briefcase, level, object) rows — exclusive (0) before shared (1) — paged by row, so offset and
  // limit count object ids. Each arm is read in index order and cut at offset + limit rows (the page can only
  // come from those), so a page sorts at most 2 × (offset + limit) rows, however many locks there are.
  const limit = limitOf(page);
  const offset = offsetOf(page);
  const head = Math.min(offset + limit, Number.MAX_SAFE_INTEGER);
  if (filter.briefcaseId !== undefined)
    return await briefcaseLocks(q, iModelId, filter.briefcaseId, filter.level, offset, limit, head);
  const arms: string[] = [];
  const params: unknown[] = [];
  if (filter.level !== "shared") {
    arms.push(
      `SELECT * FROM (SELECT exclusive_briefcase_id AS briefcase_id, 0 AS level, object_id FROM locks
        WHERE imodel_id = ? AND exclusive_briefcase_id IS NOT NULL ORDER BY exclusive_briefcase_id, object_id LIMIT ?) e`,
    );
    params.push(iModelId, head);
  }
  if (filter.level !== "exclusive") {
    arms.push(
      "SELECT * FROM (SELECT briefcase_id, 1 AS level, object_id FROM shared_locks WHERE imodel_id = ? ORDER BY briefcase_id, object_id LIMIT ?) s",
    );
    params.push(iModelId, head);
  }
  const rows = await q.s.all<{ briefcase_id: number; level: number; object_id: string }>(
    `SELECT briefcase_id, level, object_id FROM (${arms.join(" UNION ALL ")}) a ORDER BY briefcase_id, level, object_id LIMIT ? OFFSET ?`,
    ...params,
    limit,
    offset,
  );
  const groups: BriefcaseLocks[] = [];
  let group: BriefcaseLocks | undefined;
  for (const row of rows) {
    if (group?.briefcaseId !== row.briefcase_id) {
      group = { briefcaseId: row.briefcase_id, exclusive: [], shared: [] };
      groups.push(group);
    }
    (row.level === 0 ? group.exclusive : group.shared).push(row.object_id);
  }
  return groups;
}

/**
 * One briefcase's locks: each level is one index-ordered read of just the object ids (exclusive ones first, as in
 * the general order), cut to the page in memory: no sort, no row objects — the whole set of a briefcase holding
 * 10,000 locks is read this way after every lock request.
 */
async function briefcaseLocks(
  q: SqlContext,
  iModelId: string,
  briefcaseId: number,
  level: "shared" | "exclusive" | undefined,
  offset: number,
  limit: number,
  head: number,
): Promise<BriefcaseLocks[]> {
  const exclusive =
    level === "shared" ? [] : await heldObjectIds(q, "locks", "exclusive_briefcase_id", iModelId, briefcaseId, head);
  const sharedHead = Math.max(0, head - exclusive.length);
  const shared =
    level === "exclusive" || sharedHead === 0
      ? []
      : await heldObjectIds(q, "shared_locks", "briefcase_id", iModelId, briefcaseId, sharedHead);
  const pageExclusive = exclusive.slice(offset, offset + limit);
  const sharedOffset = Math.max(0, offset - exclusive.length);
  const pageShared = shared.slice(sharedOffset, sharedOffset + (limit - pageExclusive.length));
  return pageExclusive.length + pageShared.length > 0
    ? [{ briefcaseId, exclusive: pageExclusive, shared: pageShared }]
    : [];
}

/**
 * The first `head` object ids of one level of a briefcase's locks, in object id order, read LIST_CHUNK at a time
 * (keyset on the index): after every lock request the whole set is read, and a briefcase may hold 200,000 locks —
 * one statement for all of them held SQLite, and so the event loop, for 40 ms.
 */
async function heldObjectIds(
  q: SqlContext,
  table: "locks" | "shared_locks",
  holder: string,
  iModelId: string,
  briefcaseId: number,
  head: number,
): Promise<string[]> {
  const ids: string[] = [];
  const first = `SELECT object_id FROM ${table} WHERE imodel_id = ? AND ${holder} = ? ORDER BY object_id LIMIT ?`;
  const next = `SELECT object_id FROM ${table} WHERE imodel_id = ? AND ${holder} = ? AND object_id > ? ORDER BY object_id LIMIT ?`;
  for (;;) {
    const wanted = Math.min(LIST_CHUNK, head - ids.length);
    if (wanted <= 0) return ids;
    const chunk =
      ids.length === 0
        ? await q.s.column<string>(first, iModelId, briefcaseId, wanted)
        : await q.s.column<string>(next, iModelId, briefcaseId, ids[ids.length - 1], wanted);
    for (const id of chunk) ids.push(id);
    if (chunk.length < wanted) return ids;
  }
}

export async function grantLocks(
  q: SqlContext,
  iModelId: string,
  briefcaseId: number,
  level: "shared" | "exclusive",
  objectIds: readonly string[],
): Promise<void> {
  for (const ids of idChunks(objectIds)) await grantLockChunk(q, iModelId, briefcaseId, level, ids);
}

/** grantLocks for one chunk of ids (a JSON array). */
async function grantLockChunk(
  q: SqlContext,
  iModelId: string,
  briefcaseId: number,
  level: "shared" | "exclusive",
  ids: string,
): Promise<void> {
  if (level === "exclusive") {
    await q.s.run(
      `INSERT INTO locks (imodel_id, object_id, exclusive_briefcase_id) SELECT ?, value, CAST(? AS BIGINT) FROM ${q.dialect.stringList("j")} WHERE true
        ON CONFLICT (imodel_id, object_id) DO UPDATE SET exclusive_briefcase_id = excluded.exclusive_briefcase_id`,
      iModelId,
      briefcaseId,
      ids,
    );
    // The exclusive lock replaces the briefcase's own shared one (an upgrade). Found by a join first (index
    // lookups per id: CROSS JOIN keeps the id list outermost, as above), so that the usual case — no upgrades —
    // deletes nothing.
    const upgraded = await q.s.column<string>(
      `SELECT s.object_id FROM ${q.dialect.stringList("j")} ${q.dialect.orderedJoin} shared_locks s ON s.imodel_id = ? AND s.briefcase_id = ? AND s.object_id = j.value`,
      ids,
      iModelId,
      briefcaseId,
    );
    if (upgraded.length > 0) {
      await byObjectIds(
        q,
        "shared_locks",
        undefined,
        { sql: "imodel_id = ? AND briefcase_id = ?", params: [iModelId, briefcaseId] },
        JSON.stringify(upgraded),
      );
    }
  } else {
    await q.s.run(
      `INSERT INTO shared_locks (imodel_id, briefcase_id, object_id) SELECT ?, CAST(? AS BIGINT), value FROM ${q.dialect.stringList("j")} WHERE true ON CONFLICT DO NOTHING`,
      iModelId,
      briefcaseId,
      ids,
    );
  }
}

export async function releaseLocks(
  q: SqlContext,
  iModelId: string,
  briefcaseId: number,
  objectIds: readonly string[],
  releaseIndex: number,
): Promise<number> {
  let released = 0;
  for (const ids of idChunks(objectIds)) {
    released += await releaseExclusive(q, iModelId, briefcaseId, ids, releaseIndex);
    released += await byObjectIds(
      q,
      "shared_locks",
      undefined,
      { sql: "imodel_id = ? AND briefcase_id = ?", params: [iModelId, briefcaseId] },
      ids,
    );
  }
  return released;
}

export async function releaseAllLocks(
  q: SqlContext,
  iModelId: string,
  briefcaseId: number,
  releaseIndex: number,
  limit?: number,
): Promise<number> {
  if (limit === undefined) {
    // In chunks: one statement over a briefcase's 200,000 locks would hold SQLite (and the event loop) for long.
    let released = 0;
    for (;;) {
      const chunk = await releaseAllLocks(q, iModelId, briefcaseId, releaseIndex, LIST_CHUNK);
      released += chunk;
      if (chunk < LIST_CHUNK) return released;
    }
  }
  // The first `limit` locks in listLocks order: exclusive ones by object id, then shared ones.
  let left = Math.max(0, Math.floor(limit));
  let released = 0;
  if (left > 0) {
    const exclusive = await q.s.column<string>(
      "SELECT object_id FROM locks WHERE imodel_id = ? AND exclusive_briefcase_id = ? ORDER BY object_id LIMIT ?",
      iModelId,
      briefcaseId,
      left,
    );
    if (exclusive.length > 0) {
      released += await releaseExclusive(q, iModelId, briefcaseId, JSON.stringify(exclusive), releaseIndex);
      left -= exclusive.length;
    }
  }
  if (left > 0) {
    // Ids first, then a delete by id (primary-key probes), as for the exclusive ones: `DELETE … WHERE object_id IN
    // (SELECT … ORDER BY … LIMIT …)` is planned from table statistics, and right after a briefcase took its locks
    // PostgreSQL's are stale (the table looks empty): it chose a nested loop that took 30 s per 5,000 locks.
    const shared = await q.s.column<string>(
      "SELECT object_id FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ? ORDER BY object_id LIMIT ?",
      iModelId,
      briefcaseId,
      left,
    );
    if (shared.length > 0)
      released += await byObjectIds(
        q,
        "shared_locks",
        undefined,
        { sql: "imodel_id = ? AND briefcase_id = ?", params: [iModelId, briefcaseId] },
        JSON.stringify(shared),
      );
  }
  return released;
}

/**
 * Drops the briefcase's exclusive locks on `ids` (a JSON array; each a primary-key lookup). With `releaseIndex` > 0
 * the rows keep it as the pull-required index; otherwise a row keeps the index it had, and goes if it had none.
 */
async function releaseExclusive(
  q: SqlContext,
  iModelId: string,
  briefcaseId: number,
  ids: string,
  releaseIndex: number,
): Promise<number> {
  const holder = { sql: "imodel_id = ? AND exclusive_briefcase_id = ?", params: [iModelId, briefcaseId] };
  if (releaseIndex > 0)
    return byObjectIds(
      q,
      "locks",
      { sql: "exclusive_briefcase_id = NULL, last_exclusive_release_index = ?", params: [releaseIndex] },
      holder,
      ids,
    );
  const unremembered = { sql: `${holder.sql} AND last_exclusive_release_index IS NULL`, params: holder.params };
  return (
    (await byObjectIds(q, "locks", undefined, unremembered, ids)) +
    (await byObjectIds(q, "locks", { sql: "exclusive_briefcase_id = NULL", params: [] }, holder, ids))
  );
}

/** UPDATE (with `set`) or DELETE of `table`'s rows matching `where` whose object_id is in `ids` (a JSON array). */
function byObjectIds(
  q: SqlContext,
  table: string,
  set: { sql: string; params: unknown[] } | undefined,
  where: { sql: string; params: unknown[] },
  ids: string,
): Promise<number> {
  const { sql, idsFirst } = q.dialect.byObjectIds(table, set?.sql, where.sql);
  return q.s.run(sql, ...(set?.params ?? []), ...(idsFirst ? [ids, ...where.params] : [...where.params, ids]));
}
