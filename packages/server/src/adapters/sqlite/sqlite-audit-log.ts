import type { Statement } from "better-sqlite3";
import type { AuditEntry, AuditLog, AuditQuery, AuditRecord } from "../../ports/audit-log.js";
import { AuditEntriesRefused } from "../../ports/audit-log.js";
import type { AuditRow } from "../sql/audit-rows.js";
import { auditSelectOf, PRUNE_CHUNK, toAuditRecord } from "../sql/audit-rows.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { SideConnection } from "./sqlite-database.js";

/**
 * The audit log in table `audit_log` of the metadata database (migration 3), on a connection of its own that waits
 * for the write lock asynchronously (a {@link SideConnection}), like SqliteJobQueue: a batch of
 * entries must never block the event loop while the metadata store's transaction is open across awaits.
 */
export class SqliteAuditLog implements AuditLog {
  readonly #connection: SideConnection;
  readonly #db: SqliteDatabase;
  readonly #insert: Statement;
  readonly #prune: Statement;

  private constructor(path: string) {
    this.#connection = new SideConnection(path, "audit log");
    this.#db = this.#connection.db;
    this.#insert = this.#db.prepare(
      `INSERT INTO audit_log (at, user_id, action, method, path, itwin_id, imodel_id, target, address, status, outcome, request_id, details)
        VALUES (@at, @userId, @action, @method, @path, @iTwinId, @iModelId, @target, @address, @status, @outcome, @requestId, @details)`,
    );
    // Entries are appended in time order, so the old ones are the first rows by seq: each chunk reads only the
    // front of the table (no index on `at` needed), and the loop stops at the first chunk that is not all old.
    this.#prune = this.#db.prepare(
      `DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log ORDER BY seq LIMIT ${PRUNE_CHUNK}) AND at < ?`,
    );
  }

  /** Opens the log on the database file at `path` (the metadata store's file). */
  static open(path: string): SqliteAuditLog {
    return new SqliteAuditLog(path);
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map((e) => ({ ...e, details: e.details === null ? null : JSON.stringify(e.details) }));
    try {
      await this.#connection.write(() => {
        for (const row of rows) this.#insert.run(row);
      });
    } catch (err) {
      // What an entry holds (a value over SQLite's size limit, a constraint), not the database's state (busy, full).
      const code = String((err as { code?: unknown }).code);
      if (code === "SQLITE_TOOBIG" || code === "SQLITE_MISMATCH" || code.startsWith("SQLITE_CONSTRAINT")) {
        throw new AuditEntriesRefused(`SQLite refused an audit entry: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }

  async query(query: AuditQuery): Promise<AuditRecord[]> {
    this.#assertOpen();
    const { sql, params } = auditSelectOf(query, (name) => `@${name}`);
    return (this.#db.prepare(sql).all(Object.fromEntries(params.map((p) => [p.name, p.value]))) as AuditRow[]).map(toAuditRecord);
  }

  async prune(olderThan: Date): Promise<number> {
    const cutoff = olderThan.toISOString();
    let removed = 0;
    for (;;) {
      // One chunk per transaction: the hub's own writes get the lock in between.
      const changes = await this.#connection.write(() => this.#prune.run(cutoff).changes);
      removed += changes;
      if (changes < PRUNE_CHUNK) return removed;
      // Let requests in between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async close(): Promise<void> {
    this.#connection.close();
  }

  #assertOpen(): void {
    this.#connection.assertOpen();
  }
}
