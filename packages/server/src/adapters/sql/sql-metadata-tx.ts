import type {
  ApplicationRef,
  BriefcaseLocks,
  BriefcaseRecord,
  ChangesetFilter,
  ChangesetGroupRecord,
  ChangesetRecord,
  CheckpointRecord,
  CreationSource,
  IModelFilter,
  IModelRecord,
  MetadataTx,
  NamedVersionFilter,
  NamedVersionRecord,
  ObjectLockRecord,
  OutboxJob,
  Page,
  SortDirection,
  UserApplicationStatistics,
} from "../../ports/metadata-store.js";
import type { AfterCommitEffects } from "./after-commit.js";
import type { SqlDialect, SqlSession } from "./sql-session.js";

type Row = Record<string, unknown>;
type LockRow = { object_id: string; exclusive_briefcase_id: number | null; last_exclusive_release_index: number | null };

const DEFAULT_JOB_ATTEMPTS = 3;
/** Object ids read per statement when a briefcase's whole lock set is read. */
const LIST_CHUNK = 5_000;
/**
 * Object ids per statement that looks up, grants or releases locks by id. On SQLite each statement runs on the event
 * loop: one over 10,000 ids (an upsert, a join) took 10–30 ms, and every other request waited that long.
 */
const ID_CHUNK = 2_500;

/** `objectIds` as JSON arrays of at most ID_CHUNK ids, one per statement. */
function* idChunks(objectIds: readonly string[]): Generator<string> {
  for (let start = 0; start < objectIds.length; start += ID_CHUNK) yield JSON.stringify(objectIds.slice(start, start + ID_CHUNK));
}

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));
const parseJson = <T>(value: unknown): T | null => (typeof value === "string" ? (JSON.parse(value) as T) : null);
const dir = (d: SortDirection) => (d === "desc" ? "DESC" : "ASC");
/** SQLite reads a negative LIMIT as "no limit": clamp, so a page is never larger than asked. */
const limitOf = (page: Page) => Math.max(0, Math.floor(page.limit));
const offsetOf = (page: Page) => Math.max(0, Math.floor(page.offset));



/**
 * Every query of the metadata port, once, for SQLite and PostgreSQL alike (the schema has the same tables and
 * columns on both: src/adapters/sqlite/migrations.ts and src/adapters/postgres/pg-migrations.ts). The store that
 * owns the connection opens and ends the transaction; this class only reads and writes inside it.
 */
export class SqlMetadataTx implements MetadataTx {
  constructor(
    private readonly s: SqlSession,
    private readonly dialect: SqlDialect,
    private readonly newJobId: () => string,
    /** The write transaction's after-commit effects; absent for reads (MetadataReader has no afterCommit). */
    private readonly effects?: AfterCommitEffects,
  ) {}

  afterCommit(effect: () => void): void {
    if (!this.effects) throw new Error("afterCommit is only for write transactions.");
    this.effects.add(effect);
  }

  async enqueueJob(job: OutboxJob): Promise<void> {
    // The partial unique index jobs_dedupe (queued or running jobs) turns a second request for the same work into a
    // no-op; run_after is the enqueuing node's clock, like the job queue's own enqueue.
    await this.s.run(
      `INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, dedupe_key, run_after, created_at)
        VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      this.newJobId(), job.kind, JSON.stringify(job.payload), job.maxAttempts ?? DEFAULT_JOB_ATTEMPTS, job.dedupeKey, Date.now(), new Date().toISOString(),
    );
  }

  // ---- iModels

  async getIModel(id: string): Promise<IModelRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM imodels WHERE id = ?", id);
    return row ? toIModel(row) : undefined;
  }

  async listIModels(filter: IModelFilter, page: Page): Promise<IModelRecord[]> {
    const where = ["itwin_id = ?", "baseline_state <> 'initializationFailed'"];
    const params: unknown[] = [filter.iTwinId];
    addNameSearchState(filter, where, params);
    const d = dir(filter.orderBy?.direction ?? "asc");
    const order = filter.orderBy?.field === "name" ? `name ${d}, id ${d}` : `created_at ${d}, id ${d}`;
    return (await this.s.all<Row>(
      `SELECT * FROM imodels WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ? OFFSET ?`,
      ...params,
      limitOf(page),
      offsetOf(page),
    )).map(toIModel);
  }

  async findIModelByName(iTwinId: string, name: string): Promise<IModelRecord | undefined> {
    const row = await this.s.get<Row>(
      "SELECT * FROM imodels WHERE itwin_id = ? AND name = ? AND baseline_state <> 'initializationFailed' ORDER BY created_at, id LIMIT 1",
      iTwinId,
      name,
    );
    return row ? toIModel(row) : undefined;
  }

  async iTwinDeleted(iTwinId: string): Promise<boolean> {
    return (await this.s.get("SELECT 1 AS deleted FROM itwins WHERE id = ? AND deleted_at IS NOT NULL", iTwinId)) !== undefined;
  }

  async insertIModel(r: IModelRecord): Promise<void> {
    await this.s.run(
      `INSERT INTO imodels (id, itwin_id, name, description, extent, containers_enabled, creator_id, created_at, state, creation_mode,
        baseline_state, baseline_size, baseline_failure, next_briefcase_id, creation_source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      r.id, r.iTwinId, r.name, r.description, json(r.extent), r.containersEnabled, r.creatorId, r.createdAt, r.state, r.creationMode,
      r.baselineState, r.baselineSize, r.baselineFailure, r.nextBriefcaseId, json(r.creationSource ?? null),
    );
  }

  async updateIModel(r: IModelRecord): Promise<void> {
    await this.s.run(
      `UPDATE imodels SET itwin_id = ?, name = ?, description = ?, extent = ?, containers_enabled = ?, creator_id = ?, created_at = ?,
        state = ?, creation_mode = ?, baseline_state = ?, baseline_size = ?, baseline_failure = ?, next_briefcase_id = ?, creation_source = ? WHERE id = ?`,
      r.iTwinId, r.name, r.description, json(r.extent), r.containersEnabled, r.creatorId, r.createdAt, r.state, r.creationMode,
      r.baselineState, r.baselineSize, r.baselineFailure, r.nextBriefcaseId, json(r.creationSource ?? null), r.id,
    );
  }

  async deleteIModel(id: string): Promise<void> {
    // Every other table references imodels(id) ON DELETE CASCADE (foreign_keys is on for every connection).
    await this.s.run("DELETE FROM imodels WHERE id = ?", id);
  }

  // ---- changesets (primary key (imodel_id, idx): every lookup and page below is an index range)

  async getChangesetByIndex(iModelId: string, index: number): Promise<ChangesetRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND idx = ?", iModelId, index);
    return row ? toChangeset(row) : undefined;
  }

  async getChangesetById(iModelId: string, id: string): Promise<ChangesetRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND id = ?", iModelId, id);
    return row ? toChangeset(row) : undefined;
  }

  async getLatestChangeset(iModelId: string): Promise<ChangesetRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND state = 'fileUploaded' ORDER BY idx DESC LIMIT 1", iModelId);
    return row ? toChangeset(row) : undefined;
  }

  async getPendingChangeset(iModelId: string): Promise<ChangesetRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND state = 'waitingForFile' ORDER BY idx DESC LIMIT 1", iModelId);
    return row ? toChangeset(row) : undefined;
  }

  async listChangesets(iModelId: string, filter: ChangesetFilter, page: Page): Promise<ChangesetRecord[]> {
    const sql = `SELECT * FROM changesets WHERE imodel_id = ? AND idx > ? AND idx <= ?${filter.onlyUploaded ? " AND state = 'fileUploaded'" : ""}
      ORDER BY idx ${dir(filter.direction)} LIMIT ? OFFSET ?`;
    return (await this.s.all<Row>(
      sql,
      iModelId,
      filter.afterIndex ?? Number.MIN_SAFE_INTEGER,
      filter.lastIndex ?? Number.MAX_SAFE_INTEGER,
      limitOf(page),
      offsetOf(page),
    )).map(toChangeset);
  }

  async insertChangeset(r: ChangesetRecord): Promise<void> {
    await this.s.run(
      `INSERT INTO changesets (imodel_id, idx, id, parent_id, description, briefcase_id, containing_changes, file_size, creator_id, pushed_at,
        state, group_id, synchronization_info, application_id, application_name, uncompressed_size) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      r.iModelId, r.index, r.id, r.parentId, r.description, r.briefcaseId, r.containingChanges, r.fileSize, r.creatorId, r.pushedAt,
      r.state, r.groupId, json(r.synchronizationInfo), r.application?.id ?? null, r.application?.name ?? null, r.uncompressedSize ?? null,
    );
  }

  async updateChangeset(r: ChangesetRecord): Promise<void> {
    await this.s.run(
      `UPDATE changesets SET id = ?, parent_id = ?, description = ?, briefcase_id = ?, containing_changes = ?, file_size = ?, creator_id = ?,
        pushed_at = ?, state = ?, group_id = ?, synchronization_info = ?, application_id = ?, application_name = ?, uncompressed_size = ?
        WHERE imodel_id = ? AND idx = ?`,
      r.id, r.parentId, r.description, r.briefcaseId, r.containingChanges, r.fileSize, r.creatorId, r.pushedAt, r.state, r.groupId,
      json(r.synchronizationInfo), r.application?.id ?? null, r.application?.name ?? null, r.uncompressedSize ?? null, r.iModelId, r.index,
    );
  }

  async deleteChangeset(iModelId: string, index: number): Promise<void> {
    await this.s.run("DELETE FROM changesets WHERE imodel_id = ? AND idx = ?", iModelId, index);
  }

  // ---- briefcases

  async getBriefcase(iModelId: string, briefcaseId: number): Promise<BriefcaseRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM briefcases WHERE imodel_id = ? AND briefcase_id = ?", iModelId, briefcaseId);
    return row ? toBriefcase(row) : undefined;
  }

  async listBriefcases(iModelId: string, filter: { ownerId?: string; direction: SortDirection }, page: Page): Promise<BriefcaseRecord[]> {
    const d = dir(filter.direction);
    const byOwner = filter.ownerId !== undefined;
    const sql = `SELECT * FROM briefcases WHERE imodel_id = ?${byOwner ? " AND owner_id = ?" : ""}
      ORDER BY acquired_at ${d}, briefcase_id ${d} LIMIT ? OFFSET ?`;
    const params: unknown[] = byOwner ? [iModelId, filter.ownerId] : [iModelId];
    return (await this.s.all<Row>(sql, ...params, limitOf(page), offsetOf(page))).map(toBriefcase);
  }

  async countBriefcases(iModelId: string, ownerId?: string): Promise<number> {
    const row =
      ownerId === undefined
        ? await this.s.get<{ n: number }>("SELECT COUNT(*) AS n FROM briefcases WHERE imodel_id = ?", iModelId)
        : await this.s.get<{ n: number }>("SELECT COUNT(*) AS n FROM briefcases WHERE imodel_id = ? AND owner_id = ?", iModelId, ownerId);
    return row?.n ?? 0;
  }

  async insertBriefcase(r: BriefcaseRecord): Promise<void> {
    await this.s.run(
      "INSERT INTO briefcases (imodel_id, briefcase_id, owner_id, acquired_at, device_name, application_id, application_name) VALUES (?,?,?,?,?,?,?)",
      r.iModelId, r.briefcaseId, r.ownerId, r.acquiredAt, r.deviceName, r.application?.id ?? null, r.application?.name ?? null,
    );
    await this.s.run(
      "INSERT INTO imodel_users (imodel_id, user_id, first_seen_at) VALUES (?, ?, ?) ON CONFLICT (imodel_id, user_id) DO NOTHING",
      r.iModelId, r.ownerId, r.acquiredAt,
    );
  }

  async deleteBriefcase(iModelId: string, briefcaseId: number): Promise<void> {
    await this.s.run("DELETE FROM briefcases WHERE imodel_id = ? AND briefcase_id = ?", iModelId, briefcaseId);
  }

  // ---- named versions

  async getNamedVersion(iModelId: string, id: string): Promise<NamedVersionRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM named_versions WHERE imodel_id = ? AND id = ?", iModelId, id);
    return row ? toNamedVersion(row) : undefined;
  }

  async getNamedVersionByName(iModelId: string, name: string): Promise<NamedVersionRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM named_versions WHERE imodel_id = ? AND name = ?", iModelId, name);
    return row ? toNamedVersion(row) : undefined;
  }

  async getNamedVersionByChangeset(iModelId: string, changesetIndex: number): Promise<NamedVersionRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM named_versions WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex);
    return row ? toNamedVersion(row) : undefined;
  }

  async listNamedVersions(iModelId: string, filter: NamedVersionFilter, page: Page): Promise<NamedVersionRecord[]> {
    const where = ["imodel_id = ?"];
    const params: unknown[] = [iModelId];
    addNameSearchState(filter, where, params);
    const d = dir(filter.orderBy?.direction ?? "asc");
    const order = filter.orderBy?.field === "createdDateTime" ? `created_at ${d}, id ${d}` : `changeset_index ${d}, id ${d}`;
    return (await this.s.all<Row>(
      `SELECT * FROM named_versions WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ? OFFSET ?`,
      ...params,
      limitOf(page),
      offsetOf(page),
    )).map(toNamedVersion);
  }

  async listNamedVersionsInRange(iModelId: string, fromIndex: number, toIndex: number): Promise<NamedVersionRecord[]> {
    return (await this.s.all<Row>(
      "SELECT * FROM named_versions WHERE imodel_id = ? AND changeset_index BETWEEN ? AND ? ORDER BY changeset_index",
      iModelId, fromIndex, toIndex,
    )).map(toNamedVersion);
  }

  async insertNamedVersion(r: NamedVersionRecord): Promise<void> {
    await this.s.run(
      `INSERT INTO named_versions (imodel_id, id, name, description, changeset_index, changeset_id, state, creator_id, created_at,
        application_id, application_name) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
      r.iModelId, r.id, r.name, r.description, r.changesetIndex, r.changesetId, r.state, r.creatorId, r.createdAt,
      r.application?.id ?? null, r.application?.name ?? null,
    );
  }

  async updateNamedVersion(r: NamedVersionRecord): Promise<void> {
    await this.s.run(
      `UPDATE named_versions SET name = ?, description = ?, changeset_index = ?, changeset_id = ?, state = ?, creator_id = ?, created_at = ?
        WHERE imodel_id = ? AND id = ?`,
      r.name, r.description, r.changesetIndex, r.changesetId, r.state, r.creatorId, r.createdAt, r.iModelId, r.id,
    );
  }

  // ---- changeset groups and extended data

  async getChangesetGroup(iModelId: string, id: string): Promise<ChangesetGroupRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM changeset_groups WHERE imodel_id = ? AND id = ?", iModelId, id);
    return row ? toGroup(row) : undefined;
  }

  async listChangesetGroups(iModelId: string, page: Page): Promise<ChangesetGroupRecord[]> {
    return (await this.s.all<Row>(
      "SELECT * FROM changeset_groups WHERE imodel_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
      iModelId, limitOf(page), offsetOf(page),
    )).map(toGroup);
  }

  async insertChangesetGroup(r: ChangesetGroupRecord): Promise<void> {
    await this.s.run(
      "INSERT INTO changeset_groups (imodel_id, id, description, state, creator_id, created_at) VALUES (?,?,?,?,?,?)",
      r.iModelId, r.id, r.description, r.state, r.creatorId, r.createdAt,
    );
  }

  async updateChangesetGroup(r: ChangesetGroupRecord): Promise<void> {
    await this.s.run(
      "UPDATE changeset_groups SET description = ?, state = ?, creator_id = ?, created_at = ? WHERE imodel_id = ? AND id = ?",
      r.description, r.state, r.creatorId, r.createdAt, r.iModelId, r.id,
    );
  }

  async getExtendedData(iModelId: string, changesetIndex: number): Promise<string | undefined> {
    return (await this.s.get<{ data: string }>("SELECT data FROM extended_data WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex))?.data;
  }

  async listExtendedData(iModelId: string, page: Page): Promise<{ changesetIndex: number; data: string }[]> {
    return (await this.s.all<{ changeset_index: number; data: string }>(
      "SELECT changeset_index, data FROM extended_data WHERE imodel_id = ? ORDER BY changeset_index LIMIT ? OFFSET ?",
      iModelId, limitOf(page), offsetOf(page),
    )).map((r) => ({ changesetIndex: r.changeset_index, data: r.data }));
  }

  async putExtendedData(iModelId: string, changesetIndex: number, data: string): Promise<void> {
    await this.s.run(
      "INSERT INTO extended_data (imodel_id, changeset_index, data) VALUES (?,?,?) ON CONFLICT (imodel_id, changeset_index) DO UPDATE SET data = excluded.data",
      iModelId, changesetIndex, data,
    );
  }

  // ---- checkpoints

  async getCheckpoint(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM checkpoints WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex);
    return row ? toCheckpoint(row) : undefined;
  }

  async getPrecedingCheckpoint(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined> {
    const row = await this.s.get<Row>(
      "SELECT * FROM checkpoints WHERE imodel_id = ? AND changeset_index <= ? AND state = 'successful' ORDER BY changeset_index DESC LIMIT 1",
      iModelId, changesetIndex,
    );
    return row ? toCheckpoint(row) : undefined;
  }

  async getLatestCheckpoint(iModelId: string): Promise<CheckpointRecord | undefined> {
    const row = await this.s.get<Row>("SELECT * FROM checkpoints WHERE imodel_id = ? AND state = 'successful' ORDER BY changeset_index DESC LIMIT 1", iModelId);
    return row ? toCheckpoint(row) : undefined;
  }

  async listCheckpoints(iModelId: string): Promise<CheckpointRecord[]> {
    return (await this.s.all<Row>("SELECT * FROM checkpoints WHERE imodel_id = ? ORDER BY changeset_index", iModelId)).map(toCheckpoint);
  }

  async upsertCheckpoint(r: CheckpointRecord): Promise<void> {
    await this.s.run(
      `INSERT INTO checkpoints (imodel_id, changeset_index, changeset_id, state, blob_key, size, failure_reason, updated_at) VALUES (?,?,?,?,?,?,?,?)
        ON CONFLICT (imodel_id, changeset_index) DO UPDATE SET changeset_id = excluded.changeset_id, state = excluded.state,
        blob_key = excluded.blob_key, size = excluded.size, failure_reason = excluded.failure_reason, updated_at = excluded.updated_at`,
      r.iModelId, r.changesetIndex, r.changesetId, r.state, r.blobKey, r.size, r.failureReason, r.updatedAt,
    );
  }

  async deleteCheckpoint(iModelId: string, changesetIndex: number): Promise<void> {
    await this.s.run("DELETE FROM checkpoints WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex);
  }

  // ---- blob deletion outbox (migration 2)

  async listBlobDeletions(limit: number): Promise<string[]> {
    return (await this.s.all<{ key: string }>("SELECT key FROM blob_deletions ORDER BY requested_at, key LIMIT ?", Math.max(0, Math.floor(limit)))).map((r) => r.key);
  }

  async hasLiveDeletionHold(nowMs: number): Promise<boolean> {
    return await this.s.get<Row>("SELECT 1 FROM blob_deletion_holds WHERE expires_at > ? LIMIT 1", nowMs) !== undefined;
  }

  async requestBlobDeletion(keyOrPrefix: string, atMs: number): Promise<void> {
    await this.s.run("INSERT INTO blob_deletions (key, requested_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", keyOrPrefix, atMs);
  }

  async forgetBlobDeletion(keyOrPrefix: string): Promise<void> {
    await this.s.run("DELETE FROM blob_deletions WHERE key = ?", keyOrPrefix);
  }

  async putDeletionHold(holder: string, expiresAtMs: number): Promise<void> {
    await this.s.run("INSERT INTO blob_deletion_holds (holder, expires_at) VALUES (?, ?) ON CONFLICT (holder) DO UPDATE SET expires_at = excluded.expires_at", holder, expiresAtMs);
  }

  async removeDeletionHold(holder: string): Promise<void> {
    await this.s.run("DELETE FROM blob_deletion_holds WHERE holder = ?", holder);
  }

  // ---- locks
  // locks(imodel_id, object_id) holds the exclusive holder and the pull-required index; shared_locks holds one row
  // per (briefcase, object). A `locks` row that remembers nothing (no holder, no release index) is deleted.

  async getObjectLocks(iModelId: string, objectIds: readonly string[], options: { releasedAfter?: number } = {}): Promise<Map<string, ObjectLockRecord>> {
    const result = new Map<string, ObjectLockRecord>();
    for (const ids of idChunks(objectIds)) await this.#readObjectLocks(iModelId, ids, options.releasedAfter ?? null, result);
    for (const record of result.values()) if (record.sharedBriefcaseIds.length > 1) record.sharedBriefcaseIds.sort((a, b) => a - b);
    return result;
  }

  /** getObjectLocks for one chunk of ids (a JSON array), into `result`. */
  async #readObjectLocks(iModelId: string, ids: string, releasedAfter: number | null, result: Map<string, ObjectLockRecord>): Promise<void> {
    // CROSS JOIN: SQLite always loops over its left table outermost, so each requested id is one primary-key lookup.
    // With a plain JOIN the planner (json_each tells it a scan costs 1) looped over all the iModel's locks and, for
    // each, scanned the whole id list: O(held × requested), 5 s for 10,000 ids on top of 10,000 held.
    const held = `SELECT l.object_id, l.exclusive_briefcase_id, l.last_exclusive_release_index
        FROM ${this.dialect.stringList("j")} ${this.dialect.orderedJoin} locks l ON l.imodel_id = ? AND l.object_id = j.value`;
    const lockRows =
      releasedAfter === null
        ? await this.s.all<LockRow>(held, ids, iModelId)
        : await this.s.all<LockRow>(`${held} WHERE l.exclusive_briefcase_id IS NOT NULL OR l.last_exclusive_release_index > ?`, ids, iModelId, releasedAfter);
    for (const row of lockRows) {
      result.set(row.object_id, {
        objectId: row.object_id,
        exclusiveBriefcaseId: row.exclusive_briefcase_id,
        sharedBriefcaseIds: [],
        lastExclusiveReleaseIndex: row.last_exclusive_release_index,
      });
    }
    for (const row of await this.s.all<{ object_id: string; briefcase_id: number }>(
      `SELECT s.object_id, s.briefcase_id FROM ${this.dialect.stringList("j")} ${this.dialect.orderedJoin} shared_locks s ON s.imodel_id = ? AND s.object_id = j.value`,
      ids, iModelId,
    )) {
      let record = result.get(row.object_id);
      if (!record) {
        record = { objectId: row.object_id, exclusiveBriefcaseId: null, sharedBriefcaseIds: [], lastExclusiveReleaseIndex: null };
        result.set(row.object_id, record);
      }
      record.sharedBriefcaseIds.push(row.briefcase_id);
    }
  }

  async listLocks(iModelId: string, filter: { briefcaseId?: number; level?: "shared" | "exclusive" }, page: Page): Promise<BriefcaseLocks[]> {
    // One stream of (briefcase, level, object) rows — exclusive (0) before shared (1) — paged by row, so offset and
    // limit count object ids. Each arm is read in index order and cut at offset + limit rows (the page can only
    // come from those), so a page sorts at most 2 × (offset + limit) rows, however many locks there are.
    const limit = limitOf(page);
    const offset = offsetOf(page);
    const head = Math.min(offset + limit, Number.MAX_SAFE_INTEGER);
    if (filter.briefcaseId !== undefined) return await this.#briefcaseLocks(iModelId, filter.briefcaseId, filter.level, offset, limit, head);
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
      arms.push("SELECT * FROM (SELECT briefcase_id, 1 AS level, object_id FROM shared_locks WHERE imodel_id = ? ORDER BY briefcase_id, object_id LIMIT ?) s");
      params.push(iModelId, head);
    }
    const rows = await this.s.all<{ briefcase_id: number; level: number; object_id: string }>(
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
  async #briefcaseLocks(iModelId: string, briefcaseId: number, level: "shared" | "exclusive" | undefined, offset: number, limit: number, head: number): Promise<BriefcaseLocks[]> {
    const exclusive = level === "shared" ? [] : await this.#heldObjectIds("locks", "exclusive_briefcase_id", iModelId, briefcaseId, head);
    const sharedHead = Math.max(0, head - exclusive.length);
    const shared = level === "exclusive" || sharedHead === 0 ? [] : await this.#heldObjectIds("shared_locks", "briefcase_id", iModelId, briefcaseId, sharedHead);
    const pageExclusive = exclusive.slice(offset, offset + limit);
    const sharedOffset = Math.max(0, offset - exclusive.length);
    const pageShared = shared.slice(sharedOffset, sharedOffset + (limit - pageExclusive.length));
    return pageExclusive.length + pageShared.length > 0 ? [{ briefcaseId, exclusive: pageExclusive, shared: pageShared }] : [];
  }

  /**
   * The first `head` object ids of one level of a briefcase's locks, in object id order, read LIST_CHUNK at a time
   * (keyset on the index): after every lock request the whole set is read, and a briefcase may hold 200,000 locks —
   * one statement for all of them held SQLite, and so the event loop, for 40 ms.
   */
  async #heldObjectIds(table: "locks" | "shared_locks", holder: string, iModelId: string, briefcaseId: number, head: number): Promise<string[]> {
    const ids: string[] = [];
    const first = `SELECT object_id FROM ${table} WHERE imodel_id = ? AND ${holder} = ? ORDER BY object_id LIMIT ?`;
    const next = `SELECT object_id FROM ${table} WHERE imodel_id = ? AND ${holder} = ? AND object_id > ? ORDER BY object_id LIMIT ?`;
    for (;;) {
      const wanted = Math.min(LIST_CHUNK, head - ids.length);
      if (wanted <= 0) return ids;
      const chunk =
        ids.length === 0
          ? await this.s.column<string>(first, iModelId, briefcaseId, wanted)
          : await this.s.column<string>(next, iModelId, briefcaseId, ids[ids.length - 1], wanted);
      for (const id of chunk) ids.push(id);
      if (chunk.length < wanted) return ids;
    }
  }

  async grantLocks(iModelId: string, briefcaseId: number, level: "shared" | "exclusive", objectIds: readonly string[]): Promise<void> {
    for (const ids of idChunks(objectIds)) await this.#grantLocks(iModelId, briefcaseId, level, ids);
  }

  /** grantLocks for one chunk of ids (a JSON array). */
  async #grantLocks(iModelId: string, briefcaseId: number, level: "shared" | "exclusive", ids: string): Promise<void> {
    if (level === "exclusive") {
      await this.s.run(
        `INSERT INTO locks (imodel_id, object_id, exclusive_briefcase_id) SELECT ?, value, CAST(? AS BIGINT) FROM ${this.dialect.stringList("j")} WHERE true
          ON CONFLICT (imodel_id, object_id) DO UPDATE SET exclusive_briefcase_id = excluded.exclusive_briefcase_id`,
        iModelId, briefcaseId, ids,
      );
      // The exclusive lock replaces the briefcase's own shared one (an upgrade). Found by a join first (index
      // lookups per id: CROSS JOIN keeps the id list outermost, as above), so that the usual case — no upgrades —
      // deletes nothing.
      const upgraded = await this.s.column<string>(
        `SELECT s.object_id FROM ${this.dialect.stringList("j")} ${this.dialect.orderedJoin} shared_locks s ON s.imodel_id = ? AND s.briefcase_id = ? AND s.object_id = j.value`,
        ids, iModelId, briefcaseId,
      );
      if (upgraded.length > 0) {
        await this.#byObjectIds("shared_locks", undefined, { sql: "imodel_id = ? AND briefcase_id = ?", params: [iModelId, briefcaseId] }, JSON.stringify(upgraded));
      }
    } else {
      await this.s.run(
        `INSERT INTO shared_locks (imodel_id, briefcase_id, object_id) SELECT ?, CAST(? AS BIGINT), value FROM ${this.dialect.stringList("j")} WHERE true ON CONFLICT DO NOTHING`,
        iModelId, briefcaseId, ids,
      );
    }
  }

  async releaseLocks(iModelId: string, briefcaseId: number, objectIds: readonly string[], releaseIndex: number): Promise<number> {
    let released = 0;
    for (const ids of idChunks(objectIds)) {
      released += await this.#releaseExclusive(iModelId, briefcaseId, ids, releaseIndex);
      released += await this.#byObjectIds("shared_locks", undefined, { sql: "imodel_id = ? AND briefcase_id = ?", params: [iModelId, briefcaseId] }, ids);
    }
    return released;
  }

  async releaseAllLocks(iModelId: string, briefcaseId: number, releaseIndex: number, limit?: number): Promise<number> {
    if (limit === undefined) {
      // In chunks: one statement over a briefcase's 200,000 locks would hold SQLite (and the event loop) for long.
      let released = 0;
      for (;;) {
        const chunk = await this.releaseAllLocks(iModelId, briefcaseId, releaseIndex, LIST_CHUNK);
        released += chunk;
        if (chunk < LIST_CHUNK) return released;
      }
    }
    // The first `limit` locks in listLocks order: exclusive ones by object id, then shared ones.
    let left = Math.max(0, Math.floor(limit));
    let released = 0;
    if (left > 0) {
      const exclusive = await this.s.column<string>(
        "SELECT object_id FROM locks WHERE imodel_id = ? AND exclusive_briefcase_id = ? ORDER BY object_id LIMIT ?",
        iModelId, briefcaseId, left,
      );
      if (exclusive.length > 0) {
        released += await this.#releaseExclusive(iModelId, briefcaseId, JSON.stringify(exclusive), releaseIndex);
        left -= exclusive.length;
      }
    }
    if (left > 0) {
      released += await this.s.run(
        `DELETE FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ? AND object_id IN
          (SELECT object_id FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ? ORDER BY object_id LIMIT ?)`,
        iModelId, briefcaseId, iModelId, briefcaseId, left,
      );
    }
    return released;
  }

  /**
   * Drops the briefcase's exclusive locks on `ids` (a JSON array; each a primary-key lookup). With `releaseIndex` > 0
   * the rows keep it as the pull-required index; otherwise a row keeps the index it had, and goes if it had none.
   */
  async #releaseExclusive(iModelId: string, briefcaseId: number, ids: string, releaseIndex: number): Promise<number> {
    const holder = { sql: "imodel_id = ? AND exclusive_briefcase_id = ?", params: [iModelId, briefcaseId] };
    if (releaseIndex > 0) return this.#byObjectIds("locks", { sql: "exclusive_briefcase_id = NULL, last_exclusive_release_index = ?", params: [releaseIndex] }, holder, ids);
    const unremembered = { sql: `${holder.sql} AND last_exclusive_release_index IS NULL`, params: holder.params };
    return (
      (await this.#byObjectIds("locks", undefined, unremembered, ids)) +
      (await this.#byObjectIds("locks", { sql: "exclusive_briefcase_id = NULL", params: [] }, holder, ids))
    );
  }

  /** UPDATE (with `set`) or DELETE of `table`'s rows matching `where` whose object_id is in `ids` (a JSON array). */
  #byObjectIds(table: string, set: { sql: string; params: unknown[] } | undefined, where: { sql: string; params: unknown[] }, ids: string): Promise<number> {
    const { sql, idsFirst } = this.dialect.byObjectIds(table, set?.sql, where.sql);
    return this.s.run(sql, ...(set?.params ?? []), ...(idsFirst ? [ids, ...where.params] : [...where.params, ids]));
  }


  // ---- users

  async listUserIds(iModelId: string): Promise<string[]> {
    return (await this.s.all<{ id: string }>(
      `SELECT creator_id AS id FROM imodels WHERE id = ?
        UNION SELECT creator_id FROM changesets WHERE imodel_id = ? AND state = 'fileUploaded'
        UNION SELECT user_id FROM imodel_users WHERE imodel_id = ?
        UNION SELECT creator_id FROM named_versions WHERE imodel_id = ?
        ORDER BY 1`,
      iModelId, iModelId, iModelId, iModelId,
    )).map((r) => r.id);
  }

  async userStatistics(
    iModelId: string,
    userId: string,
  ): Promise<{ pushedChangesetsCount: number; lastChangesetPushDate: string | null; createdVersionsCount: number; briefcasesCount: number }> {
    const row = (await this.s.get<{ pushed: number; last: string | null; versions: number; briefcases: number }>(
      `SELECT
        (SELECT COUNT(*) FROM changesets WHERE imodel_id = ? AND creator_id = ? AND state = 'fileUploaded') AS pushed,
        (SELECT MAX(pushed_at) FROM changesets WHERE imodel_id = ? AND creator_id = ? AND state = 'fileUploaded') AS last,
        (SELECT COUNT(*) FROM named_versions WHERE imodel_id = ? AND creator_id = ?) AS versions,
        (SELECT COUNT(*) FROM briefcases WHERE imodel_id = ? AND owner_id = ?) AS briefcases`,
      iModelId, userId, iModelId, userId, iModelId, userId, iModelId, userId,
    ))!;
    return { pushedChangesetsCount: row.pushed, lastChangesetPushDate: row.last, createdVersionsCount: row.versions, briefcasesCount: row.briefcases };
  }

  async userApplications(iModelId: string, userId: string): Promise<UserApplicationStatistics[]> {
    // One row per briefcase of the user (index briefcases_by_owner); each lock test is one index probe.
    const rows = await this.s.all<{ id: string | null; name: string | null; owns: number; root: number }>(
      `SELECT b.application_id AS id, b.application_name AS name,
          CASE WHEN EXISTS (SELECT 1 FROM locks WHERE imodel_id = b.imodel_id AND exclusive_briefcase_id = b.briefcase_id)
            OR EXISTS (SELECT 1 FROM shared_locks WHERE imodel_id = b.imodel_id AND briefcase_id = b.briefcase_id) THEN 1 ELSE 0 END AS owns,
          CASE WHEN EXISTS (SELECT 1 FROM locks WHERE imodel_id = b.imodel_id AND object_id = '0x1' AND exclusive_briefcase_id = b.briefcase_id) THEN 1 ELSE 0 END AS root
        FROM briefcases b WHERE b.imodel_id = ? AND b.owner_id = ?
        ORDER BY b.application_id, b.briefcase_id`,
      iModelId, userId,
    );
    const byApplication = new Map<string | null, UserApplicationStatistics>();
    for (const row of rows) {
      const entry = byApplication.get(row.id) ?? { id: row.id, name: row.id === null ? null : (row.name ?? row.id), ownsLocks: false, ownsExclusiveRootElementLock: false };
      entry.ownsLocks ||= row.owns === 1;
      entry.ownsExclusiveRootElementLock ||= row.root === 1;
      byApplication.set(row.id, entry);
    }
    return [...byApplication.values()];
  }
}

/** The `name` (exact), `search` (name or description contains, any case) and `state` filters iModels and versions share. */
function addNameSearchState(filter: { name?: string; search?: string; state?: string }, where: string[], params: unknown[]): void {
  if (filter.name !== undefined) {
    where.push("name = ?");
    params.push(filter.name);
  }
  if (filter.search !== undefined) {
    // LIKE with the needle's wildcards escaped: the same on both databases (mh_lower folds beyond ASCII on both).
    where.push("(mh_lower(name) LIKE ? ESCAPE '!' OR mh_lower(coalesce(description, '')) LIKE ? ESCAPE '!')");
    const needle = `%${filter.search.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
    params.push(needle, needle);
  }
  if (filter.state !== undefined) {
    where.push("state = ?");
    params.push(filter.state);
  }
}

function toIModel(r: Row): IModelRecord {
  return {
    id: r.id as string,
    iTwinId: r.itwin_id as string,
    name: r.name as string,
    description: (r.description as string | null) ?? null,
    extent: parseJson(r.extent),
    containersEnabled: r.containers_enabled as number,
    creatorId: r.creator_id as string,
    createdAt: r.created_at as string,
    state: r.state as IModelRecord["state"],
    creationMode: r.creation_mode as IModelRecord["creationMode"],
    baselineState: r.baseline_state as IModelRecord["baselineState"],
    baselineSize: (r.baseline_size as number | null) ?? null,
    baselineFailure: (r.baseline_failure as string | null) ?? null,
    nextBriefcaseId: r.next_briefcase_id as number,
    // Only clones, forks and templates have one: other records read back as they were written.
    ...(r.creation_source ? { creationSource: parseJson<CreationSource>(r.creation_source) } : {}),
  };
}

function toChangeset(r: Row): ChangesetRecord {
  return {
    iModelId: r.imodel_id as string,
    index: r.idx as number,
    id: r.id as string,
    parentId: r.parent_id as string,
    description: (r.description as string | null) ?? null,
    briefcaseId: r.briefcase_id as number,
    containingChanges: r.containing_changes as number,
    fileSize: r.file_size as number,
    creatorId: r.creator_id as string,
    pushedAt: r.pushed_at as string,
    state: r.state as ChangesetRecord["state"],
    groupId: (r.group_id as string | null) ?? null,
    synchronizationInfo: parseJson(r.synchronization_info),
    ...applicationOf(r),
    ...(r.uncompressed_size != null ? { uncompressedSize: r.uncompressed_size as number } : {}),
  };
}

/** Present only when stored, so records written without one read back as they were written. */
function applicationOf(r: Row): { application?: ApplicationRef } {
  return r.application_id != null ? { application: { id: r.application_id as string, name: (r.application_name as string | null) ?? (r.application_id as string) } } : {};
}

function toBriefcase(r: Row): BriefcaseRecord {
  return {
    iModelId: r.imodel_id as string,
    briefcaseId: r.briefcase_id as number,
    ownerId: r.owner_id as string,
    acquiredAt: r.acquired_at as string,
    deviceName: (r.device_name as string | null) ?? null,
    ...applicationOf(r),
  };
}

function toNamedVersion(r: Row): NamedVersionRecord {
  return {
    iModelId: r.imodel_id as string,
    id: r.id as string,
    name: r.name as string,
    description: (r.description as string | null) ?? null,
    changesetIndex: r.changeset_index as number,
    changesetId: (r.changeset_id as string | null) ?? null,
    state: r.state as NamedVersionRecord["state"],
    creatorId: r.creator_id as string,
    createdAt: r.created_at as string,
    ...applicationOf(r),
  };
}

function toGroup(r: Row): ChangesetGroupRecord {
  return {
    iModelId: r.imodel_id as string,
    id: r.id as string,
    description: (r.description as string | null) ?? null,
    state: r.state as ChangesetGroupRecord["state"],
    creatorId: r.creator_id as string,
    createdAt: r.created_at as string,
  };
}

function toCheckpoint(r: Row): CheckpointRecord {
  return {
    iModelId: r.imodel_id as string,
    changesetIndex: r.changeset_index as number,
    changesetId: r.changeset_id as string,
    state: r.state as CheckpointRecord["state"],
    blobKey: (r.blob_key as string | null) ?? null,
    size: r.size as number,
    failureReason: (r.failure_reason as string | null) ?? null,
    updatedAt: r.updated_at as string,
  };
}
