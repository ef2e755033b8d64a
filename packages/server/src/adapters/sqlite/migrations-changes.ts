// Migrations of the change-summary tables (issue 20) after the first (migration 10, in migrations.ts); their SQL is
// shared with PostgreSQL (adapters/sql/shared-migrations.ts).
import { changeSummaryBlobMigration, SQLITE_DDL } from "../sql/shared-migrations.js";

/** PostgreSQL migration 11. Entries have the shape of `Migration`, not imported: migrations.ts imports this file. */
export const CHANGE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 14,
    name: "change summaries: one compressed blob of elements per changeset, and a failure reason (issue 20)",
    sql: changeSummaryBlobMigration(SQLITE_DDL),
  },
];
