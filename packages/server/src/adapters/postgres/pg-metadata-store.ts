import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import pg from "pg";
import type { MetadataReader, MetadataStore, MetadataTx, TxScope } from "../../ports/metadata-store.js";
import { PgSession } from "./pg-session.js";
import { AfterCommitEffects } from "../sql/after-commit.js";
import { POSTGRES_DIALECT } from "../sql/sql-session.js";
import { SqlMetadataTx } from "../sql/sql-metadata-tx.js";

/**
 * The metadata store on PostgreSQL, shared by every hub node (on a pool from `openPgPool`, which makes BIGINT
 * columns and counts come back as numbers). The queries are the SQLite adapter's
 * ({@link SqlMetadataTx}); what differs is how transactions are made safe against other nodes:
 *
 * - `transaction(scope, fn)` runs at READ COMMITTED and, before `fn`, takes a transaction-scoped advisory lock on
 *   each key of the scope (iTwin first, then iModel, so two scopes never wait on each other in a cycle). Every
 *   statement after the lock sees what the previous holder committed, so read-then-write rules ("the parent is the
 *   tip", the briefcase id counter, lock grants) hold across nodes. `fn` runs once: nothing is retried.
 * - `read(fn)` runs in a REPEATABLE READ, READ ONLY transaction: one consistent snapshot for all of `fn`'s reads.
 */
export class PgMetadataStore implements MetadataStore {
  #closed = false;

  /** `ownsPool`: `close()` ends the pool too (when the store opened it). */
  constructor(
    private readonly pool: Pool,
    private readonly ownsPool = false,
  ) {}

  transaction<T>(scope: TxScope, fn: (tx: MetadataTx) => Promise<T>): Promise<T>;
  transaction<T>(fn: (tx: MetadataTx) => Promise<T>): Promise<T>;
  transaction<T>(
    scopeOrFn: TxScope | ((tx: MetadataTx) => Promise<T>),
    maybeFn?: (tx: MetadataTx) => Promise<T>,
  ): Promise<T> {
    const scope = typeof scopeOrFn === "function" ? {} : scopeOrFn;
    const fn = typeof scopeOrFn === "function" ? scopeOrFn : maybeFn!;
    const effects = new AfterCommitEffects();
    return this.#inTransaction(
      ["BEGIN", ...(scope.provisional ? ["SET LOCAL synchronous_commit TO OFF"] : []), ...scopeLockStatements(scope)],
      (session) => fn(new SqlMetadataTx(session, POSTGRES_DIALECT, randomUUID, effects)),
      effects,
    );
  }

  read<T>(fn: (tx: MetadataReader) => Promise<T>): Promise<T> {
    return this.#inTransaction(["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"], (session) =>
      fn(new SqlMetadataTx(session, POSTGRES_DIALECT, randomUUID)),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.ownsPool) await this.pool.end();
  }

  /**
   * `begin`: the BEGIN and the scope's locks, sent with `body`'s first statement (PgSession.deferUntilFirst); a body
   * that sends nothing opens no transaction. `effects` (a write transaction's): run once COMMIT succeeded (after the
   * connection went back to the pool), dropped otherwise. A read-only transaction's COMMIT is not waited for: it
   * cannot fail in a way that changes what was read, so the reads' result is answered at once and the connection
   * goes back to the pool when its COMMIT is done.
   */
  async #inTransaction<T>(
    begin: readonly string[],
    body: (session: PgSession) => Promise<T>,
    effects?: AfterCommitEffects,
  ): Promise<T> {
    if (this.#closed) throw new Error("The metadata store is closed.");
    const client = await this.pool.connect();
    const session = new PgSession(client);
    session.deferUntilFirst(begin);
    let result: T;
    try {
      result = await body(session);
      session.active = false;
      if (session.sent && !effects) {
        client.query("COMMIT").then(
          () => client.release(),
          (err: Error) => client.release(err),
        );
        return result;
      }
      if (session.sent) await client.query("COMMIT");
    } catch (err) {
      session.active = false;
      effects?.drop();
      // A connection that cannot even roll back is dropped from the pool instead of being reused.
      let broken: Error | undefined;
      if (session.sent) await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      client.release(broken);
      throw err;
    }
    client.release();
    effects?.runAll();
    return result;
  }
}

/**
 * The statements that take the transaction-scoped advisory locks of a scope, as every metadata transaction does
 * before its `fn` (sent with its first statement): also for a side store's step that must not interleave with them
 * (deleting an iTwin while an iModel is created in it). Keys are literals, so they can travel in one message.
 */
export function scopeLockStatements(scope: TxScope): string[] {
  return scopeKeys(scope).map(
    (key) => `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ${pg.escapeLiteral(key)}, 0))`,
  );
}

/** The advisory-lock keys of a scope, in the one order every transaction takes them. */
function scopeKeys(scope: TxScope): string[] {
  const keys: string[] = [];
  if (scope.iTwinId !== undefined) keys.push(`modelhub:itwin:${scope.iTwinId}`);
  if (scope.iModelId !== undefined) keys.push(`modelhub:imodel:${scope.iModelId}`);
  return keys;
}
