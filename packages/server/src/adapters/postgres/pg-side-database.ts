import pg from "pg";
import { UniqueViolation } from "../../ports/metadata-store.js";
import type { SideDatabase, SideSerialization } from "../sql/side-database.js";
import type { SqlSession } from "../sql/sql-session.js";
import { POSTGRES_DIALECT } from "../sql/sql-session.js";
import type { PgClient, PgPool } from "./pg-database.js";
import { scopeLockStatements } from "./pg-metadata-store.js";
import { PgSession } from "./pg-session.js";

/**
 * A side store's database on PostgreSQL: the hub's pool, which the store does not own (the composition root opens
 * one for every store and ends it last). Statements outside a transaction run on any pooled connection (autocommit);
 * transactions run at READ COMMITTED and take their serialization keys' advisory locks first, sorted, so read-then-
 * write steps on the same key run one at a time across every node, as they do on SQLite's single writer.
 */
export class PgSideDatabase implements SideDatabase {
  readonly dialect = POSTGRES_DIALECT;
  readonly session: SqlSession;
  #closed = false;

  /** `what` names the store in the error a closed one throws ("the job queue is closed"). */
  constructor(
    readonly pool: PgPool,
    private readonly what: string,
  ) {
    const pooled = new PgSession(pool);
    const check = () => this.assertOpen();
    this.session = {
      get: async (sql, ...params) => (check(), pooled.get(sql, ...params)),
      all: async (sql, ...params) => (check(), pooled.all(sql, ...params)),
      column: async (sql, ...params) => (check(), pooled.column(sql, ...params)),
      run: async (sql, ...params) => (check(), pooled.run(sql, ...params)),
    };
  }

  async transaction<T>(step: (tx: SqlSession) => Promise<T>, serialize: SideSerialization = {}): Promise<T> {
    this.assertOpen();
    const client: PgClient = await this.pool.connect();
    const session = new PgSession(client);
    // BEGIN and the locks go with the step's first statement (PgSession.deferUntilFirst).
    session.deferUntilFirst([
      "BEGIN",
      ...[...new Set(serialize.keys ?? [])]
        .sort()
        .map((key) => `SELECT pg_advisory_xact_lock(hashtextextended(${pg.escapeLiteral(key)}, 0))`),
      ...(serialize.metadataITwinId !== undefined ? scopeLockStatements({ iTwinId: serialize.metadataITwinId }) : []),
    ]);
    // A connection whose ROLLBACK failed is in an unknown state: destroyed instead of pooled.
    let broken: Error | undefined;
    try {
      const result = await step(session);
      session.active = false;
      if (session.sent) await client.query("COMMIT");
      return result;
    } catch (err) {
      session.active = false;
      if (session.sent) await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Data exceptions (22…: a NUL in text), integrity (23…) and program limits (54…: an index row too big). */
  refusedForData(err: unknown): boolean {
    if (err instanceof UniqueViolation) return true;
    return /^(22|23|54)/.test(String((err as { code?: unknown } | null)?.code));
  }

  assertOpen(): void {
    if (this.#closed) throw new Error(`The ${this.what} is closed.`);
  }

  /** Refuses further work; the pool stays open for the other stores that share it. */
  close(): void {
    this.#closed = true;
  }
}
