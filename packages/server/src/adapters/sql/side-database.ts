import type { SqlDialect, SqlSession } from "./sql-session.js";

/**
 * What a store beside the metadata store (job queue, audit log, identities, access) needs of the database it shares
 * with it: statements one at a time, short write transactions, and the dialect to spell them in. The stores are
 * written once over it (sql-*-store.ts); SQLite's adapter is a connection of its own on the file
 * (sqlite/sqlite-side-database.ts), PostgreSQL's the hub's pool (postgres/pg-side-database.ts).
 */
export interface SideDatabase {
  readonly dialect: SqlDialect;
  /**
   * Statements outside any transaction, each atomic on its own (a read sees everything committed before it). Never
   * use it inside a `transaction` step: on SQLite it waits for that very transaction to end.
   */
  readonly session: SqlSession;
  /**
   * Runs `step` in one write transaction: everything it wrote commits, or nothing if it throws. Steps with a common
   * key in `serialize` run one at a time across every hub node (PostgreSQL: transaction-scoped advisory locks taken
   * first; SQLite: every write transaction is serialized already). `step` runs once and must have no other effects.
   */
  transaction<T>(step: (tx: SqlSession) => Promise<T>, serialize?: SideSerialization): Promise<T>;
  /**
   * Whether a failed statement was refused for what it held (too big, a NUL in text, a constraint), not for the
   * database's state (busy, full, gone): the same values would be refused again.
   */
  refusedForData(err: unknown): boolean;
  /** Throws once closed, naming the store ("The job queue is closed."). */
  assertOpen(): void;
  close(): void;
}

export interface SideSerialization {
  /** Keys of this store's own read-then-write steps (e.g. one iTwin's roles and members). */
  keys?: readonly string[];
  /**
   * Also serialize with the metadata store's transactions scoped to this iTwin (iModel creation in it), so a step
   * that counts the iTwin's iModels cannot miss one being created.
   */
  metadataITwinId?: string;
}
