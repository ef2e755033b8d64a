// Migrations of the events-out tables (issue 21): gates.
/** One migration (the shape of `Migration` in migrations.ts, not imported: that file imports this one). */

export const GATE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 12,
    name: "gates of iTwins (issue 21)",
    sql: `
      -- URLs called before a changeset is accepted or a named version created; in registration order (created_at,
      -- then rowid). No foreign key: iTwins are deleted softly, and a gate of a deleted iTwin is never called.
      CREATE TABLE itwin_gates (
        id TEXT PRIMARY KEY,
        itwin_id TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT NOT NULL,
        timeout_ms INTEGER NOT NULL,
        failure TEXT NOT NULL,
        secret TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      );
      CREATE INDEX itwin_gates_by_itwin ON itwin_gates(itwin_id);
    `,
  },
];
