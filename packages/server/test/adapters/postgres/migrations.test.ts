import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import {
  InvalidPgSchemaNameError,
  migratePg,
  openPgPool,
  PgSchemaTooNewError,
  pgSchemaVersion,
} from "../../../src/adapters/postgres/pg-database.js";
import type { PgMigration } from "../../../src/adapters/postgres/pg-migrations.js";
import { PG_MIGRATIONS } from "../../../src/adapters/postgres/pg-migrations.js";
import { openSqliteDatabase, SchemaTooNewError } from "../../../src/adapters/sqlite/sqlite-database.js";
import { privateSchema, TEST_DATABASE_URL } from "@modelhub/test-support/postgres.js";

type PrivateSchema = Awaited<ReturnType<typeof privateSchema>>;

const schemas: PrivateSchema[] = [];
const pools: pg.Pool[] = [];
function poolOn(schema: PrivateSchema): pg.Pool {
  const pool = openPgPool(schema.url, { max: 2 });
  pools.push(pool);
  return pool;
}
async function newSchema(label: string): Promise<PrivateSchema> {
  const schema = await privateSchema(label);
  schemas.push(schema);
  return schema;
}
after(async () => {
  await Promise.all(pools.map((p) => p.end()));
  for (const s of schemas) await s.drop();
});

describe("PostgreSQL migrations", () => {
  it("migrate creates the private schema and brings it to the newest version; a second run does nothing", async () => {
    const schema = await newSchema("fresh");
    const pool = poolOn(schema);
    assert.equal(await pgSchemaVersion(pool), 0);
    const first = await migratePg(pool);
    assert.deepEqual(first, {
      from: 0,
      to: PG_MIGRATIONS.at(-1)!.version,
      applied: PG_MIGRATIONS.map((m) => m.version),
    });
    assert.equal(await pgSchemaVersion(pool), PG_MIGRATIONS.at(-1)!.version);
    const where = await pool.query<{ schema: string }>("SELECT current_schema() AS schema");
    assert.equal(where.rows[0]!.schema, schema.schema, "the tables live in the URL's schema");
    const again = await migratePg(pool);
    assert.deepEqual(again.applied, []);
    const recorded = await pool.query<{ version: number; name: string }>(
      "SELECT version, name FROM schema_migrations ORDER BY version",
    );
    assert.deepEqual(
      recorded.rows,
      PG_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
  });

  it("has every table and column of the SQLite schema, integers as BIGINT, blobs as BYTEA, and mh_lower folding beyond ASCII", async () => {
    const pool = poolOn(await newSchema("parity"));
    await migratePg(pool);
    const sqlite = openSqliteDatabase(":memory:");
    const sqliteColumns = new Map<string, string>();
    for (const { name } of sqlite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string }[]) {
      for (const column of sqlite.prepare(`PRAGMA table_info(${name})`).all() as { name: string; type: string }[]) {
        sqliteColumns.set(`${name}.${column.name}`, column.type);
      }
    }
    sqlite.close();
    const pgRows = await pool.query<{ c: string; type: string }>(
      "SELECT table_name || '.' || column_name AS c, data_type AS type FROM information_schema.columns WHERE table_schema = current_schema()",
    );
    const pgColumns = new Map(pgRows.rows.map((r) => [r.c, r.type]));
    assert.ok(sqliteColumns.size > 100, `read the SQLite schema (${sqliteColumns.size} columns)`);
    for (const [column, type] of sqliteColumns) {
      assert.ok(pgColumns.has(column), `PostgreSQL has ${column}`);
      assert.equal(
        pgColumns.get(column),
        type === "INTEGER" ? "bigint" : type === "BLOB" ? "bytea" : "text",
        `${column} (${type})`,
      );
    }
    // Only the rowid stand-ins and the shared change feed's tables are PostgreSQL's own.
    const own = [...pgColumns.keys()].filter(
      (c) => !sqliteColumns.has(c) && !/^(event_feed|event_seqs|hub_events)\./.test(c),
    );
    assert.deepEqual(own.sort(), [
      "access_tokens.seq",
      "itwin_gates.seq",
      "jobs.seq",
      "webhook_deliveries.seq",
      "webhook_events.seq",
      "webhooks.seq",
    ]);
    const lower = await pool.query<{ l: string }>("SELECT mh_lower('ÄÖÜ Straße ÉCOLE') AS l");
    assert.equal(lower.rows[0]!.l, "ÄÖÜ Straße ÉCOLE".toLowerCase());
  });

  it("returns BIGINT and COUNT results as numbers on the hub's pools only", async () => {
    const pool = poolOn(await newSchema("types"));
    const row = await pool.query<{ big: unknown; n: unknown; s: unknown }>(
      "SELECT 9007199254740991::bigint AS big, count(*) AS n, sum(x)::numeric AS s FROM (VALUES (1::bigint), (2::bigint)) v(x)",
    );
    assert.deepEqual(row.rows[0], { big: 9007199254740991, n: 2, s: 3 });
    const plain = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await plain.connect();
    try {
      assert.equal(
        (await plain.query<{ n: unknown }>("SELECT count(*) AS n FROM (VALUES (1)) v(x)")).rows[0]!.n,
        "1",
        "pg's global parsers untouched",
      );
    } finally {
      await plain.end();
    }
  });

  it("two migrators starting together apply each migration once", async () => {
    const schema = await newSchema("race");
    // A slow migration keeps the first migrator inside the lock while the second arrives; a counter would show a double run.
    const newest = PG_MIGRATIONS.at(-1)!.version;
    const migrations: PgMigration[] = [
      ...PG_MIGRATIONS,
      {
        version: newest + 1,
        name: "counter",
        sql: "CREATE TABLE migration_runs (n BIGINT NOT NULL); INSERT INTO migration_runs VALUES (1)",
      },
      { version: newest + 2, name: "slow bump", sql: "SELECT pg_sleep(0.3); UPDATE migration_runs SET n = n + 1" },
    ];
    const [a, b] = [poolOn(schema), poolOn(schema)];
    const results = await Promise.all([migratePg(a, migrations), migratePg(b, migrations)]);
    const applied = results.flatMap((r) => r.applied).sort((x, y) => x - y);
    assert.deepEqual(
      applied,
      migrations.map((m) => m.version),
      "every migration applied by exactly one of them",
    );
    assert.ok(
      results.some((r) => r.applied.length === 0),
      "the second found nothing left to do",
    );
    assert.deepEqual(
      results.map((r) => r.to),
      [newest + 2, newest + 2],
    );
    assert.equal((await a.query<{ n: number }>("SELECT n FROM migration_runs")).rows[0]!.n, 2);
    assert.equal(
      (await a.query<{ c: number }>("SELECT count(*) AS c FROM schema_migrations")).rows[0]!.c,
      migrations.length,
    );
  });

  it("refuses a database migrated by a newer modelhub, naming its newest migration, and changes nothing", async () => {
    const schema = await newSchema("newer");
    const pool = poolOn(schema);
    const future = PG_MIGRATIONS.at(-1)!.version + 5;
    await migratePg(pool, [
      ...PG_MIGRATIONS,
      { version: future, name: "tenants and quotas", sql: "CREATE TABLE tenants (id TEXT PRIMARY KEY)" },
    ]);
    const older = poolOn(schema);
    await assert.rejects(migratePg(older), (err: unknown) => {
      assert.ok(err instanceof PgSchemaTooNewError);
      assert.ok(err instanceof SchemaTooNewError, "callers that catch the SQLite error catch this one too");
      assert.equal(err.newestMigrationName, "tenants and quotas");
      assert.equal(err.fileVersion, future);
      assert.equal(err.knownVersion, PG_MIGRATIONS.at(-1)!.version);
      assert.match(err.message, new RegExp(`schema version ${future} \\("tenants and quotas"\\)`));
      assert.match(err.message, new RegExp(`schema ${schema.schema}`));
      return true;
    });
    assert.equal(await pgSchemaVersion(older), future, "nothing was rolled back or re-applied");
  });

  it("rejects a schema name it would have to quote", () => {
    const withSchema = (name: string) => {
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set("schema", name);
      return url.toString();
    };
    assert.throws(() => openPgPool(withSchema("x;DROP")), InvalidPgSchemaNameError);
    assert.throws(() => openPgPool(withSchema("Upper")), InvalidPgSchemaNameError);
  });
});
