import { SqlAuditLog } from "../sql/sql-audit-log.js";
import type { PgPool } from "./pg-database.js";
import { PgSideDatabase } from "./pg-side-database.js";

/** The audit log in the hub's PostgreSQL database, shared by every node (see {@link SqlAuditLog}). */
export class PgAuditLog extends SqlAuditLog {
  /** A log on `pool` (migrated by migratePg). Closing the log leaves the pool open. */
  static open(pool: PgPool): PgAuditLog {
    return new PgAuditLog(new PgSideDatabase(pool, "audit log"));
  }
}
