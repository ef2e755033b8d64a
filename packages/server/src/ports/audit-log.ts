import type { AuditLogEntry } from "@modelhub/protocol";

/**
 * The audit log: one entry per write (API requests other than GET/HEAD, storage uploads, access-control changes),
 * kept in the metadata store and read by managers. Entries are never changed, only pruned by age.
 *
 * Contract (test/contract/audit-log.contract.ts):
 * - `append` MUST store the entries of one call all or none, each with a `seq` greater than every earlier one.
 * - `query` MUST return entries matching every given filter, ordered by `seq` (ascending unless `newestFirst`),
 *   starting strictly after `afterSeq` (or before `beforeSeq` when newest first), at most `limit` of them.
 * - `prune` MUST remove entries older than the cutoff and nothing newer.
 * - `append` MUST throw {@link AuditEntriesRefused} (and store none of the call's entries) when the store refuses what
 *   an entry holds — trying again cannot help — and any other error when it cannot write now (retrying may help).
 */
export interface AuditLog {
  append(entries: readonly AuditEntry[]): Promise<void>;
  query(query: AuditQuery): Promise<AuditRecord[]>;
  /** Removes entries whose `at` is before `olderThan`; returns how many. */
  prune(olderThan: Date): Promise<number>;
  close(): Promise<void>;
}

/** How a recorded request ended: 2xx/3xx `success`, 4xx `refused` (by a rule or bad input), 5xx `failed`. */
export type AuditOutcome = AuditLogEntry["outcome"];

/** One recorded request: the wire entry of `GET …/auditlog` (one type for both) before the log gives it a position. */
export type AuditEntry = Omit<AuditLogEntry, "seq">;

/** An entry with its position in the log (`seq`: increases with every entry; the paging key). */
export type AuditRecord = AuditLogEntry;

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

/**
 * The store refused the entries for what one of them holds (PostgreSQL: a data exception such as a NUL in text;
 * SQLite: a value too big), not for its own state: writing the same entries again fails the same way.
 */
export class AuditEntriesRefused extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AuditEntriesRefused";
  }
}
