/**
 * The audit log: one entry per write (API requests other than GET/HEAD, storage uploads, access-control changes),
 * kept in the metadata store and read by managers. Entries are never changed, only pruned by age.
 *
 * Contract (test/contract/audit-log.contract.ts):
 * - `append` MUST store the entries of one call all or none, each with a `seq` greater than every earlier one.
 * - `query` MUST return entries matching every given filter, ordered by `seq` (ascending unless `newestFirst`),
 *   starting strictly after `afterSeq` (or before `beforeSeq` when newest first), at most `limit` of them.
 * - `prune` MUST remove entries older than the cutoff and nothing newer.
 */
export interface AuditLog {
  append(entries: readonly AuditEntry[]): Promise<void>;
  query(query: AuditQuery): Promise<AuditRecord[]>;
  /** Removes entries whose `at` is before `olderThan`; returns how many. */
  prune(olderThan: Date): Promise<number>;
  close(): Promise<void>;
}

/** How a recorded request ended: 2xx/3xx `success`, 4xx `refused` (by a rule or bad input), 5xx `failed`. */
export type AuditOutcome = "success" | "refused" | "failed";

export interface AuditEntry {
  /** ISO time the request was answered. */
  at: string;
  /** The verified user; null when the request carried no valid identity (it was refused with 401). */
  userId: string | null;
  /** A stable name for the operation, e.g. `changeset.create`, `briefcase.release`, `storage.upload`. */
  action: string;
  method: string;
  /** The request path without its query string (storage links' signatures are never kept). */
  path: string;
  iTwinId: string | null;
  iModelId: string | null;
  /** What the operation acted on within the iModel: a changeset, briefcase, named version, blob key… */
  target: string | null;
  /** The client's address as the hub saw it. */
  address: string | null;
  status: number;
  outcome: AuditOutcome;
  requestId: string | null;
  /** Small operation-specific facts (e.g. an upload's size, the error code of a refusal). */
  details: Readonly<Record<string, unknown>> | null;
}

export interface AuditRecord extends AuditEntry {
  /** Position in the log: increases with every entry; the paging key. */
  seq: number;
}

export interface AuditQuery {
  iTwinId?: string;
  iModelId?: string;
  userId?: string;
  action?: string;
  /** Entries at or after this time. */
  since?: Date;
  /** Entries before this time. */
  until?: Date;
  /** Keyset paging: entries with a larger `seq` (oldest first). */
  afterSeq?: number;
  /** Keyset paging: entries with a smaller `seq` (newest first). */
  beforeSeq?: number;
  newestFirst?: boolean;
  limit: number;
}
