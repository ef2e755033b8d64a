import type {
  BaselineFileState,
  ChangesetGroupState,
  ChangesetState,
  CheckpointState,
  IModelExtent,
  NamedVersionState,
} from "@modelhub/protocol";
import type { WebhookEvent } from "./webhook-store.js";
import type { ChangesetFilter, IModelFilter, NamedVersionFilter, Page, SortDirection } from "./metadata-queries.js";

/**
 * Hub metadata: iModels, changesets, briefcases, locks, named versions, checkpoints.
 *
 * Every read-modify-write goes through `transaction(scope, fn)`; `read(fn)` runs `fn` against a consistent committed
 * snapshot. If `fn` throws, nothing it wrote is kept.
 *
 * Concurrency — what every adapter guarantees (test/contract/metadata-store.contract.ts races two handles on one
 * backend to check it):
 * - Transactions with an overlapping `scope` (same iModel, or same iTwin) run one after the other: the second one's
 *   reads see everything the first committed. This is what keeps "a new changeset's parent is the tip", "briefcase
 *   ids are handed out once" and "an exclusive lock is granted once" true when several hub nodes share the store.
 *   SQLite has one writer at a time, so there every transaction is serialized and the scope is a no-op; PostgreSQL
 *   takes transaction-scoped advisory locks on the scope's keys (iTwin before iModel) before `fn` runs.
 * - `fn` runs exactly once per call (no automatic retry), so it may build values it returns, but it must not have
 *   effects outside the transaction (no blob writes, no events, no job runner nudges): it registers them with
 *   `tx.afterCommit`, which runs them after COMMIT and never after a rollback. Background work that must follow a
 *   write is queued with `tx.enqueueJob` in the same transaction (an outbox).
 * - Transactions without a scope may only write rows nobody reads-then-writes concurrently (an outbox entry, a hold).
 *
 * Other contract points:
 * - lookups of missing rows resolve to `undefined`; inserts of an existing key throw `UniqueViolation`.
 * - list methods return rows in the documented order and honour `limit`/`offset` exactly.
 */
export interface MetadataStore {
  transaction<T>(scope: TxScope, fn: (tx: MetadataTx) => Promise<T>): Promise<T>;
  transaction<T>(fn: (tx: MetadataTx) => Promise<T>): Promise<T>;
  read<T>(fn: (tx: MetadataReader) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** What a transaction's reads-then-writes are about: transactions on the same iTwin or iModel never interleave. */
export interface TxScope {
  /** iModel names are unique within an iTwin: creating or renaming one is scoped to its iTwin. */
  iTwinId?: string;
  /** Everything inside one iModel: changesets, briefcase ids, locks, named versions, checkpoints. */
  iModelId?: string;
  /**
   * What this transaction writes may be lost in a crash of the database without harm, because it is checked again
   * before anything depends on it (a push's reservation: its completion reads it back). A store may then commit
   * without waiting for the write to be durable (PostgreSQL: `synchronous_commit` off for this transaction, which
   * saves a WAL flush); it stays atomic, isolated and ordered, and the next durable commit makes it durable too.
   */
  provisional?: boolean;
}

/** A job queued by `MetadataTx.enqueueJob`, run after the transaction commits by whichever node claims it. */
export interface OutboxJob {
  kind: string;
  payload: Record<string, unknown>;
  /** While a job with this key is queued or running, queuing another is a no-op. */
  dedupeKey: string;
  maxAttempts?: number;
}

export class UniqueViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UniqueViolation";
  }
}

export type { ChangesetFilter, IModelFilter, NamedVersionFilter, Page, SortDirection } from "./metadata-queries.js";

export interface IModelRecord {
  id: string;
  iTwinId: string;
  name: string;
  description: string | null;
  extent: IModelExtent | null;
  containersEnabled: number;
  creatorId: string;
  createdAt: string;
  /** `initialized` once its baseline (checkpoint 0) is in place. */
  state: "initialized" | "notInitialized";
  /** How it is being created; `empty` iModels get a generated baseline. */
  creationMode: "empty" | "fromBaseline" | "clone" | "fork" | "template";
  /** The iModel and changeset a clone, fork or template copies; absent or null for the other modes. */
  creationSource?: CreationSource | null;
  baselineState: BaselineFileState;
  baselineSize: number | null;
  /** Why initialization failed, when `baselineState` is `initializationFailed`. */
  baselineFailure: string | null;
  /** The next briefcase id to hand out: ids are never reused. */
  nextBriefcaseId: number;
}

/**
 * What a clone, fork or template copies: the source up to and including `changesetIndex` (0: its baseline only),
 * changeset by changeset (`preserveHistory`) or squashed into the copy's baseline.
 */
export interface CreationSource {
  kind: "clone" | "fork" | "template";
  iModelId: string;
  changesetId: string;
  changesetIndex: number;
  /** The history is copied changeset by changeset (clones always; forks when asked; templates never). */
  preserveHistory: boolean;
  /** Fork only: the id of the main–fork relationship the cloud reports in `forkedFrom`. */
  relationshipId?: string;
}

/** The application that made a record (the token's client id, or what the caller's headers said). */
export interface ApplicationRef {
  id: string;
  name: string;
}

export interface ChangesetRecord {
  iModelId: string;
  index: number;
  id: string;
  parentId: string;
  description: string | null;
  briefcaseId: number;
  containingChanges: number;
  fileSize: number;
  creatorId: string;
  /** When the create (POST) arrived; the push time once completed. */
  pushedAt: string;
  state: ChangesetState;
  groupId: string | null;
  synchronizationInfo: { taskId: string; changedFiles: string[] | null } | null;
  /** The application that created (pushed) it; absent or null when not known. */
  application?: ApplicationRef | null;
  /** iTwin.js's `ChangesetProps.uncompressedSize` as the client declared it; absent or null when not declared. */
  uncompressedSize?: number | null;
}

export interface BriefcaseRecord {
  iModelId: string;
  briefcaseId: number;
  ownerId: string;
  acquiredAt: string;
  deviceName: string | null;
  /** The application that acquired it; absent or null when not known. */
  application?: ApplicationRef | null;
}

export interface NamedVersionRecord {
  iModelId: string;
  id: string;
  name: string;
  description: string | null;
  changesetIndex: number;
  changesetId: string | null;
  state: NamedVersionState;
  creatorId: string;
  createdAt: string;
  /** The application that created it; absent or null when not known. */
  application?: ApplicationRef | null;
}

export interface ChangesetGroupRecord {
  iModelId: string;
  id: string;
  description: string | null;
  state: ChangesetGroupState;
  creatorId: string;
  createdAt: string;
}

export interface CheckpointRecord {
  iModelId: string;
  changesetIndex: number;
  changesetId: string;
  state: CheckpointState;
  /** Blob key of the file when `successful`. */
  blobKey: string | null;
  size: number;
  failureReason: string | null;
  updatedAt: string;
}

/** The lock state of one object, as stored. */
export interface ObjectLockRecord {
  objectId: string;
  exclusiveBriefcaseId: number | null;
  sharedBriefcaseIds: number[];
  /** Index of the changeset the last exclusive holder released the object with (pull-required rule). */
  lastExclusiveReleaseIndex: number | null;
}

export interface BriefcaseLocks {
  briefcaseId: number;
  exclusive: string[];
  shared: string[];
}

export interface MetadataReader {
  getIModel(id: string): Promise<IModelRecord | undefined>;
  listIModels(filter: IModelFilter, page: Page): Promise<IModelRecord[]>;
  /** An iModel in this iTwin with exactly this name, failed creations excluded. */
  findIModelByName(iTwinId: string, name: string): Promise<IModelRecord | undefined>;
  /**
   * The iTwin was deleted (the access store's `itwins` row says so): no iModel may be created in it. Read inside a
   * transaction scoped to the iTwin, it cannot go stale before the commit (AccessStore.deleteITwin serializes with it).
   */
  iTwinDeleted(iTwinId: string): Promise<boolean>;

  getChangesetByIndex(iModelId: string, index: number): Promise<ChangesetRecord | undefined>;
  getChangesetById(iModelId: string, id: string): Promise<ChangesetRecord | undefined>;
  /** The uploaded changeset with the highest index. */
  getLatestChangeset(iModelId: string): Promise<ChangesetRecord | undefined>;
  /** The changeset still waiting for its file, if any (at most one: history is linear). */
  getPendingChangeset(iModelId: string): Promise<ChangesetRecord | undefined>;
  listChangesets(iModelId: string, filter: ChangesetFilter, page: Page): Promise<ChangesetRecord[]>;
  /** One query for getChangesetById(id), getPendingChangeset and getLatestChangeset (what a push's create reads). */
  getChangesetsForPush(
    iModelId: string,
    id: string,
  ): Promise<Partial<Record<"byId" | "pending" | "latest", ChangesetRecord>>>;
  /** One query: the named version on the changeset (its id), the preceding checkpoint (its index). */
  getChangesetLinks(
    iModelId: string,
    index: number,
  ): Promise<{ namedVersionId?: string; precedingCheckpointIndex?: number }>;

  getBriefcase(iModelId: string, briefcaseId: number): Promise<BriefcaseRecord | undefined>;
  listBriefcases(
    iModelId: string,
    filter: { ownerId?: string; direction: SortDirection },
    page: Page,
  ): Promise<BriefcaseRecord[]>;
  countBriefcases(iModelId: string, ownerId?: string): Promise<number>;

  getNamedVersion(iModelId: string, id: string): Promise<NamedVersionRecord | undefined>;
  getNamedVersionByName(iModelId: string, name: string): Promise<NamedVersionRecord | undefined>;
  getNamedVersionByChangeset(iModelId: string, changesetIndex: number): Promise<NamedVersionRecord | undefined>;
  listNamedVersions(iModelId: string, filter: NamedVersionFilter, page: Page): Promise<NamedVersionRecord[]>;
  /** Named versions on changesets `fromIndex..toIndex` (inclusive), for the links of a changeset page. */
  listNamedVersionsInRange(iModelId: string, fromIndex: number, toIndex: number): Promise<NamedVersionRecord[]>;

  getChangesetGroup(iModelId: string, id: string): Promise<ChangesetGroupRecord | undefined>;
  listChangesetGroups(iModelId: string, page: Page): Promise<ChangesetGroupRecord[]>;

  getExtendedData(iModelId: string, changesetIndex: number): Promise<string | undefined>;
  listExtendedData(iModelId: string, page: Page): Promise<{ changesetIndex: number; data: string }[]>;

  getCheckpoint(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined>;
  /** The newest `successful` checkpoint at or before `changesetIndex`. */
  getPrecedingCheckpoint(iModelId: string, changesetIndex: number): Promise<CheckpointRecord | undefined>;
  /** The newest `successful` checkpoint of the iModel. */
  getLatestCheckpoint(iModelId: string): Promise<CheckpointRecord | undefined>;
  /** Every checkpoint row of the iModel, any state, by changeset index. */
  listCheckpoints(iModelId: string): Promise<CheckpointRecord[]>;
  /** One query: the newest checkpoint not `failed` (0: none), and the uploaded bytes after it up to `changesetIndex`. */
  getCheckpointProgress(iModelId: string, changesetIndex: number): Promise<{ lastIndex: number; bytesSince: number }>;

  /**
   * Lock rows for these objects; objects never locked are absent from the map. With `releasedAfter`, so are objects
   * nobody holds whose last exclusive release is at or before that changeset index (they cannot refuse a request
   * from a briefcase at that index — and a briefcase that took and released 10,000 locks leaves 10,000 such rows).
   */
  getObjectLocks(
    iModelId: string,
    objectIds: readonly string[],
    options?: { releasedAfter?: number },
  ): Promise<Map<string, ObjectLockRecord>>;
  /** Locks grouped per briefcase, ordered by briefcase id; `offset`/`limit` count object ids, not entities. */
  listLocks(
    iModelId: string,
    filter: { briefcaseId?: number; level?: "shared" | "exclusive" },
    page: Page,
  ): Promise<BriefcaseLocks[]>;

  /** Blob deletions waiting in the outbox (keys, or prefixes ending in `/`), oldest first. */
  listBlobDeletions(limit: number): Promise<string[]>;
  /** Whether some holder (a backup in progress) has asked that no blob be deleted until after `nowMs`. */
  hasLiveDeletionHold(nowMs: number): Promise<boolean>;

  /**
   * Users that appear in this iModel, for `/users`: its creator, pushers, named versions' creators, and everyone who
   * ever acquired a briefcase (remembered by `insertBriefcase`, also after the briefcase is released).
   */
  listUserIds(iModelId: string): Promise<string[]>;
  userStatistics(
    iModelId: string,
    userId: string,
  ): Promise<{
    pushedChangesetsCount: number;
    lastChangesetPushDate: string | null;
    createdVersionsCount: number;
    briefcasesCount: number;
  }>;
  /**
   * The user's briefcases in this iModel grouped by the application that acquired them (id and name null for
   * briefcases whose application is not known): whether any of them holds a lock, and whether one holds the
   * exclusive lock on the root element (`0x1`, the root subject / repository model). Ordered by application id.
   */
  userApplications(iModelId: string, userId: string): Promise<UserApplicationStatistics[]>;
}

export interface UserApplicationStatistics {
  id: string | null;
  name: string | null;
  ownsLocks: boolean;
  ownsExclusiveRootElementLock: boolean;
}

export interface MetadataTx extends MetadataReader {
  /**
   * Runs `effect` once this transaction has committed, before `transaction()` resolves; if it rolls back (`fn`
   * throws, COMMIT fails) the effect MUST NOT run. Effects run in the order registered, each exactly once. They are
   * notifications (an event for the change feed, a nudge to this node's job runner or blob janitor): they MUST
   * return at once and never throw — one that throws anyway neither stops the others nor fails the committed write.
   * MUST throw when called after `fn` returned (a tx kept past its callback).
   */
  afterCommit(effect: () => void): void;

  /**
   * Queues background work in this transaction (the job queue's table): the job exists if and only if the write
   * that needs it commits, so a crash between the two cannot strand, e.g., an iModel in `initializationScheduled`.
   */
  enqueueJob(job: OutboxJob): Promise<void>;

  /**
   * Queues `event` for every active, unexpired webhook whose scope and event types match (issue 21), in this
   * transaction: one event row, which exists if and only if the change commits, fanned out into a delivery per
   * webhook after the commit (WebhookStore.fanOut). Resolves to how many webhooks match (no row when none). Services
   * call it through domain/webhooks/outbox.ts (`queueWebhook`), which also wakes the deliverer after commit.
   */
  queueWebhookEvent(event: WebhookEvent): Promise<number>;

  insertIModel(record: IModelRecord): Promise<void>;
  updateIModel(record: IModelRecord): Promise<void>;
  /** Removes the iModel and every row that belongs to it. */
  deleteIModel(id: string): Promise<void>;

  insertChangeset(record: ChangesetRecord): Promise<void>;
  updateChangeset(record: ChangesetRecord): Promise<void>;
  deleteChangeset(iModelId: string, index: number): Promise<void>;

  insertBriefcase(record: BriefcaseRecord): Promise<void>;
  deleteBriefcase(iModelId: string, briefcaseId: number): Promise<void>;

  insertNamedVersion(record: NamedVersionRecord): Promise<void>;
  updateNamedVersion(record: NamedVersionRecord): Promise<void>;

  insertChangesetGroup(record: ChangesetGroupRecord): Promise<void>;
  updateChangesetGroup(record: ChangesetGroupRecord): Promise<void>;

  putExtendedData(iModelId: string, changesetIndex: number, data: string): Promise<void>;

  upsertCheckpoint(record: CheckpointRecord): Promise<void>;
  deleteCheckpoint(iModelId: string, changesetIndex: number): Promise<void>;

  /**
   * Puts a blob (or every blob under a prefix ending in `/`) in the deletion outbox, in the same transaction as the
   * change that stops referring to it; the janitor deletes it later (never while a deletion hold is live).
   */
  requestBlobDeletion(keyOrPrefix: string, atMs: number): Promise<void>;
  /** Takes an entry out of the outbox once its blobs are gone. */
  forgetBlobDeletion(keyOrPrefix: string): Promise<void>;
  /** Asks that no blob be deleted until `expiresAtMs` (inserted or renewed); a backup holds this while it copies. */
  putDeletionHold(holder: string, expiresAtMs: number): Promise<void>;
  removeDeletionHold(holder: string): Promise<void>;

  /** Grants `level` on each object to the briefcase (exclusive replaces the briefcase's own shared lock). */
  grantLocks(
    iModelId: string,
    briefcaseId: number,
    level: "shared" | "exclusive",
    objectIds: readonly string[],
  ): Promise<void>;
  /**
   * Removes the briefcase's locks on these objects. Exclusive ones released with `releaseIndex` > 0 remember it
   * (pull-required rule). Returns how many object locks were removed.
   */
  releaseLocks(
    iModelId: string,
    briefcaseId: number,
    objectIds: readonly string[],
    releaseIndex: number,
  ): Promise<number>;
  /** Releases up to `limit` locks of the briefcase (all when omitted). Returns how many were released. */
  releaseAllLocks(iModelId: string, briefcaseId: number, releaseIndex: number, limit?: number): Promise<number>;
}
