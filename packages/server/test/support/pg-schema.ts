import type { PgPool } from "../../src/adapters/postgres/pg-database.js";
import { migratePg, openPgPool } from "../../src/adapters/postgres/pg-database.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";

/** A migrated private schema (see ./postgres.ts) and a pool on it; `cleanup` ends the pool and drops the schema. */
export async function migratedPrivateSchema(
  label: string,
): Promise<{ url: string; pool: PgPool; cleanup(): Promise<void> }> {
  const schema = await privateSchema(label);
  const pool = openPgPool(schema.url, { max: 4 });
  try {
    await migratePg(pool);
  } catch (err) {
    await pool.end();
    await schema.drop();
    throw err;
  }
  return {
    url: schema.url,
    pool,
    async cleanup() {
      await pool.end();
      await schema.drop();
    },
  };
}

/**
 * One migrated schema for a whole test file, emptied for each test: migrating takes most of a second, emptying a few
 * ms. `fresh()` empties every hub table (identity counters keep counting) and returns a new pool on the schema;
 * `url()` opens more (e.g. a second node); `drop()` (in the file's `after`) removes the schema.
 */
export function reusablePgSchema(label: string): { url(): string; fresh(): Promise<PgPool>; drop(): Promise<void> } {
  const schema = privateSchema(label);
  let migrated: Promise<unknown> | undefined;
  let url: string | undefined;
  return {
    url: () => {
      if (url === undefined) throw new Error("call fresh() first");
      return url;
    },
    async fresh() {
      url = (await schema).url;
      const pool = openPgPool(url, { max: 4 });
      try {
        await (migrated ??= migratePg(pool));
        const tables = await pool.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'",
        );
        // DELETE, not TRUNCATE: on these near-empty tables it is a few ms where TRUNCATE takes hundreds.
        await pool.query(tables.rows.map((t) => `DELETE FROM ${t.name};`).join(" "));
      } catch (err) {
        await pool.end();
        throw err;
      }
      return pool;
    },
    drop: async () => (await schema).drop(),
  };
}
