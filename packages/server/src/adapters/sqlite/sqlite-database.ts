import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.js";

export type SqliteDatabase = Database.Database;

/**
 * Opens the metadata database: WAL (readers never block the writer), foreign keys on, and the schema brought to
 * the newest migration, each migration in its own transaction. A database written by a newer modelhub is refused.
 */
export function openSqliteDatabase(path: string, options: { readonly?: boolean } = {}): SqliteDatabase {
  const db = new Database(path, { readonly: options.readonly ?? false });
  db.pragma("busy_timeout = 10000");
  if (!options.readonly) {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    migrate(db);
  }
  db.pragma("foreign_keys = ON");
  return db;
}

export function migrate(db: SqliteDatabase): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
  const current = row.v ?? 0;
  const newest = MIGRATIONS.at(-1)?.version ?? 0;
  if (current > newest) {
    throw new Error(
      `The metadata database is at schema version ${current}, but this modelhub knows versions up to ${newest}. Run a newer modelhub, or restore a backup.`,
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(migration.version, migration.name, new Date().toISOString());
    }).immediate();
  }
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
