import type { AuditEntry, AuditLog, AuditQuery, AuditRecord } from "../../ports/audit-log.js";
import { AuditEntriesRefused } from "../../ports/audit-log.js";
import type { AuditRow } from "./audit-rows.js";
import { auditSelectOf, PRUNE_CHUNK } from "./audit-rows.js";
import { toAuditRecord } from "./audit-rows.js";
import type { SideDatabase } from "./side-database.js";
import type { SqlSession } from "./sql-session.js";

const COLUMNS = [
  "at",
  "user_id",
  "action",
  "method",
  "path",
  "itwin_id",
  "imodel_id",
  "target",
  "address",
  "status",
  "outcome",
  "request_id",
  "details",
];
/**
 * Rows per INSERT statement, largest first: a batch is written with few statements, and only these texts exist
 * (each prepared once). The small sizes make the batch of one push (its create, upload and completion: three
 * entries, written together after the answers) one statement — on PostgreSQL each statement is a round trip.
 * 100 rows × 13 parameters stays far below both databases' limits per statement.
 */
const INSERT_SIZES = [100, 10, 5, 4, 3, 2, 1];
/** The serialization key appends hold until they commit (see {@link SqlAuditLog}). */
const APPEND_LOCK = "modelhub audit_log append";

/**
 * The audit log in table `audit_log` of the metadata database, for SQLite and PostgreSQL alike.
 *
 * Why appends are serialized: on PostgreSQL `seq` comes from an identity sequence, and two transactions that draw
 * numbers and commit in the other order would let a reader paging with `afterSeq` pass the lower number before it
 * became visible and never see that entry. Appends therefore hold a serialization key (an advisory lock; SQLite's
 * single writer does the same by itself), so seq order is commit order.
 */
export class SqlAuditLog implements AuditLog {
  constructor(private readonly db: SideDatabase) {}

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.db.transaction((tx) => insert(tx, entries), { keys: [APPEND_LOCK] });
    } catch (err) {
      // What an entry holds (a value over a size limit, a NUL in text, a constraint), not the database's state (busy,
      // full): the same entries would be refused again.
      if (this.db.refusedForData(err))
        throw new AuditEntriesRefused(`The database refused an audit entry: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }

  async query(query: AuditQuery): Promise<AuditRecord[]> {
    const { sql, params } = auditSelectOf(query, () => "?");
    return (await this.db.session.all<AuditRow>(sql, ...params.map((p) => p.value))).map(toAuditRecord);
  }

  async prune(olderThan: Date): Promise<number> {
    const cutoff = olderThan.toISOString();
    let removed = 0;
    for (;;) {
      // Entries are appended in time order, so the old ones are the first rows by seq: each chunk reads only the
      // front of the table (no index on `at` needed), and the loop stops at the first chunk that is not all old. One
      // chunk per statement: the hub's own writes get the lock in between.
      const changes = await this.db.session.run(
        `DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log ORDER BY seq LIMIT ${PRUNE_CHUNK}) AND at < ?`,
        cutoff,
      );
      removed += changes;
      if (changes < PRUNE_CHUNK) return removed;
      // Let requests in between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

async function insert(tx: SqlSession, entries: readonly AuditEntry[]): Promise<void> {
  let start = 0;
  for (const size of INSERT_SIZES) {
    for (; entries.length - start >= size; start += size) {
      const params: unknown[] = [];
      for (const e of entries.slice(start, start + size)) {
        params.push(
          e.at,
          e.userId,
          e.action,
          e.method,
          e.path,
          e.iTwinId,
          e.iModelId,
          e.target,
          e.address,
          e.status,
          e.outcome,
          e.requestId,
        );
        params.push(e.details === null ? null : JSON.stringify(e.details));
      }
      await tx.run(insertSql(size), ...params);
    }
  }
}

const insertTexts = new Map<number, string>();
function insertSql(rows: number): string {
  let sql = insertTexts.get(rows);
  if (sql === undefined) {
    const row = `(${COLUMNS.map(() => "?").join(", ")})`;
    sql = `INSERT INTO audit_log (${COLUMNS.join(", ")}) VALUES ${Array.from({ length: rows }, () => row).join(", ")}`;
    insertTexts.set(rows, sql);
  }
  return sql;
}
