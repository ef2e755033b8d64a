import type { Statement } from "better-sqlite3";
import Database from "better-sqlite3";
import { RECORD_MIGRATION } from "../sql/sql-session.js";
import type { Migration } from "./migrations.js";
import { MIGRATIONS } from "./migrations.js";

export type SqliteDatabase = Database.Database;

export interface OpenSqliteOptions {
  /** A read-only connection: no migration, no writes (the file must already exist). */
  readonly?: boolean;
  /**
   * How long SQLite itself waits (blocking the thread) for a lock held by another connection. Connections that
   * take the write lock from async code use 0 and wait with {@link withBusyRetry} instead, so the event loop
   * keeps running meanwhile. Defaults to 10 s. Migrations always run with the 10 s wait.
   */
  busyTimeoutMs?: number;
  /** The schema to bring the file to (tests only). */
  migrations?: readonly Migration[];
  /**
   * The connection's page cache (default 16 MiB, better-sqlite3's own default, for the metadata store's connections
   * that read and write the large tables: locks, changesets). It fills under load and is kept, so every connection's
   * is a bound on the hub's memory.
   */
  cacheKiB?: number;
}

const DEFAULT_CACHE_KIB = 16_000;
/** The page cache of a connection to the small tables beside the metadata (jobs, audit appends, identities, access). */
const SIDE_CACHE_KIB = 2_000;

const MIGRATION_BUSY_TIMEOUT_MS = 10_000;

/** The file was written by a newer modelhub: opening it would risk misreading or damaging it. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly path: string,
    readonly fileVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      `The metadata database ${path} is at schema version ${fileVersion}, but this modelhub only knows versions up to ${knownVersion}. ` +
        "It was written by a newer modelhub: run that version (or newer), or restore a backup made with this one.",
    );
    this.name = "SchemaTooNewError";
  }
}

/**
 * Opens a connection to the metadata database: WAL (readers never block the writer nor each other),
 * `synchronous = NORMAL` (durable at checkpoints, never corrupt), foreign keys on, and — for a writable
 * connection — the schema brought to the newest migration. A database written by a newer modelhub is refused.
 */
export function openSqliteDatabase(path: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  const readonly = options.readonly ?? false;
  const migrations = options.migrations ?? MIGRATIONS;
  const db = new Database(path, { readonly, fileMustExist: readonly });
  try {
    db.pragma(`busy_timeout = ${MIGRATION_BUSY_TIMEOUT_MS}`);
    if (!readonly) {
      db.pragma("journal_mode = WAL");
      migrate(db, path, migrations);
    } else {
      refuseNewerSchema(db, path, migrations);
    }
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma(`cache_size = -${options.cacheKiB ?? DEFAULT_CACHE_KIB}`);
    // Checkpoints run on a thread of their own (WalCheckpointer), never inside a COMMIT on the event loop; a process
    // without one (a command of a few seconds) checkpoints when its last connection closes.
    if (!readonly) db.pragma("wal_autocheckpoint = 0");
    // A WAL grown by a burst of writes is cut back to this when it starts over (after a complete checkpoint).
    if (!readonly) db.pragma("journal_size_limit = 67108864");
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? MIGRATION_BUSY_TIMEOUT_MS))}`);
    // Case-insensitive matching beyond ASCII (SQLite's own lower() only folds A-Z).
    db.function("mh_lower", { deterministic: true }, (value: unknown) =>
      typeof value === "string" ? value.toLowerCase() : value,
    );
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The schema version recorded in the file (0 for a new file). */
export function schemaVersion(db: SqliteDatabase): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return 0;
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Applies the migrations the file lacks, in order, each in its own `BEGIN IMMEDIATE` transaction that re-reads
 * the version first (two processes opening a new file at once apply each migration once).
 */
export function migrate(db: SqliteDatabase, path: string, migrations: readonly Migration[] = MIGRATIONS): void {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version <= migrations[i - 1]!.version)
      throw new Error(`Migrations are out of order at version ${migrations[i]!.version}.`);
  }
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
  );
  refuseNewerSchema(db, path, migrations);
  const record = db.prepare(RECORD_MIGRATION);
  for (const migration of migrations) {
    db.transaction(() => {
      if (schemaVersion(db) >= migration.version) return;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, new Date().toISOString());
    }).immediate();
  }
  refuseNewerSchema(db, path, migrations);
}

function refuseNewerSchema(db: SqliteDatabase, path: string, migrations: readonly Migration[]): void {
  const current = schemaVersion(db);
  const newest = migrations.at(-1)?.version ?? 0;
  if (current > newest) throw new SchemaTooNewError(path, current, newest);
}

/** Serializes async work: each task starts when the previous one settled. */
export class AsyncMutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_"));
}

/**
 * Runs `fn` (a synchronous SQLite step that needs the write lock) and, while another connection holds that lock,
 * tries again after a short async pause, for up to `timeoutMs`. Unlike SQLite's busy handler this never blocks
 * the event loop — which matters when the lock holder is a transaction of this same process waiting on a
 * promise.
 */
export async function withBusyRetry<T>(fn: () => T, timeoutMs = MIGRATION_BUSY_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let pauseMs = 1;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    pauseMs = Math.min(pauseMs * 2, 25);
  }
}

/**
 * A connection of its own on the hub's database file, for an adapter beside the metadata store (job queue, audit
 * log, identities, access): writes are single `BEGIN IMMEDIATE` transactions that wait for the write lock with
 * async retries (busy timeout 0), so they never stall the metadata store's transaction in flight.
 */
export class SideConnection {
  readonly db: SqliteDatabase;
  readonly #statements = new Map<string, Statement>();
  #closed = false;

  /** `what` names the adapter in the error a closed one throws ("the job queue is closed"). */
  constructor(
    path: string,
    private readonly what: string,
  ) {
    this.db = openSqliteDatabase(path, { busyTimeoutMs: 0, cacheKiB: SIDE_CACHE_KIB });
  }

  /** Runs `step` in one `BEGIN IMMEDIATE` transaction, retried without blocking while another connection writes. */
  async write<T>(step: () => T): Promise<T> {
    this.assertOpen();
    const tx = this.db.transaction(step);
    return withBusyRetry(() => {
      this.assertOpen();
      return tx.immediate();
    });
  }

  assertOpen(): void {
    if (this.#closed) throw new Error(`The ${this.what} is closed.`);
  }

  /**
   * The statement for a constant SQL text, prepared on first use (better-sqlite3 compiles on every prepare). `pluck`:
   * a statement of its own that returns each row's first column (the mode sticks to a statement).
   */
  statement(sql: string, pluck = false): Statement {
    const key = pluck ? `pluck\u0000${sql}` : sql;
    let statement = this.#statements.get(key);
    if (!statement)
      this.#statements.set(key, (statement = pluck ? this.db.prepare(sql).pluck() : this.db.prepare(sql)));
    return statement;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.db.close();
  }
}

/** A duplicate primary or unique key. */
export function isSqliteUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
