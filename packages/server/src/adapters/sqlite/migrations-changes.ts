// Migrations of the change-summary tables (issue 20) after the first (migration 10, in migrations.ts).
/** One migration (the shape of `Migration` in migrations.ts, not imported: that file imports this one). */

export const CHANGE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 14,
    name: "change summaries: one compressed blob of elements per changeset, and a failure reason (issue 20)",
    sql: `
      -- The elements of a changeset become one brotli-compressed blob in its summary row (changed-elements-codec.ts):
      -- a row per element cost 5× the changesets' own bytes. Existing summaries are dropped, not converted (SQL
      -- cannot compress): the backfill summarizes history lacking them again at the hub's next start.
      DROP TABLE changed_elements;
      DROP TABLE change_summaries;
      CREATE TABLE change_summaries (
        imodel_id TEXT NOT NULL REFERENCES imodels(id) ON DELETE CASCADE,
        changeset_index INTEGER NOT NULL,
        changeset_id TEXT NOT NULL,
        inserted INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        schema_changed INTEGER NOT NULL,
        schemas TEXT NOT NULL,
        counts TEXT NOT NULL,
        created_at TEXT NOT NULL,
        elements BLOB NOT NULL,
        -- Null: summarized. Otherwise why the changeset could not be read (no elements; the backfill skips it).
        failure TEXT,
        PRIMARY KEY (imodel_id, changeset_index)
      );
    `,
  },
];
