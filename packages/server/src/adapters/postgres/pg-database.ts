import pg from "pg";
import { parsePgUrl, SCHEMA_NAME } from "./pg-url.js";

export { InvalidPgSchemaNameError, parsePgUrl } from "./pg-url.js";
import { SchemaTooNewError } from "../sqlite/sqlite-database.js";
import { RECORD_MIGRATION } from "../sql/sql-session.js";
import type { PgMigration } from "./pg-migrations.js";
import { numbered } from "./pg-session.js";
import { PG_MIGRATIONS } from "./pg-migrations.js";

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

export interface OpenPgPoolOptions {
  /** Most connections the pool opens (pg's default is 10). */
  max?: number;
  /** Called with an error of an idle connection (e.g. the server restarted); the pool drops that connection. */
  onIdleError?: (err: Error) => void;
  /** Name the connections report in pg_stat_activity. */
  applicationName?: string;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Integer columns are BIGINT (sizes and indexes may pass 2^31) and COUNT/SUM results are INT8/NUMERIC; pg returns
 * both as strings by default. The hub's values stay far below 2^53, so they come back as numbers — set on this
 * pool's own type table so other pg users in the process keep pg's defaults.
 */
const HUB_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (format !== "binary" && oid === INT8_OID) return (value: string) => Number(value);
    if (format !== "binary" && oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as "text");
  }) as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * A connection pool on the hub's PostgreSQL database.
 *
 * `?schema=<name>` in the URL puts every connection's `search_path` on that schema alone (a startup option, so it
 * holds on every pooled connection without a query): the hub's tables, functions and `schema_migrations` then live
 * there. Tests use it for a private schema each; {@link migratePg} creates the schema if it is missing.
 * Without it, the tables go where the server's default search_path puts them (normally `public`).
 */
export function openPgPool(url: string, options: OpenPgPoolOptions = {}): PgPool {
  const { connectionString, schema } = parsePgUrl(url);
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    types: HUB_TYPES,
    application_name: options.applicationName ?? "modelhub",
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  // Without a listener an idle connection's error (server restart, network cut) would crash the process.
  pool.on("error", options.onIdleError ?? (() => undefined));
  return pool;
}

/** The PostgreSQL database is at a newer schema than this modelhub knows; names the newest migration it has. */
export class PgSchemaTooNewError extends SchemaTooNewError {
  constructor(
    database: string,
    databaseVersion: number,
    knownVersion: number,
    readonly newestMigrationName: string,
  ) {
    super(database, databaseVersion, knownVersion);
    this.name = "PgSchemaTooNewError";
    this.message =
      `The metadata database ${database} is at schema version ${databaseVersion} ("${newestMigrationName}"), but this modelhub only knows ` +
      `versions up to ${knownVersion}. It was migrated by a newer modelhub: run that version (or newer), or restore a backup made with this one.`;
  }
}

/** The schema version recorded in the database (0 when nothing was migrated there yet). */
export async function pgSchemaVersion(pool: PgPool): Promise<number> {
  return (await newestApplied(pool))?.version ?? 0;
}

export interface PgMigrationResult {
  /** The version before and after the run. */
  from: number;
  to: number;
  /** Versions this run applied (another node may have applied the rest). */
  applied: number[];
}

/**
 * Brings the database (the pool's schema) to the newest migration. The whole run holds a session advisory lock keyed
 * by the search_path, so nodes starting together apply each migration once: the others wait, then find nothing to do.
 * Each migration runs in its own transaction with the row that records it. A database at a newer version than
 * `migrations` knows is refused with {@link PgSchemaTooNewError}, before anything is changed.
 */
export async function migratePg(
  pool: PgPool,
  migrations: readonly PgMigration[] = PG_MIGRATIONS,
): Promise<PgMigrationResult> {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version <= migrations[i - 1]!.version)
      throw new Error(`Migrations are out of order at version ${migrations[i]!.version}.`);
  }
  const client = await pool.connect();
  let lockKey: string | undefined;
  try {
    // hashtext gives an int4; the key covers the search_path so private schemas in one database never wait on each other.
    const key = await client.query<{ key: string }>(
      "SELECT hashtext('modelhub migrate ' || current_setting('search_path'))::text AS key",
    );
    lockKey = key.rows[0]!.key;
    await client.query("SELECT pg_advisory_lock($1::bigint)", [lockKey]);
    await createSearchPathSchema(client);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    );
    const from = (await newestApplied(client))?.version ?? 0;
    await refuseNewerSchema(client, migrations);
    const applied: number[] = [];
    for (const migration of migrations) {
      if (migration.version <= from) continue;
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query(numbered(RECORD_MIGRATION), [migration.version, migration.name, new Date().toISOString()]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(
          `PostgreSQL migration ${migration.version} ("${migration.name}") failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      applied.push(migration.version);
    }
    return { from, to: (await newestApplied(client))?.version ?? 0, applied };
  } finally {
    try {
      if (lockKey !== undefined) await client.query("SELECT pg_advisory_unlock($1::bigint)", [lockKey]);
      client.release();
    } catch (err) {
      // A connection whose unlock failed may still hold the lock: destroy it rather than pool it.
      client.release(err as Error);
    }
  }
}

/** The pool's schema, when `openPgPool` was given one that does not exist yet (current_schema() is then NULL). */
async function createSearchPathSchema(client: PgClient): Promise<void> {
  const row = await client.query<{ current: string | null; path: string }>(
    "SELECT current_schema() AS current, current_setting('search_path') AS path",
  );
  if (row.rows[0]!.current !== null) return;
  const first = row.rows[0]!.path.split(",")[0]!
    .trim()
    .replace(/^"(.*)"$/, "$1");
  if (!SCHEMA_NAME.test(first))
    throw new Error(
      `No schema of the search_path "${row.rows[0]!.path}" exists, and "${first}" is not one modelhub creates.`,
    );
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${first}`);
}

async function newestApplied(db: PgPool | PgClient): Promise<{ version: number; name: string } | undefined> {
  const table = await db.query<{ exists: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists");
  if (!table.rows[0]!.exists) return undefined;
  const row = await db.query<{ version: number; name: string }>(
    "SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1",
  );
  return row.rows[0];
}

async function refuseNewerSchema(client: PgClient, migrations: readonly PgMigration[]): Promise<void> {
  const current = await newestApplied(client);
  const newest = migrations.at(-1)?.version ?? 0;
  if (current && current.version > newest) {
    const where = await client.query<{ db: string; schema: string | null }>(
      "SELECT current_database() AS db, current_schema() AS schema",
    );
    const { db, schema } = where.rows[0]!;
    throw new PgSchemaTooNewError(schema ? `${db} (schema ${schema})` : db, current.version, newest, current.name);
  }
}
