import type pg from "pg";
import type { PgClient, PgPool } from "./pg-database.js";

/** What a statement run inside {@link PgSide.transaction} or through {@link PgSide.query} needs. */
export interface PgQueryable {
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * The shared part of the PostgreSQL side adapters (job queue, identity store, audit log, access store): a pool the
 * adapter does not own (the composition root opens one for every adapter and ends it last), a closed flag so a closed
 * adapter refuses work like the SQLite ones do, and short transactions with optional per-key serialization.
 */
export class PgSide {
  #closed = false;

  /** `what` names the adapter in the error a closed one throws ("the job queue is closed"). */
  constructor(
    readonly pool: PgPool,
    private readonly what: string,
  ) {}

  /** One statement on any pooled connection (autocommit). */
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.assertOpen();
    return this.pool.query<R>(sql, params);
  }

  /**
   * Runs `step` in one READ COMMITTED transaction. `serializeOn` names keys (e.g. "access:<iTwinId>") whose
   * transaction-scoped advisory locks are taken first, in sorted order: read-then-write steps on the same key then
   * run one at a time across every node, as they do on SQLite's single writer.
   */
  async transaction<T>(step: (client: PgQueryable) => Promise<T>, serializeOn: readonly string[] = []): Promise<T> {
    this.assertOpen();
    const client: PgClient = await this.pool.connect();
    // A connection whose ROLLBACK failed is in an unknown state: destroyed instead of pooled.
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      try {
        for (const key of [...new Set(serializeOn)].sort()) await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key]);
        const result = await step(client);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
        throw err;
      }
    } finally {
      client.release(broken);
    }
  }

  assertOpen(): void {
    if (this.#closed) throw new Error(`The ${this.what} is closed.`);
  }

  /** Refuses further work; the pool stays open for the other adapters that share it. */
  close(): void {
    this.#closed = true;
  }
}

/** PostgreSQL's unique_violation, for adapters that turn a duplicate key into a result. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "23505";
}
