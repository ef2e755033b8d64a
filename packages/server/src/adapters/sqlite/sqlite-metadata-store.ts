import { randomUUID } from "node:crypto";
import type { Statement } from "better-sqlite3";
import type { MetadataReader, MetadataStore, MetadataTx, TxScope } from "../../ports/metadata-store.js";
import { UniqueViolation } from "../../ports/metadata-store.js";
import { yieldIfBusy } from "../../util/event-loop.js";
import type { SqlSession } from "../sql/sql-session.js";
import { AfterCommitEffects } from "../sql/after-commit.js";
import { SQLITE_DIALECT } from "../sql/sql-session.js";
import { SqlMetadataTx } from "../sql/sql-metadata-tx.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { AsyncMutex, isSqliteUniqueViolation, openSqliteDatabase, withBusyRetry } from "./sqlite-database.js";

/**
 * The embedded metadata store (one SQLite file, WAL).
 *
 * Why two connections: SQLite has one writer at a time, so every `transaction(fn)` runs on the single write
 * connection, one after the other (an async mutex), inside `BEGIN IMMEDIATE … COMMIT` — `fn` may await, since
 * nothing else uses that connection meanwhile. `read(fn)` runs on a separate read-only connection inside a
 * deferred transaction: WAL gives it the last committed snapshot, so reads never wait for a push or a large lock
 * batch, and never see a transaction that has not committed.
 *
 * Every transaction is serialized, so a transaction's scope (see the port) needs nothing more here.
 * Do not call `transaction` from inside a transaction's `fn`: it would wait for itself.
 */
export class SqliteMetadataStore implements MetadataStore {
  readonly #writer: SqliteDatabase;
  readonly #reader: SqliteDatabase;
  readonly #writeMutex = new AsyncMutex();
  readonly #readMutex = new AsyncMutex();
  readonly #writeSession: SqliteSession;
  readonly #readSession: SqliteSession;
  readonly #readTx: SqlMetadataTx;
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
    this.#writeSession = new SqliteSession(this.#writer);
    this.#readSession = new SqliteSession(this.#reader);
    this.#readTx = new SqlMetadataTx(this.#readSession, SQLITE_DIALECT, randomUUID);
  }

  /** Opens (creating and migrating if needed) the database file at `path`. */
  static open(path: string): SqliteMetadataStore {
    return new SqliteMetadataStore(path);
  }

  transaction<T>(scope: TxScope, fn: (tx: MetadataTx) => Promise<T>): Promise<T>;
  transaction<T>(fn: (tx: MetadataTx) => Promise<T>): Promise<T>;
  transaction<T>(
    scopeOrFn: TxScope | ((tx: MetadataTx) => Promise<T>),
    maybeFn?: (tx: MetadataTx) => Promise<T>,
  ): Promise<T> {
    const fn = typeof scopeOrFn === "function" ? scopeOrFn : maybeFn!;
    return this.#writeMutex.run(async () => {
      this.#assertOpen();
      await withBusyRetry(() => this.#writer.exec("BEGIN IMMEDIATE"));
      this.#writeSession.active = true;
      const effects = new AfterCommitEffects();
      let result: T;
      try {
        result = await fn(new SqlMetadataTx(this.#writeSession, SQLITE_DIALECT, randomUUID, effects));
        this.#writeSession.active = false;
        this.#writer.exec("COMMIT");
      } catch (err) {
        this.#writeSession.active = false;
        effects.drop();
        if (this.#writer.inTransaction) this.#writer.exec("ROLLBACK");
        throw err;
      }
      // Still holding the write mutex: effects (events above all) come out in commit order.
      effects.runAll();
      return result;
    });
  }

  read<T>(fn: (tx: MetadataReader) => Promise<T>): Promise<T> {
    return this.#readMutex.run(async () => {
      this.#assertOpen();
      this.#reader.exec("BEGIN");
      this.#readSession.active = true;
      try {
        return await fn(this.#readTx);
      } finally {
        this.#readSession.active = false;
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

/** better-sqlite3 behind the async session the shared queries use: each SQL text is prepared once per connection. */
class SqliteSession implements SqlSession {
  readonly #cache = new Map<string, Statement>();
  /** Set by the store while a transaction/read is open: a tx kept past its callback must not write outside it. */
  active = false;

  constructor(private readonly db: SqliteDatabase) {}

  #stmt(sql: string, pluck = false): Statement {
    if (!this.active) throw new Error("This metadata transaction has ended; use the tx only inside its callback.");
    const key = pluck ? `pluck\u0000${sql}` : sql;
    let s = this.#cache.get(key);
    if (!s) {
      s = pluck ? this.db.prepare(sql).pluck() : this.db.prepare(sql);
      this.#cache.set(key, s);
    }
    return s;
  }

  // Each statement runs on this thread: between statements, other callbacks get their turn once the current
  // stretch of work is long (see util/event-loop.ts), also inside a transaction (this connection is its own meanwhile).

  async get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    await yieldIfBusy();
    return this.#stmt(sql).get(...params) as T | undefined;
  }

  async all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    await yieldIfBusy();
    return this.#stmt(sql).all(...params) as T[];
  }

  async column<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    await yieldIfBusy();
    // Its own cache entry: pluck mode sticks to a statement, and `all` of the same SQL must keep returning rows.
    return this.#stmt(sql, true).all(...params) as T[];
  }

  async run(sql: string, ...params: unknown[]): Promise<number> {
    await yieldIfBusy();
    const statement = this.#stmt(sql);
    try {
      return statement.run(...params).changes;
    } catch (err) {
      if (isSqliteUniqueViolation(err)) throw new UniqueViolation((err as Error).message);
      throw err;
    }
  }
}
