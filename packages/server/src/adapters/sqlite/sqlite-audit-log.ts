import { SqlAuditLog } from "../sql/sql-audit-log.js";
import { SqliteSideDatabase } from "./sqlite-side-database.js";

/**
 * The audit log on the metadata database file, on a connection of its own that waits for the write lock
 * asynchronously (see {@link SqliteSideDatabase}): a batch of entries must never block the event loop while the
 * metadata store's transaction is open across awaits.
 */
export class SqliteAuditLog extends SqlAuditLog {
  /** Opens the log on the database file at `path` (the metadata store's file). */
  static open(path: string): SqliteAuditLog {
    return new SqliteAuditLog(new SqliteSideDatabase(path, "audit log"));
  }
}
