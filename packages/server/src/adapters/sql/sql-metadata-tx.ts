import type {
  BriefcaseLocks,
  BriefcaseRecord,
  ChangesetFilter,
  ChangesetGroupRecord,
  ChangesetRecord,
  CheckpointRecord,
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
import type { WebhookEvent } from "../../ports/webhook-store.js";
import type { AfterCommitEffects } from "./after-commit.js";
import { queueWebhookEvent } from "./webhook-outbox.js";
import type { SqlContext } from "./metadata/common.js";
import * as iModels from "./metadata/imodels.js";
import * as changesets from "./metadata/changesets.js";
import * as briefcases from "./metadata/briefcases.js";
import * as namedVersions from "./metadata/named-versions.js";
import * as groups from "./metadata/changeset-groups.js";
import * as checkpoints from "./metadata/checkpoints.js";
import * as blobDeletions from "./metadata/blob-deletions.js";
import * as locks from "./metadata/locks.js";
import * as users from "./metadata/users.js";
import type { SqlDialect, SqlSession } from "./sql-session.js";

const DEFAULT_JOB_ATTEMPTS = 3;

/**
 * The metadata port over one SQL session, for SQLite and PostgreSQL alike (the schema has the same tables and columns
 * on both: src/adapters/sqlite/migrations.ts and src/adapters/postgres/pg-migrations.ts). The queries live by
 * aggregate in ./metadata/ (one file per group of tables, each function taking the session and dialect); this class
 * maps the port onto them. The store that owns the connection opens and ends the transaction; this class only reads
 * and writes inside it.
 */
export class SqlMetadataTx implements MetadataTx {
  readonly #q: SqlContext;

  constructor(
    private readonly s: SqlSession,
    dialect: SqlDialect,
    private readonly newJobId: () => string,
    /** The write transaction's after-commit effects; absent for reads (MetadataReader has no afterCommit). */
    private readonly effects?: AfterCommitEffects,
  ) {
    this.#q = { s, dialect };
  }

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
      this.newJobId(),
      job.kind,
      JSON.stringify(job.payload),
      job.maxAttempts ?? DEFAULT_JOB_ATTEMPTS,
      job.dedupeKey,
      Date.now(),
      new Date().toISOString(),
    );
  }

  queueWebhookEvent(event: WebhookEvent): Promise<number> {
    return queueWebhookEvent(this.s, event);
  }

  // ---- iModels: metadata/imodels.ts
  getIModel(id: string): Promise<IModelRecord | undefined> {
    return iModels.getIModel(this.#q, id);
  }
  listIModels(filter: IModelFilter, page: Page): Promise<IModelRecord[]> {
    return iModels.listIModels(this.#q, filter, page);
  }
  findIModelByName(iTwinId: string, name: string): Promise<IModelRecord | undefined> {
    return iModels.findIModelByName(this.#q, iTwinId, name);
  }
  iTwinDeleted(iTwinId: string): Promise<boolean> {
    return iModels.iTwinDeleted(this.#q, iTwinId);
  }
  insertIModel(r: IModelRecord): Promise<void> {
    return iModels.insertIModel(this.#q, r);
  }
  updateIModel(r: IModelRecord): Promise<void> {
    return iModels.updateIModel(this.#q, r);
  }
  deleteIModel(id: string): Promise<void> {
    return iModels.deleteIModel(this.#q, id);
  }

  // ---- changesets (primary key (imodel_id, idx): every lookup and page below is an index range): metadata/changesets.ts
  getChangesetByIndex(iModelId: string, index: number): Promise<ChangesetRecord | undefined> {
    return changesets.getChangesetByIndex(this.#q, iModelId, index);
  }
  getChangesetById(iModelId: string, id: string): Promise<ChangesetRecord | undefined> {
    return changesets.getChangesetById(this.#q, iModelId, id);
  }
  getLatestChangeset(iModelId: string): Promise<ChangesetRecord | undefined> {
    return changesets.getLatestChangeset(this.#q, iModelId);
  }
  getPendingChangeset(iModelId: string): Promise<ChangesetRecord | undefined> {
    return changesets.getPendingChangeset(this.#q, iModelId);
  }
  listChangesets(iModelId: string, filter: ChangesetFilter, page: Page): Promise<ChangesetRecord[]> {
    return changesets.listChangesets(this.#q, iModelId, filter, page);
  }
  getChangesetsForPush(
    iModelId: string,
    id: string,
  ): Promise<{ byId?: ChangesetRecord; pending?: ChangesetRecord; latest?: ChangesetRecord }> {
    return changesets.getChangesetsForPush(this.#q, iModelId, id);
  }
  getChangesetLinks(
    iModelId: string,
    changesetIndex: number,
  ): Promise<{ namedVersionId?: string; precedingCheckpointIndex?: number }> {
    return changesets.getChangesetLinks(this.#q, iModelId, changesetIndex);
  }
  insertChangeset(r: ChangesetRecord): Promise<void> {
    return changesets.insertChangeset(this.#q, r);
  }
  updateChangeset(r: ChangesetRecord): Promise<void> {
    return changesets.updateChangeset(this.#q, r);
  }
  deleteChangeset(iModelId: string, index: number): Promise<void> {
    return changesets.deleteChangeset(this.#q, iModelId, index);
  }

  // ---- briefcases: metadata/briefcases.ts
  getBriefcase(iModelId: string, briefcaseId: number): Promise<BriefcaseRecord | undefined> {
    return briefcases.getBriefcase(this.#q, iModelId, briefcaseId);
  }
  listBriefcases(
    iModelId: string,
    filter: { ownerId?: string; direction: SortDirection },
    page: Page,
  ): Promise<BriefcaseRecord[]> {
    return briefcases.listBriefcases(this.#q, iModelId, filter, page);
  }
  countBriefcases(iModelId: string, ownerId?: string): Promise<number> {
    return briefcases.countBriefcases(this.#q, iModelId, ownerId);
  }
  insertBriefcase(r: BriefcaseRecord): Promise<void> {
    return briefcases.insertBriefcase(this.#q, r);
  }
  deleteBriefcase(iModelId: string, briefcaseId: number): Promise<void> {
    return briefcases.deleteBriefcase(this.#q, iModelId, briefcaseId);
  }

  // ---- named versions: metadata/named-versions.ts
  getNamedVersion(iModelId: string, id: string): Promise<NamedVersionRecord | undefined> {
    return namedVersions.getNamedVersion(this.#q, iModelId, id);
  }
  getNamedVersionByName(iModelId: string, name: string): Promise<NamedVersionRecord | undefined> {
    return namedVersions.getNamedVersionByName(this.#q, iModelId, name);
  }
  getNamedVersionByChangeset(iModelId: string, changesetIndex: number): Promise<NamedVersionRecord | undefined> {
    return namedVersions.getNamedVersionByChangeset(this.#q, iModelId, changesetIndex);
  }
  listNamedVersions(iModelId: string, filter: NamedVersionFilter, page: Page): Promise<NamedVersionRecord[]> {
    return namedVersions.listNamedVersions(this.#q, iModelId, filter, page);
  }
  listNamedVersionsInRange(iModelId: string, fromIndex: number, toIndex: number): Promise<NamedVersionRecord[]> {
    return namedVersions.listNamedVersionsInRange(this.#q, iModelId, fromIndex, toIndex);
  }
  insertNamedVersion(r: NamedVersionRecord): Promise<void> {
    return namedVersions.insertNamedVersion(this.#q, r);
  }
  updateNamedVersion(r: NamedVersionRecord): Promise<void> {
    return namedVersions.updateNamedVersion(this.#q, r);
  }

  // ---- changeset groups and extended data: metadata/changeset-groups.ts
  getChangesetGroup(iModelId: string, id: string): Promise<ChangesetGroupRecord | undefined> {
    return groups.getChangesetGroup(this.#q, iModelId, id);
  }
  listChangesetGroups(iModelId: string, page: Page): Promise<ChangesetGroupRecord[]> {
    return groups.listChangesetGroups(this.#q, iModelId, page);
  }
  insertChangesetGroup(r: ChangesetGroupRecord): Promise<void> {
    return groups.insertChangesetGroup(this.#q, r);
  }
  updateChangesetGroup(r: ChangesetGroupRecord): Promise<void> {
    return groups.updateChangesetGroup(this.#q, r);
  }
  getExtendedData(iModelId: string, changesetIndex: number): Promise<string | undefined> {
    return groups.getExtendedData(this.#q, iModelId, changesetIndex);
  }
  listExtendedData(iModelId: string, page: Page): Promise<{ changesetIndex: number; data: string }[]> {
    return groups.listExtendedData(this.#q, iModelId, page);
  }
  putExtendedData(iModelId: string, changesetIndex: number, data: string): Promise<void> {
    return groups.putExtendedData(this.#q, iModelId, changesetIndex, data);
  }

  // ---- checkpoints: metadata/checkpoints.ts
  getCheckpoint(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined> {
    return checkpoints.getCheckpoint(this.#q, iModelId, changesetIndex);
  }
  getPrecedingCheckpoint(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined> {
    return checkpoints.getPrecedingCheckpoint(this.#q, iModelId, changesetIndex);
  }
  getLatestCheckpoint(iModelId: string): Promise<CheckpointRecord | undefined> {
    return checkpoints.getLatestCheckpoint(this.#q, iModelId);
  }
  listCheckpoints(iModelId: string): Promise<CheckpointRecord[]> {
    return checkpoints.listCheckpoints(this.#q, iModelId);
  }
  getCheckpointProgress(iModelId: string, changesetIndex: number): Promise<{ lastIndex: number; bytesSince: number }> {
    return checkpoints.getCheckpointProgress(this.#q, iModelId, changesetIndex);
  }

  upsertCheckpoint(r: CheckpointRecord): Promise<void> {
    return checkpoints.upsertCheckpoint(this.#q, r);
  }
  deleteCheckpoint(iModelId: string, changesetIndex: number): Promise<void> {
    return checkpoints.deleteCheckpoint(this.#q, iModelId, changesetIndex);
  }

  // ---- blob deletion outbox (migration 2): metadata/blob-deletions.ts
  listBlobDeletions(limit: number): Promise<string[]> {
    return blobDeletions.listBlobDeletions(this.#q, limit);
  }
  hasLiveDeletionHold(nowMs: number): Promise<boolean> {
    return blobDeletions.hasLiveDeletionHold(this.#q, nowMs);
  }
  requestBlobDeletion(keyOrPrefix: string, atMs: number): Promise<void> {
    return blobDeletions.requestBlobDeletion(this.#q, keyOrPrefix, atMs);
  }
  forgetBlobDeletion(keyOrPrefix: string): Promise<void> {
    return blobDeletions.forgetBlobDeletion(this.#q, keyOrPrefix);
  }
  putDeletionHold(holder: string, expiresAtMs: number): Promise<void> {
    return blobDeletions.putDeletionHold(this.#q, holder, expiresAtMs);
  }
  removeDeletionHold(holder: string): Promise<void> {
    return blobDeletions.removeDeletionHold(this.#q, holder);
  }

  // ---- locks: metadata/locks.ts
  getObjectLocks(
    iModelId: string,
    objectIds: readonly string[],
    options: { releasedAfter?: number } = {},
  ): Promise<Map<string, ObjectLockRecord>> {
    return locks.getObjectLocks(this.#q, iModelId, objectIds, options);
  }
  listLocks(
    iModelId: string,
    filter: { briefcaseId?: number; level?: "shared" | "exclusive" },
    page: Page,
  ): Promise<BriefcaseLocks[]> {
    return locks.listLocks(this.#q, iModelId, filter, page);
  }
  grantLocks(
    iModelId: string,
    briefcaseId: number,
    level: "shared" | "exclusive",
    objectIds: readonly string[],
  ): Promise<void> {
    return locks.grantLocks(this.#q, iModelId, briefcaseId, level, objectIds);
  }
  releaseLocks(
    iModelId: string,
    briefcaseId: number,
    objectIds: readonly string[],
    releaseIndex: number,
  ): Promise<number> {
    return locks.releaseLocks(this.#q, iModelId, briefcaseId, objectIds, releaseIndex);
  }
  releaseAllLocks(iModelId: string, briefcaseId: number, releaseIndex: number, limit?: number): Promise<number> {
    return locks.releaseAllLocks(this.#q, iModelId, briefcaseId, releaseIndex, limit);
  }

  // ---- users: metadata/users.ts
  listUserIds(iModelId: string): Promise<string[]> {
    return users.listUserIds(this.#q, iModelId);
  }
  userStatistics(iModelId: string, userId: string): ReturnType<MetadataTx["userStatistics"]> {
    return users.userStatistics(this.#q, iModelId, userId);
  }
  userApplications(iModelId: string, userId: string): Promise<UserApplicationStatistics[]> {
    return users.userApplications(this.#q, iModelId, userId);
  }
}
