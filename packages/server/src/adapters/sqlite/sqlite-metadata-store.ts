import type { Statement } from "better-sqlite3";
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
  MetadataReader,
  MetadataStore,
  MetadataTx,
  NamedVersionFilter,
  NamedVersionRecord,
  ObjectLockRecord,
  Page,
  SortDirection,
  UserApplicationStatistics,
} from "../../ports/metadata-store.js";
import { UniqueViolation } from "../../ports/metadata-store.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { AsyncMutex, openSqliteDatabase, withBusyRetry } from "./sqlite-database.js";

type Row = Record<string, unknown>;
type LockRow = { object_id: string; exclusive_briefcase_id: number | null; last_exclusive_release_index: number | null };

/**
 * The embedded metadata store (one SQLite file, WAL).
 *
 * Why two connections: SQLite has one writer at a time, so every `transaction(fn)` runs on the single write
 * connection, one after the other (an async mutex), inside `BEGIN IMMEDIATE … COMMIT` — `fn` may await, since
 * nothing else uses that connection meanwhile. `read(fn)` runs on a separate read-only connection inside a
 * deferred transaction: WAL gives it the last committed snapshot, so reads never wait for a push or a large lock
 * batch, and never see a transaction that has not committed.
 *
 * Do not call `transaction` from inside a transaction's `fn`: it would wait for itself.
 */
export class SqliteMetadataStore implements MetadataStore {
  readonly #writer: SqliteDatabase;
  readonly #reader: SqliteDatabase;
  readonly #writeMutex = new AsyncMutex();
  readonly #readMutex = new AsyncMutex();
  readonly #writeTx: SqliteTx;
  readonly #readTx: SqliteTx;
  #closed = false;

  private constructor(path: string) {
    // The writer waits for other processes' write locks with async retries (see withBusyRetry), not by blocking.
    this.#writer = openSqliteDatabase(path, { busyTimeoutMs: 0 });
    try {
      this.#reader = openSqliteDatabase(path, { readonly: true });
    } catch (err) {
      this.#writer.close();
      throw err;
    }
    this.#writeTx = new SqliteTx(this.#writer);
    this.#readTx = new SqliteTx(this.#reader);
  }

  /** Opens (creating and migrating if needed) the database file at `path`. */
  static open(path: string): SqliteMetadataStore {
    return new SqliteMetadataStore(path);
  }

  transaction<T>(fn: (tx: MetadataTx) => Promise<T>): Promise<T> {
    return this.#writeMutex.run(async () => {
      this.#assertOpen();
      await withBusyRetry(() => this.#writer.exec("BEGIN IMMEDIATE"));
      this.#writeTx.active = true;
      try {
        const result = await fn(this.#writeTx);
        this.#writeTx.active = false;
        this.#writer.exec("COMMIT");
        return result;
      } catch (err) {
        this.#writeTx.active = false;
        if (this.#writer.inTransaction) this.#writer.exec("ROLLBACK");
        throw err;
      }
    });
  }

  read<T>(fn: (tx: MetadataReader) => Promise<T>): Promise<T> {
    return this.#readMutex.run(async () => {
      this.#assertOpen();
      this.#reader.exec("BEGIN");
      this.#readTx.active = true;
      try {
        return await fn(this.#readTx);
      } finally {
        this.#readTx.active = false;
        if (this.#reader.inTransaction) this.#reader.exec("COMMIT");
      }
    });
  }

  /** Waits for the transaction and read in progress, then closes both connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#writeMutex.run(async () => undefined), this.#readMutex.run(async () => undefined)]);
    this.#reader.close();
    this.#writer.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("The metadata store is closed.");
  }
}

/** Opens the SQLite metadata store at `path` (see {@link SqliteMetadataStore}). */
export async function openSqliteMetadataStore(path: string): Promise<SqliteMetadataStore> {
  return SqliteMetadataStore.open(path);
}

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));
const parseJson = <T>(value: unknown): T | null => (typeof value === "string" ? (JSON.parse(value) as T) : null);
const dir = (d: SortDirection) => (d === "desc" ? "DESC" : "ASC");
/** SQLite reads a negative LIMIT as "no limit": clamp, so a page is never larger than asked. */
const limitOf = (page: Page) => Math.max(0, Math.floor(page.limit));
const offsetOf = (page: Page) => Math.max(0, Math.floor(page.offset));

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/**
 * The queries of one connection, each prepared once and reused. Batches of object ids travel as one JSON array
 * parameter (`json_each`), so a 10,000-lock request is a handful of statements, not 10,000.
 */
class SqliteTx implements MetadataTx {
  readonly #cache = new Map<string, Statement>();
  /** Set by the store while a transaction/read is open: a tx kept past its callback must not write outside it. */
  active = false;

  constructor(private readonly db: SqliteDatabase) {}

  private stmt(sql: string, pluck = false): Statement {
    if (!this.active) throw new Error("This metadata transaction has ended; use the tx only inside its callback.");
    const key = pluck ? `pluck\u0000${sql}` : sql;
    let s = this.#cache.get(key);
    if (!s) {
      s = pluck ? this.db.prepare(sql).pluck() : this.db.prepare(sql);
      this.#cache.set(key, s);
    }
    return s;
  }

  private get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  private all<T>(sql: string, ...params: unknown[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  /** The first column of every row, without building row objects. */
  private column<T>(sql: string, ...params: unknown[]): T[] {
    // Its own cache entry: pluck mode sticks to a statement, and `all` of the same SQL must keep returning rows.
    return this.stmt(sql, true).all(...params) as T[];
  }

  private run(sql: string, ...params: unknown[]): number {
    const statement = this.stmt(sql);
    try {
      return statement.run(...params).changes;
    } catch (err) {
      if (isUniqueViolation(err)) throw new UniqueViolation((err as Error).message);
      throw err;
    }
  }

  // ---- iModels

  async getIModel(id: string): Promise<IModelRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM imodels WHERE id = ?", id);
    return row ? toIModel(row) : undefined;
  }

  async listIModels(filter: IModelFilter, page: Page): Promise<IModelRecord[]> {
    const where = ["itwin_id = ?", "baseline_state <> 'initializationFailed'"];
    const params: unknown[] = [filter.iTwinId];
    addNameSearchState(filter, where, params);
    const d = dir(filter.orderBy?.direction ?? "asc");
    const order = filter.orderBy?.field === "name" ? `name ${d}, id ${d}` : `created_at ${d}, id ${d}`;
    return this.all<Row>(
      `SELECT * FROM imodels WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ? OFFSET ?`,
      ...params,
      limitOf(page),
      offsetOf(page),
    ).map(toIModel);
  }

  async findIModelByName(iTwinId: string, name: string): Promise<IModelRecord | undefined> {
    const row = this.get<Row>(
      "SELECT * FROM imodels WHERE itwin_id = ? AND name = ? AND baseline_state <> 'initializationFailed' ORDER BY created_at, id LIMIT 1",
      iTwinId,
      name,
    );
    return row ? toIModel(row) : undefined;
  }

  async insertIModel(r: IModelRecord): Promise<void> {
    this.run(
      `INSERT INTO imodels (id, itwin_id, name, description, extent, containers_enabled, creator_id, created_at, state, creation_mode,
        baseline_state, baseline_size, baseline_failure, next_briefcase_id, creation_source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      r.id, r.iTwinId, r.name, r.description, json(r.extent), r.containersEnabled, r.creatorId, r.createdAt, r.state, r.creationMode,
      r.baselineState, r.baselineSize, r.baselineFailure, r.nextBriefcaseId, json(r.creationSource ?? null),
    );
  }

  async updateIModel(r: IModelRecord): Promise<void> {
    this.run(
      `UPDATE imodels SET itwin_id = ?, name = ?, description = ?, extent = ?, containers_enabled = ?, creator_id = ?, created_at = ?,
        state = ?, creation_mode = ?, baseline_state = ?, baseline_size = ?, baseline_failure = ?, next_briefcase_id = ?, creation_source = ? WHERE id = ?`,
      r.iTwinId, r.name, r.description, json(r.extent), r.containersEnabled, r.creatorId, r.createdAt, r.state, r.creationMode,
      r.baselineState, r.baselineSize, r.baselineFailure, r.nextBriefcaseId, json(r.creationSource ?? null), r.id,
    );
  }

  async deleteIModel(id: string): Promise<void> {
    // Every other table references imodels(id) ON DELETE CASCADE (foreign_keys is on for every connection).
    this.run("DELETE FROM imodels WHERE id = ?", id);
  }

  // ---- changesets (primary key (imodel_id, idx): every lookup and page below is an index range)

  async getChangesetByIndex(iModelId: string, index: number): Promise<ChangesetRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND idx = ?", iModelId, index);
    return row ? toChangeset(row) : undefined;
  }

  async getChangesetById(iModelId: string, id: string): Promise<ChangesetRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND id = ?", iModelId, id);
    return row ? toChangeset(row) : undefined;
  }

  async getLatestChangeset(iModelId: string): Promise<ChangesetRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND state = 'fileUploaded' ORDER BY idx DESC LIMIT 1", iModelId);
    return row ? toChangeset(row) : undefined;
  }

  async getPendingChangeset(iModelId: string): Promise<ChangesetRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND state = 'waitingForFile' ORDER BY idx DESC LIMIT 1", iModelId);
    return row ? toChangeset(row) : undefined;
  }

  async listChangesets(iModelId: string, filter: ChangesetFilter, page: Page): Promise<ChangesetRecord[]> {
    const sql = `SELECT * FROM changesets WHERE imodel_id = ? AND idx > ? AND idx <= ?${filter.onlyUploaded ? " AND state = 'fileUploaded'" : ""}
      ORDER BY idx ${dir(filter.direction)} LIMIT ? OFFSET ?`;
    return this.all<Row>(
      sql,
      iModelId,
      filter.afterIndex ?? Number.MIN_SAFE_INTEGER,
      filter.lastIndex ?? Number.MAX_SAFE_INTEGER,
      limitOf(page),
      offsetOf(page),
    ).map(toChangeset);
  }

  async insertChangeset(r: ChangesetRecord): Promise<void> {
    this.run(
      `INSERT INTO changesets (imodel_id, idx, id, parent_id, description, briefcase_id, containing_changes, file_size, creator_id, pushed_at,
        state, group_id, synchronization_info, application_id, application_name, uncompressed_size) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      r.iModelId, r.index, r.id, r.parentId, r.description, r.briefcaseId, r.containingChanges, r.fileSize, r.creatorId, r.pushedAt,
      r.state, r.groupId, json(r.synchronizationInfo), r.application?.id ?? null, r.application?.name ?? null, r.uncompressedSize ?? null,
    );
  }

  async updateChangeset(r: ChangesetRecord): Promise<void> {
    this.run(
      `UPDATE changesets SET id = ?, parent_id = ?, description = ?, briefcase_id = ?, containing_changes = ?, file_size = ?, creator_id = ?,
        pushed_at = ?, state = ?, group_id = ?, synchronization_info = ?, application_id = ?, application_name = ?, uncompressed_size = ?
        WHERE imodel_id = ? AND idx = ?`,
      r.id, r.parentId, r.description, r.briefcaseId, r.containingChanges, r.fileSize, r.creatorId, r.pushedAt, r.state, r.groupId,
      json(r.synchronizationInfo), r.application?.id ?? null, r.application?.name ?? null, r.uncompressedSize ?? null, r.iModelId, r.index,
    );
  }

  async deleteChangeset(iModelId: string, index: number): Promise<void> {
    this.run("DELETE FROM changesets WHERE imodel_id = ? AND idx = ?", iModelId, index);
  }

  // ---- briefcases

  async getBriefcase(iModelId: string, briefcaseId: number): Promise<BriefcaseRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM briefcases WHERE imodel_id = ? AND briefcase_id = ?", iModelId, briefcaseId);
    return row ? toBriefcase(row) : undefined;
  }

  async listBriefcases(iModelId: string, filter: { ownerId?: string; direction: SortDirection }, page: Page): Promise<BriefcaseRecord[]> {
    const d = dir(filter.direction);
    const byOwner = filter.ownerId !== undefined;
    const sql = `SELECT * FROM briefcases WHERE imodel_id = ?${byOwner ? " AND owner_id = ?" : ""}
      ORDER BY acquired_at ${d}, briefcase_id ${d} LIMIT ? OFFSET ?`;
    const params: unknown[] = byOwner ? [iModelId, filter.ownerId] : [iModelId];
    return this.all<Row>(sql, ...params, limitOf(page), offsetOf(page)).map(toBriefcase);
  }

  async countBriefcases(iModelId: string, ownerId?: string): Promise<number> {
    const row =
      ownerId === undefined
        ? this.get<{ n: number }>("SELECT COUNT(*) AS n FROM briefcases WHERE imodel_id = ?", iModelId)
        : this.get<{ n: number }>("SELECT COUNT(*) AS n FROM briefcases WHERE imodel_id = ? AND owner_id = ?", iModelId, ownerId);
    return row?.n ?? 0;
  }

  async insertBriefcase(r: BriefcaseRecord): Promise<void> {
    this.run(
      "INSERT INTO briefcases (imodel_id, briefcase_id, owner_id, acquired_at, device_name, application_id, application_name) VALUES (?,?,?,?,?,?,?)",
      r.iModelId, r.briefcaseId, r.ownerId, r.acquiredAt, r.deviceName, r.application?.id ?? null, r.application?.name ?? null,
    );
  }

  async deleteBriefcase(iModelId: string, briefcaseId: number): Promise<void> {
    this.run("DELETE FROM briefcases WHERE imodel_id = ? AND briefcase_id = ?", iModelId, briefcaseId);
  }

  // ---- named versions

  async getNamedVersion(iModelId: string, id: string): Promise<NamedVersionRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM named_versions WHERE imodel_id = ? AND id = ?", iModelId, id);
    return row ? toNamedVersion(row) : undefined;
  }

  async getNamedVersionByName(iModelId: string, name: string): Promise<NamedVersionRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM named_versions WHERE imodel_id = ? AND name = ?", iModelId, name);
    return row ? toNamedVersion(row) : undefined;
  }

  async getNamedVersionByChangeset(iModelId: string, changesetIndex: number): Promise<NamedVersionRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM named_versions WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex);
    return row ? toNamedVersion(row) : undefined;
  }

  async listNamedVersions(iModelId: string, filter: NamedVersionFilter, page: Page): Promise<NamedVersionRecord[]> {
    const where = ["imodel_id = ?"];
    const params: unknown[] = [iModelId];
    addNameSearchState(filter, where, params);
    const d = dir(filter.orderBy?.direction ?? "asc");
    const order = filter.orderBy?.field === "createdDateTime" ? `created_at ${d}, id ${d}` : `changeset_index ${d}, id ${d}`;
    return this.all<Row>(
      `SELECT * FROM named_versions WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ? OFFSET ?`,
      ...params,
      limitOf(page),
      offsetOf(page),
    ).map(toNamedVersion);
  }

  async listNamedVersionsInRange(iModelId: string, fromIndex: number, toIndex: number): Promise<NamedVersionRecord[]> {
    return this.all<Row>(
      "SELECT * FROM named_versions WHERE imodel_id = ? AND changeset_index BETWEEN ? AND ? ORDER BY changeset_index",
      iModelId, fromIndex, toIndex,
    ).map(toNamedVersion);
  }

  async insertNamedVersion(r: NamedVersionRecord): Promise<void> {
    this.run(
      `INSERT INTO named_versions (imodel_id, id, name, description, changeset_index, changeset_id, state, creator_id, created_at,
        application_id, application_name) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
      r.iModelId, r.id, r.name, r.description, r.changesetIndex, r.changesetId, r.state, r.creatorId, r.createdAt,
      r.application?.id ?? null, r.application?.name ?? null,
    );
  }

  async updateNamedVersion(r: NamedVersionRecord): Promise<void> {
    this.run(
      `UPDATE named_versions SET name = ?, description = ?, changeset_index = ?, changeset_id = ?, state = ?, creator_id = ?, created_at = ?
        WHERE imodel_id = ? AND id = ?`,
      r.name, r.description, r.changesetIndex, r.changesetId, r.state, r.creatorId, r.createdAt, r.iModelId, r.id,
    );
  }

  // ---- changeset groups and extended data

  async getChangesetGroup(iModelId: string, id: string): Promise<ChangesetGroupRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM changeset_groups WHERE imodel_id = ? AND id = ?", iModelId, id);
    return row ? toGroup(row) : undefined;
  }

  async listChangesetGroups(iModelId: string, page: Page): Promise<ChangesetGroupRecord[]> {
    return this.all<Row>(
      "SELECT * FROM changeset_groups WHERE imodel_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
      iModelId, limitOf(page), offsetOf(page),
    ).map(toGroup);
  }

  async insertChangesetGroup(r: ChangesetGroupRecord): Promise<void> {
    this.run(
      "INSERT INTO changeset_groups (imodel_id, id, description, state, creator_id, created_at) VALUES (?,?,?,?,?,?)",
      r.iModelId, r.id, r.description, r.state, r.creatorId, r.createdAt,
    );
  }

  async updateChangesetGroup(r: ChangesetGroupRecord): Promise<void> {
    this.run(
      "UPDATE changeset_groups SET description = ?, state = ?, creator_id = ?, created_at = ? WHERE imodel_id = ? AND id = ?",
      r.description, r.state, r.creatorId, r.createdAt, r.iModelId, r.id,
    );
  }

  async getExtendedData(iModelId: string, changesetIndex: number): Promise<string | undefined> {
    return this.get<{ data: string }>("SELECT data FROM extended_data WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex)?.data;
  }

  async listExtendedData(iModelId: string, page: Page): Promise<{ changesetIndex: number; data: string }[]> {
    return this.all<{ changeset_index: number; data: string }>(
      "SELECT changeset_index, data FROM extended_data WHERE imodel_id = ? ORDER BY changeset_index LIMIT ? OFFSET ?",
      iModelId, limitOf(page), offsetOf(page),
    ).map((r) => ({ changesetIndex: r.changeset_index, data: r.data }));
  }

  async putExtendedData(iModelId: string, changesetIndex: number, data: string): Promise<void> {
    this.run(
      "INSERT INTO extended_data (imodel_id, changeset_index, data) VALUES (?,?,?) ON CONFLICT (imodel_id, changeset_index) DO UPDATE SET data = excluded.data",
      iModelId, changesetIndex, data,
    );
  }

  // ---- checkpoints

  async getCheckpoint(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM checkpoints WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex);
    return row ? toCheckpoint(row) : undefined;
  }

  async getPrecedingCheckpoint(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined> {
    const row = this.get<Row>(
      "SELECT * FROM checkpoints WHERE imodel_id = ? AND changeset_index <= ? AND state = 'successful' ORDER BY changeset_index DESC LIMIT 1",
      iModelId, changesetIndex,
    );
    return row ? toCheckpoint(row) : undefined;
  }

  async getLatestCheckpoint(iModelId: string): Promise<CheckpointRecord | undefined> {
    const row = this.get<Row>("SELECT * FROM checkpoints WHERE imodel_id = ? AND state = 'successful' ORDER BY changeset_index DESC LIMIT 1", iModelId);
    return row ? toCheckpoint(row) : undefined;
  }

  async listCheckpoints(iModelId: string): Promise<CheckpointRecord[]> {
    return this.all<Row>("SELECT * FROM checkpoints WHERE imodel_id = ? ORDER BY changeset_index", iModelId).map(toCheckpoint);
  }

  async upsertCheckpoint(r: CheckpointRecord): Promise<void> {
    this.run(
      `INSERT INTO checkpoints (imodel_id, changeset_index, changeset_id, state, blob_key, size, failure_reason, updated_at) VALUES (?,?,?,?,?,?,?,?)
        ON CONFLICT (imodel_id, changeset_index) DO UPDATE SET changeset_id = excluded.changeset_id, state = excluded.state,
        blob_key = excluded.blob_key, size = excluded.size, failure_reason = excluded.failure_reason, updated_at = excluded.updated_at`,
      r.iModelId, r.changesetIndex, r.changesetId, r.state, r.blobKey, r.size, r.failureReason, r.updatedAt,
    );
  }

  async deleteCheckpoint(iModelId: string, changesetIndex: number): Promise<void> {
    this.run("DELETE FROM checkpoints WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex);
  }

  // ---- blob deletion outbox (migration 2)

  async listBlobDeletions(limit: number): Promise<string[]> {
    return this.all<{ key: string }>("SELECT key FROM blob_deletions ORDER BY requested_at, key LIMIT ?", Math.max(0, Math.floor(limit))).map((r) => r.key);
  }

  async hasLiveDeletionHold(nowMs: number): Promise<boolean> {
    return this.get<Row>("SELECT 1 FROM blob_deletion_holds WHERE expires_at > ? LIMIT 1", nowMs) !== undefined;
  }

  async requestBlobDeletion(keyOrPrefix: string, atMs: number): Promise<void> {
    this.run("INSERT INTO blob_deletions (key, requested_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", keyOrPrefix, atMs);
  }

  async forgetBlobDeletion(keyOrPrefix: string): Promise<void> {
    this.run("DELETE FROM blob_deletions WHERE key = ?", keyOrPrefix);
  }

  async putDeletionHold(holder: string, expiresAtMs: number): Promise<void> {
    this.run("INSERT INTO blob_deletion_holds (holder, expires_at) VALUES (?, ?) ON CONFLICT (holder) DO UPDATE SET expires_at = excluded.expires_at", holder, expiresAtMs);
  }

  async removeDeletionHold(holder: string): Promise<void> {
    this.run("DELETE FROM blob_deletion_holds WHERE holder = ?", holder);
  }

  // ---- locks
  // locks(imodel_id, object_id) holds the exclusive holder and the pull-required index; shared_locks holds one row
  // per (briefcase, object). A `locks` row that remembers nothing (no holder, no release index) is deleted.

  async getObjectLocks(iModelId: string, objectIds: readonly string[], options: { releasedAfter?: number } = {}): Promise<Map<string, ObjectLockRecord>> {
    const result = new Map<string, ObjectLockRecord>();
    if (objectIds.length === 0) return result;
    const ids = JSON.stringify(objectIds);
    const releasedAfter = options.releasedAfter ?? null;
    // CROSS JOIN: SQLite always loops over its left table outermost, so each requested id is one primary-key lookup.
    // With a plain JOIN the planner (json_each tells it a scan costs 1) looped over all the iModel's locks and, for
    // each, scanned the whole id list: O(held × requested), 5 s for 10,000 ids on top of 10,000 held.
    for (const row of this.all<LockRow>(
      `SELECT l.object_id, l.exclusive_briefcase_id, l.last_exclusive_release_index
        FROM json_each(?) j CROSS JOIN locks l ON l.imodel_id = ? AND l.object_id = j.value
        WHERE ? IS NULL OR l.exclusive_briefcase_id IS NOT NULL OR l.last_exclusive_release_index > ?`,
      ids, iModelId, releasedAfter, releasedAfter,
    )) {
      result.set(row.object_id, {
        objectId: row.object_id,
        exclusiveBriefcaseId: row.exclusive_briefcase_id,
        sharedBriefcaseIds: [],
        lastExclusiveReleaseIndex: row.last_exclusive_release_index,
      });
    }
    for (const row of this.all<{ object_id: string; briefcase_id: number }>(
      "SELECT s.object_id, s.briefcase_id FROM json_each(?) j CROSS JOIN shared_locks s ON s.imodel_id = ? AND s.object_id = j.value",
      ids, iModelId,
    )) {
      let record = result.get(row.object_id);
      if (!record) {
        record = { objectId: row.object_id, exclusiveBriefcaseId: null, sharedBriefcaseIds: [], lastExclusiveReleaseIndex: null };
        result.set(row.object_id, record);
      }
      record.sharedBriefcaseIds.push(row.briefcase_id);
    }
    for (const record of result.values()) if (record.sharedBriefcaseIds.length > 1) record.sharedBriefcaseIds.sort((a, b) => a - b);
    return result;
  }

  async listLocks(iModelId: string, filter: { briefcaseId?: number; level?: "shared" | "exclusive" }, page: Page): Promise<BriefcaseLocks[]> {
    // One stream of (briefcase, level, object) rows — exclusive (0) before shared (1) — paged by row, so offset and
    // limit count object ids. Each arm is read in index order and cut at offset + limit rows (the page can only
    // come from those), so a page sorts at most 2 × (offset + limit) rows, however many locks there are.
    const limit = limitOf(page);
    const offset = offsetOf(page);
    const head = Math.min(offset + limit, Number.MAX_SAFE_INTEGER);
    if (filter.briefcaseId !== undefined) return this.#briefcaseLocks(iModelId, filter.briefcaseId, filter.level, offset, limit, head);
    const arms: string[] = [];
    const params: unknown[] = [];
    if (filter.level !== "shared") {
      arms.push(
        `SELECT * FROM (SELECT exclusive_briefcase_id AS briefcase_id, 0 AS level, object_id FROM locks
          WHERE imodel_id = ? AND exclusive_briefcase_id IS NOT NULL ORDER BY exclusive_briefcase_id, object_id LIMIT ?)`,
      );
      params.push(iModelId, head);
    }
    if (filter.level !== "exclusive") {
      arms.push("SELECT * FROM (SELECT briefcase_id, 1 AS level, object_id FROM shared_locks WHERE imodel_id = ? ORDER BY briefcase_id, object_id LIMIT ?)");
      params.push(iModelId, head);
    }
    const rows = this.all<{ briefcase_id: number; level: number; object_id: string }>(
      `SELECT briefcase_id, level, object_id FROM (${arms.join(" UNION ALL ")}) ORDER BY briefcase_id, level, object_id LIMIT ? OFFSET ?`,
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
  #briefcaseLocks(iModelId: string, briefcaseId: number, level: "shared" | "exclusive" | undefined, offset: number, limit: number, head: number): BriefcaseLocks[] {
    const exclusive =
      level === "shared"
        ? []
        : this.column<string>("SELECT object_id FROM locks WHERE imodel_id = ? AND exclusive_briefcase_id = ? ORDER BY object_id LIMIT ?", iModelId, briefcaseId, head);
    const sharedHead = Math.max(0, head - exclusive.length);
    const shared =
      level === "exclusive" || sharedHead === 0
        ? []
        : this.column<string>("SELECT object_id FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ? ORDER BY object_id LIMIT ?", iModelId, briefcaseId, sharedHead);
    const pageExclusive = exclusive.slice(offset, offset + limit);
    const sharedOffset = Math.max(0, offset - exclusive.length);
    const pageShared = shared.slice(sharedOffset, sharedOffset + (limit - pageExclusive.length));
    return pageExclusive.length + pageShared.length > 0 ? [{ briefcaseId, exclusive: pageExclusive, shared: pageShared }] : [];
  }

  async grantLocks(iModelId: string, briefcaseId: number, level: "shared" | "exclusive", objectIds: readonly string[]): Promise<void> {
    if (objectIds.length === 0) return;
    const ids = JSON.stringify(objectIds);
    if (level === "exclusive") {
      this.run(
        `INSERT INTO locks (imodel_id, object_id, exclusive_briefcase_id) SELECT ?, value, ? FROM json_each(?) WHERE true
          ON CONFLICT (imodel_id, object_id) DO UPDATE SET exclusive_briefcase_id = excluded.exclusive_briefcase_id`,
        iModelId, briefcaseId, ids,
      );
      // The exclusive lock replaces the briefcase's own shared one (an upgrade). Found by a join first (index
      // lookups per id: CROSS JOIN keeps the id list outermost, as above), so that the usual case — no upgrades —
      // deletes nothing.
      const upgraded = this.column<string>(
        "SELECT s.object_id FROM json_each(?) j CROSS JOIN shared_locks s ON s.imodel_id = ? AND s.briefcase_id = ? AND s.object_id = j.value",
        ids, iModelId, briefcaseId,
      );
      if (upgraded.length > 0) {
        this.run(
          "DELETE FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ? AND object_id IN (SELECT value FROM json_each(?))",
          iModelId, briefcaseId, JSON.stringify(upgraded),
        );
      }
    } else {
      this.run(
        "INSERT INTO shared_locks (imodel_id, briefcase_id, object_id) SELECT ?, ?, value FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
        iModelId, briefcaseId, ids,
      );
    }
  }

  async releaseLocks(iModelId: string, briefcaseId: number, objectIds: readonly string[], releaseIndex: number): Promise<number> {
    if (objectIds.length === 0) return 0;
    const ids = JSON.stringify(objectIds);
    return (
      this.#releaseExclusive(iModelId, briefcaseId, ids, releaseIndex) +
      this.run(
        "DELETE FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ? AND object_id IN (SELECT value FROM json_each(?))",
        iModelId, briefcaseId, ids,
      )
    );
  }

  async releaseAllLocks(iModelId: string, briefcaseId: number, releaseIndex: number, limit?: number): Promise<number> {
    if (limit === undefined) {
      return (
        this.#releaseExclusive(iModelId, briefcaseId, undefined, releaseIndex) +
        this.run("DELETE FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ?", iModelId, briefcaseId)
      );
    }
    // The first `limit` locks in listLocks order: exclusive ones by object id, then shared ones.
    let left = Math.max(0, Math.floor(limit));
    let released = 0;
    if (left > 0) {
      const exclusive = this.column<string>(
        "SELECT object_id FROM locks WHERE imodel_id = ? AND exclusive_briefcase_id = ? ORDER BY object_id LIMIT ?",
        iModelId, briefcaseId, left,
      );
      if (exclusive.length > 0) {
        released += this.#releaseExclusive(iModelId, briefcaseId, JSON.stringify(exclusive), releaseIndex);
        left -= exclusive.length;
      }
    }
    if (left > 0) {
      released += this.run(
        `DELETE FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ? AND object_id IN
          (SELECT object_id FROM shared_locks WHERE imodel_id = ? AND briefcase_id = ? ORDER BY object_id LIMIT ?)`,
        iModelId, briefcaseId, iModelId, briefcaseId, left,
      );
    }
    return released;
  }

  /**
   * Drops the briefcase's exclusive locks (on `ids`, a JSON array, or all of them). With `releaseIndex` > 0 the
   * rows keep it as the pull-required index; otherwise a row keeps the index it had, and goes if it had none.
   */
  #releaseExclusive(iModelId: string, briefcaseId: number, ids: string | undefined, releaseIndex: number): number {
    const only = ids === undefined ? "" : " AND object_id IN (SELECT value FROM json_each(?))";
    const idParam = ids === undefined ? [] : [ids];
    // Given ids, each is a primary-key lookup. Without, the planner would scan every lock of the iModel (it never picks
    // the partial index for an UPDATE/DELETE here), so the briefcase's own entries in locks_exclusive are named.
    const table = ids === undefined ? "locks INDEXED BY locks_exclusive" : "locks";
    if (releaseIndex > 0) {
      return this.run(
        `UPDATE ${table} SET exclusive_briefcase_id = NULL, last_exclusive_release_index = ? WHERE imodel_id = ? AND exclusive_briefcase_id = ?${only}`,
        releaseIndex, iModelId, briefcaseId, ...idParam,
      );
    }
    return (
      this.run(
        `DELETE FROM ${table} WHERE imodel_id = ? AND exclusive_briefcase_id = ? AND last_exclusive_release_index IS NULL${only}`,
        iModelId, briefcaseId, ...idParam,
      ) +
      this.run(`UPDATE ${table} SET exclusive_briefcase_id = NULL WHERE imodel_id = ? AND exclusive_briefcase_id = ?${only}`, iModelId, briefcaseId, ...idParam)
    );
  }

  // ---- users

  async listUserIds(iModelId: string): Promise<string[]> {
    return this.all<{ id: string }>(
      `SELECT creator_id AS id FROM imodels WHERE id = ?
        UNION SELECT creator_id FROM changesets WHERE imodel_id = ? AND state = 'fileUploaded'
        UNION SELECT owner_id FROM briefcases WHERE imodel_id = ?
        UNION SELECT creator_id FROM named_versions WHERE imodel_id = ?
        ORDER BY 1`,
      iModelId, iModelId, iModelId, iModelId,
    ).map((r) => r.id);
  }

  async userStatistics(
    iModelId: string,
    userId: string,
  ): Promise<{ pushedChangesetsCount: number; lastChangesetPushDate: string | null; createdVersionsCount: number; briefcasesCount: number }> {
    const row = this.get<{ pushed: number; last: string | null; versions: number; briefcases: number }>(
      `SELECT
        (SELECT COUNT(*) FROM changesets WHERE imodel_id = @iModelId AND creator_id = @userId AND state = 'fileUploaded') AS pushed,
        (SELECT MAX(pushed_at) FROM changesets WHERE imodel_id = @iModelId AND creator_id = @userId AND state = 'fileUploaded') AS last,
        (SELECT COUNT(*) FROM named_versions WHERE imodel_id = @iModelId AND creator_id = @userId) AS versions,
        (SELECT COUNT(*) FROM briefcases WHERE imodel_id = @iModelId AND owner_id = @userId) AS briefcases`,
      { iModelId, userId },
    )!;
    return { pushedChangesetsCount: row.pushed, lastChangesetPushDate: row.last, createdVersionsCount: row.versions, briefcasesCount: row.briefcases };
  }

  async userApplications(iModelId: string, userId: string): Promise<UserApplicationStatistics[]> {
    // One row per briefcase of the user (index briefcases_by_owner); each lock test is one index probe.
    const rows = this.all<{ id: string | null; name: string | null; owns: number; root: number }>(
      `SELECT b.application_id AS id, b.application_name AS name,
          (EXISTS (SELECT 1 FROM locks WHERE imodel_id = b.imodel_id AND exclusive_briefcase_id = b.briefcase_id)
            OR EXISTS (SELECT 1 FROM shared_locks WHERE imodel_id = b.imodel_id AND briefcase_id = b.briefcase_id)) AS owns,
          EXISTS (SELECT 1 FROM locks WHERE imodel_id = b.imodel_id AND object_id = '0x1' AND exclusive_briefcase_id = b.briefcase_id) AS root
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
    where.push("(instr(mh_lower(name), ?) > 0 OR instr(mh_lower(coalesce(description, '')), ?) > 0)");
    const needle = filter.search.toLowerCase();
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
