import { UniqueViolation } from "../../ports/metadata-store.js";
import type { SideDatabase } from "../sql/side-database.js";
import type { SqlSession } from "../sql/sql-session.js";
import { SQLITE_DIALECT } from "../sql/sql-session.js";
import { AsyncMutex, isSqliteUniqueViolation, SideConnection, withBusyRetry } from "./sqlite-database.js";

/**
 * A side store's database on SQLite: a connection of its own on the metadata file ({@link SideConnection}: busy
 * timeout 0, so a write that finds the file locked waits with async retries and never stalls the metadata store's
 * transaction open across awaits).
 *
 * Transactions are `BEGIN IMMEDIATE … COMMIT`, one at a time on this connection. Their steps run statements only
 * (no I/O), so a transaction stays open for a few microtasks; a statement outside it that arrives meanwhile waits
 * for its end, since on the same connection it would otherwise join the transaction.
 */
export class SqliteSideDatabase implements SideDatabase {
  readonly dialect = SQLITE_DIALECT;
  readonly session: SqlSession;
  readonly #connection: SideConnection;
  readonly #tx: SqlSession;
  readonly #transactions = new AsyncMutex();
  /** Settles when the transaction between BEGIN and its end settles; undefined when none is open. */
  #open: Promise<void> | undefined;

  /** `what` names the store in the error a closed one throws ("the job queue is closed"). */
  constructor(path: string, what: string) {
    this.#connection = new SideConnection(path, what);
    this.session = new SqliteSideSession(this.#connection, async () => {
      while (this.#open) await this.#open;
    });
    this.#tx = new SqliteSideSession(this.#connection, undefined);
  }

  transaction<T>(step: (tx: SqlSession) => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.#transactions.run(async () => {
      const db = this.#connection.db;
      await withBusyRetry(() => {
        this.assertOpen();
        db.exec("BEGIN IMMEDIATE");
      });
      let ended!: () => void;
      this.#open = new Promise((resolve) => (ended = resolve));
      try {
        const result = await step(this.#tx);
        db.exec("COMMIT");
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec("ROLLBACK");
        throw err;
      } finally {
        this.#open = undefined;
        ended();
      }
    });
  }

  refusedForData(err: unknown): boolean {
    if (err instanceof UniqueViolation) return true;
    const code = String((err as { code?: unknown } | null)?.code);
    return code === "SQLITE_TOOBIG" || code === "SQLITE_MISMATCH" || code.startsWith("SQLITE_CONSTRAINT");
  }

  assertOpen(): void {
    this.#connection.assertOpen();
  }

  close(): void {
    this.#connection.close();
  }
}

/**
 * Statements on the side connection, each prepared once. Outside a transaction (`waitForTransaction` given) each
 * first waits for an open one to end, then retries without blocking while another connection holds the lock.
 */
class SqliteSideSession implements SqlSession {
  constructor(
    private readonly connection: SideConnection,
    private readonly waitForTransaction: (() => Promise<void>) | undefined,
  ) {}

  get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return this.#exec(() => this.connection.statement(sql).get(...params) as T | undefined);
  }

  all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return this.#exec(() => this.connection.statement(sql).all(...params) as T[]);
  }

  column<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return this.#exec(() => this.connection.statement(sql, true).all(...params) as T[]);
  }

  run(sql: string, ...params: unknown[]): Promise<number> {
    return this.#exec(() => this.connection.statement(sql).run(...params).changes);
  }

  async #exec<T>(statement: () => T): Promise<T> {
    this.connection.assertOpen();
    const guarded = () => {
      try {
        return statement();
      } catch (err) {
        if (isSqliteUniqueViolation(err)) throw new UniqueViolation((err as Error).message);
        throw err;
      }
    };
    if (!this.waitForTransaction) return guarded();
    await this.waitForTransaction();
    return withBusyRetry(() => {
      this.connection.assertOpen();
      return guarded();
    });
  }
}
