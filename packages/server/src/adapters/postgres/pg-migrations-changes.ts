// Migrations of the change-summary tables (issue 20) after the first (migration 7, in pg-migrations.ts).
/** One migration (the shape of `PgMigration`, not imported: pg-migrations.ts imports this file). */

export const PG_CHANGE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 11,
    name: "change summaries: one compressed blob of elements per changeset, and a failure reason (issue 20; SQLite migration 14)",
    sql: `
      -- See the SQLite migration 14: existing summaries are dropped, the backfill makes them again.
      DROP TABLE changed_elements;
      DROP TABLE change_summaries;
      CREATE TABLE change_summaries (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        changeset_index BIGINT NOT NULL,
        changeset_id TEXT NOT NULL,
        inserted BIGINT NOT NULL,
        updated BIGINT NOT NULL,
        deleted BIGINT NOT NULL,
        schema_changed BIGINT NOT NULL,
        schemas TEXT NOT NULL,
        counts TEXT NOT NULL,
        created_at TEXT NOT NULL,
        elements BYTEA NOT NULL,
        failure TEXT,
        PRIMARY KEY (imodel_id, changeset_index)
      );
    `,
  },
];
