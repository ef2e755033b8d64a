import type { Statement } from "better-sqlite3";
import type { ChangedElementRow } from "../../ports/change-summary-store.js";
import { yieldIfBusy } from "../../util/event-loop.js";
import type { SummaryDb } from "../sql/sql-change-summary-store.js";
import { ELEMENT_COLUMNS, SqlChangeSummaryStore, elementParams } from "../sql/sql-change-summary-store.js";
import { AsyncMutex, SideConnection, withBusyRetry } from "./sqlite-database.js";

/**
 * Change summaries in the embedded metadata file, on a connection of their own (like the job queue): a summary of
 * 10,000 elements is written in one `BEGIN IMMEDIATE` transaction that waits for the write lock without blocking the
 * event loop. A mutex keeps this connection's transaction and its reads from interleaving.
 */
class SqliteSummaryDb implements SummaryDb {
  readonly #connection: SideConnection;
  readonly #mutex = new AsyncMutex();
  #inTransaction = false;

  constructor(path: string) {
    this.#connection = new SideConnection(path, "change summary store");
  }

  #statement(sql: string): Statement {
    return this.#connection.statement(sql);
  }

  all<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.#guard(async () => this.#statement(sql).all(...params) as T[]);
  }

  run(sql: string, params: unknown[]): Promise<number> {
    return this.#guard(async () => this.#statement(sql).run(...params).changes);
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    this.#connection.assertOpen();
    // Inside this connection's transaction the caller already holds the mutex.
    if (this.#inTransaction) return fn();
    return this.#mutex.run(fn);
  }

  transaction<T>(fn: (db: SummaryDb) => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      this.#connection.assertOpen();
      const db = this.#connection.db;
      await withBusyRetry(() => db.exec("BEGIN IMMEDIATE"));
      this.#inTransaction = true;
      try {
        const result = await fn(this);
        db.exec("COMMIT");
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec("ROLLBACK");
        throw err;
      } finally {
        this.#inTransaction = false;
      }
    });
  }

  async insertElements(_db: SummaryDb, iModelId: string, rows: readonly ChangedElementRow[]): Promise<void> {
    const insert = this.#statement(`INSERT INTO changed_elements (${ELEMENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)`);
    for (const row of rows) {
      insert.run(...elementParams(iModelId, row));
      // Other requests get their turn during a large summary (it holds the write lock meanwhile, as briefly as it can).
      await yieldIfBusy();
    }
  }

  async close(): Promise<void> {
    await this.#mutex.run(async () => undefined);
    this.#connection.close();
  }
}

/** Opens the change-summary store on the metadata file at `path` (migrated by whoever opened it first). */
export function openSqliteChangeSummaryStore(path: string): SqlChangeSummaryStore {
  return new SqlChangeSummaryStore(new SqliteSummaryDb(path));
}
