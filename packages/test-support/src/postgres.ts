import { randomBytes } from "node:crypto";
import pg from "pg";

/** The machine's PostgreSQL (`.ci/run` starts it): trust auth on 127.0.0.1:5432, database `test`. */
export const TEST_DATABASE_URL = process.env.MODELHUB_TEST_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * A private schema in the test database for one test (file): its URL (`?schema=` is how modelhub's PostgreSQL
 * adapters are pointed at a schema) and a `drop()` that removes it with everything in it.
 */
export async function privateSchema(label: string): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const schema = `mh_test_${label.replace(/[^a-z0-9_]/g, "_")}_${randomBytes(4).toString("hex")}`;
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set("schema", schema);
  return {
    url: url.toString(),
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
