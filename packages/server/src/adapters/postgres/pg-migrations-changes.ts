// Migrations of the change-summary tables (issue 20) after the first (migration 7, in pg-migrations.ts); their SQL
// is SQLite's, with PostgreSQL's types (adapters/sql/shared-migrations.ts).
import { changeSummaryBlobMigration, POSTGRES_DDL } from "../sql/shared-migrations.js";

/** SQLite migration 14. Entries have the shape of `PgMigration`, not imported: pg-migrations.ts imports this. */
export const PG_CHANGE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 11,
    name: "change summaries: one compressed blob of elements per changeset, and a failure reason (issue 20; SQLite migration 14)",
    sql: changeSummaryBlobMigration(POSTGRES_DDL),
  },
];
