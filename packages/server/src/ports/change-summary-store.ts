import type { WebhookEvent } from "./webhook-store.js";

/**
 * Element-level change summaries: what each changeset did to which elements (issue 20). Written once per changeset
 * by the summary job, read by the changes/compare API. Rows live in the metadata database beside the changesets
 * they describe and reference the iModel, so deleting the iModel deletes them.
 *
 * Contract (test/contract/change-summary-store.contract.ts, run on SQLite and PostgreSQL):
 * - `putSummary` is idempotent: storing a changeset's summary a second time keeps the first and returns false; a
 *   summary for an iModel that no longer exists is not stored (false). A failed summary (`failure` set) counts as
 *   stored: `missingIndexes` and `iModelsLackingSummaries` leave its changeset out.
 * - element rows of one changeset have distinct ids; lists are ordered by element id and honour limit/offset.
 */
export interface ChangeSummaryStore {
  /**
   * Stores a summary with its elements and counts in one transaction; `event` (the cloud's `iModels.changesReady.v1`)
   * goes into the webhook outbox in that same transaction, only when the summary is stored by this call (the outbox:
   * the deliveries exist if and only if the summary does; a second store of the same summary queues nothing).
   */
  putSummary(summary: ChangesetSummary, elements: readonly ChangedElementRow[], event?: WebhookEvent): Promise<boolean>;
  getSummary(iModelId: string, changesetIndex: number): Promise<ChangesetSummary | undefined>;
  /** Summaries of changesets `afterIndex < index <= lastIndex`, by index. */
  listSummaries(iModelId: string, afterIndex: number, lastIndex: number): Promise<ChangesetSummary[]>;
  /** One changeset's elements, by element id, filtered. */
  listElements(
    iModelId: string,
    changesetIndex: number,
    filter: ElementFilter,
    page: { limit: number; offset: number },
  ): Promise<ChangedElementRow[]>;
  /** Every element row of changesets `afterIndex < index <= lastIndex`, ordered by element id then changeset index. */
  rangeRows(iModelId: string, afterIndex: number, lastIndex: number): Promise<ChangedElementRow[]>;
  /** Indexes of the iModel's uploaded changesets in `afterIndex < index <= lastIndex` that have no summary yet. */
  missingIndexes(iModelId: string, afterIndex: number, lastIndex: number): Promise<number[]>;
  /** iModels with uploaded changesets lacking a summary, with the newest such index (for the backfill). */
  iModelsLackingSummaries(limit: number): Promise<{ iModelId: string; lastIndex: number }[]>;
  /**
   * Copies the summaries (and element rows) of `source`'s changesets `1..upToIndex` whose changeset id is the same in
   * `target` (a clone or fork with history) and that `target` lacks. Returns how many summaries were copied.
   */
  copySummaries(sourceIModelId: string, targetIModelId: string, upToIndex: number): Promise<number>;
  close(): Promise<void>;
}

export type ChangeOp = "inserted" | "updated" | "deleted";

export interface ChangesetSummary {
  iModelId: string;
  changesetIndex: number;
  changesetId: string;
  inserted: number;
  updated: number;
  deleted: number;
  /** The changeset changed schemas (imported, upgraded or removed one). */
  schemaChanged: boolean;
  /** Schemas the changeset inserted, updated or deleted (ec_Schema rows), by name. */
  schemas: { name: string; op: ChangeOp }[];
  /** Counts per model and class: one entry per (modelId, classFullName). */
  counts: ChangeCount[];
  createdAt: string;
  /**
   * Null: summarized. Otherwise why the changeset could not be read or applied by iTwin.js (the worker's verdict on
   * the file, not a crash): the summary is stored failed, with no elements and zero counts, so neither the job nor
   * the backfill tries it again.
   */
  failure: string | null;
}

export interface ChangeCount {
  modelId: string;
  classFullName: string;
  inserted: number;
  updated: number;
  deleted: number;
}

export interface ChangedElementRow {
  changesetIndex: number;
  /** Element id, hexadecimal as iTwin.js writes it (`0x20000000001`). */
  id: string;
  op: ChangeOp;
  /** `Schema:Class`. */
  classFullName: string;
  /** Its class's id in the iModel (`0x…`, ec_Class.Id), as the Changed Elements API reports it (`classIds`). */
  classId?: string;
  /** Model after the change (before it, for a deletion). */
  modelId: string;
  /** The model it was in before, when an update moved it to another model. */
  previousModelId: string | null;
  parentId: string | null;
  /** The parent's class id (`0x…`), when the element has a parent and the summary recorded it. */
  parentClassId?: string;
  /** UserLabel, else CodeValue, else null. */
  label: string | null;
  /** Updates: the names of the properties that changed. */
  properties: string[] | null;
  /**
   * Updates: a checksum (CRC-32 of the value's JSON) of each property in `properties` before and after the change,
   * in the same order (the Changed Elements API's `oldChecksums`/`newChecksums`). Absent in summaries made before
   * the hub recorded them.
   */
  checksums?: { old: number[]; new: number[] };
}

export interface ElementFilter {
  op?: ChangeOp;
  modelId?: string;
  classFullName?: string;
}

/**
 * The iTwin.js side of summaries (the hub's worker process): reads changesets element by element against a briefcase
 * it keeps at the changeset it reads.
 */
export interface ChangeSummaryWorker {
  /** The changeset a file is at ("" for version 0). */
  inspect(args: { path: string }): Promise<{ changesetId: string }>;
  summarizeChangesets(args: SummarizeArgs): Promise<{ summaries: RawChangesetSummary[]; changesetId: string }>;
}

export interface SummaryChangeset {
  id: string;
  index: number;
  parentId: string;
  pathname: string;
  changesType: number;
}

export interface SummarizeArgs {
  /** The briefcase kept for summaries (made from `basePath` when given, else reused as it is). */
  briefcasePath: string;
  /** A checkpoint to start the briefcase from (the cached one is missing, or ahead of what is asked). */
  basePath?: string;
  /** The changeset the briefcase is already at, when it too must be summarized (read without applying). */
  current?: SummaryChangeset;
  /**
   * In order: each is applied; one with `summarize` is read too — before it is applied (against its parent, which
   * holds every element it updates or deletes), or after for a schema changeset (its new classes must be known).
   */
  changesets: (SummaryChangeset & { summarize: boolean })[];
  /** Whether to apply the last changeset (false: the summaries come back sooner; a later call applies it). */
  applyLast?: boolean;
  /** Changeset files larger than this are unified in a SQLite-backed cache instead of memory (default 16 MiB). */
  spillAboveBytes?: number;
}

export interface RawChangesetSummary {
  index: number;
  id: string;
  schemaChanged: boolean;
  schemas: { name: string; op: ChangeOp }[];
  elements: Omit<ChangedElementRow, "changesetIndex">[];
}
