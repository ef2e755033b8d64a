import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { SchemaTooNewError, schemaVersion, withBusyRetry } from "./sqlite-database.js";

/** How long a backup waits for the hub's write lock to take or renew its hold. */
const WRITE_WAIT_MS = 60_000;

/** What a metadata copy refers to in the blob store, and how much of each thing it holds. */
export interface MetadataCopyContents {
  schemaVersion: number;
  iModels: number;
  /** Completed changesets (their files must be in the backup). */
  changesets: { iModelId: string; id: string; index: number; fileSize: number }[];
  /** Successful checkpoints that have a file of their own. */
  checkpoints: { iModelId: string; changesetIndex: number; blobKey: string; size: number }[];
}

/**
 * The SQLite side of `modelhub backup`, on a live database a hub may be writing to: a blob deletion hold (migration
 * 2's `blob_deletion_holds`; while it is live the hub deletes no blob) and an online copy. Its own connection waits
 * for the hub's write lock with async retries; the hub is never blocked for longer than one small transaction.
 */
export class SqliteBackupSource {
  readonly #db: SqliteDatabase;

  private constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /** Opens `path` without migrating it; refuses a schema newer than this build or one without deletion holds. */
  static open(path: string): SqliteBackupSource {
    const db = new Database(path, { fileMustExist: true });
    try {
      db.pragma("busy_timeout = 0");
      const version = schemaVersion(db);
      const newest = MIGRATIONS.at(-1)!.version;
      if (version > newest) throw new SchemaTooNewError(path, version, newest);
      if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blob_deletion_holds'").get()) {
        throw new Error(
          `The metadata database ${path} is at schema version ${version}, which has no blob deletion holds: start the hub of this build on it once (it upgrades the file), then back it up.`,
        );
      }
      return new SqliteBackupSource(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Inserts or renews the hold `holder` until `expiresAtMs`, in a `BEGIN IMMEDIATE` transaction. */
  async hold(holder: string, expiresAtMs: number): Promise<void> {
    const upsert = this.#db.prepare(
      "INSERT INTO blob_deletion_holds (holder, expires_at) VALUES (?, ?) ON CONFLICT (holder) DO UPDATE SET expires_at = excluded.expires_at",
    );
    const tx = this.#db.transaction(() => upsert.run(holder, expiresAtMs));
    await withBusyRetry(() => tx.immediate(), WRITE_WAIT_MS);
  }

  async release(holder: string): Promise<void> {
    const remove = this.#db.prepare("DELETE FROM blob_deletion_holds WHERE holder = ?");
    const tx = this.#db.transaction(() => remove.run(holder));
    await withBusyRetry(() => tx.immediate(), WRITE_WAIT_MS);
  }

  /**
   * SQLite's online backup of the whole database into `destination` (a new file): a consistent snapshot of the
   * last committed state. The hold rows are removed from the copy (a restored hub must not inherit them).
   */
  async copyTo(destination: string): Promise<{ bytes: number; pages: number }> {
    // After the first step, everything in one step: under constant writes, small steps would restart forever.
    const { totalPages } = await this.#db.backup(destination, { progress: () => 1 << 30 });
    const copy = new Database(destination, { fileMustExist: true });
    try {
      copy.exec("DELETE FROM blob_deletion_holds");
      // One self-contained file (no -wal/-shm beside it); the hub switches it back to WAL when it opens it.
      copy.pragma("journal_mode = DELETE");
      const pageSize = copy.pragma("page_size", { simple: true }) as number;
      const pageCount = copy.pragma("page_count", { simple: true }) as number;
      return { bytes: pageSize * pageCount, pages: totalPages };
    } finally {
      copy.close();
    }
  }

  close(): void {
    this.#db.close();
  }
}

/** Reads what a metadata copy (a backup's, never a live database) contains and refers to. */
export function readMetadataCopy(path: string): MetadataCopyContents {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const version = schemaVersion(db);
    const newest = MIGRATIONS.at(-1)!.version;
    if (version > newest) throw new SchemaTooNewError(path, version, newest);
    const iModels = (db.prepare("SELECT COUNT(*) AS n FROM imodels").get() as { n: number }).n;
    const changesets = db
      .prepare(
        "SELECT imodel_id AS iModelId, id, idx AS \"index\", file_size AS fileSize FROM changesets WHERE state = 'fileUploaded' ORDER BY imodel_id, idx",
      )
      .all() as MetadataCopyContents["changesets"];
    const checkpoints = db
      .prepare(
        "SELECT imodel_id AS iModelId, changeset_index AS changesetIndex, blob_key AS blobKey, size FROM checkpoints WHERE state = 'successful' AND blob_key IS NOT NULL ORDER BY imodel_id, changeset_index",
      )
      .all() as MetadataCopyContents["checkpoints"];
    return { schemaVersion: version, iModels, changesets, checkpoints };
  } finally {
    db.close();
  }
}

/** The newest schema version this build knows (a backup of a newer one cannot be restored by it). */
export function newestSchemaVersion(): number {
  return MIGRATIONS.at(-1)!.version;
}
