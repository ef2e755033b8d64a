// Migrations of the events-out tables (issue 21): gates.
/** One migration (the shape of `PgMigration`, not imported: pg-migrations.ts imports this file). */

export const PG_GATE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 9,
    name: "gates of iTwins (issue 21; SQLite migration 12)",
    sql: `
      -- seq stands in for SQLite's rowid (registration order after created_at); inserts never name it.
      CREATE TABLE itwin_gates (
        id TEXT PRIMARY KEY,
        itwin_id TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        timeout_ms BIGINT NOT NULL,
        failure TEXT NOT NULL,
        secret TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX itwin_gates_by_itwin ON itwin_gates(itwin_id);
    `,
  },
];
