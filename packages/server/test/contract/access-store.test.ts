import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { PgAccessStore } from "../../src/adapters/postgres/pg-access-store.js";
import { openPgPool } from "../../src/adapters/postgres/pg-database.js";
import { SqliteAccessStore } from "../../src/adapters/sqlite/sqlite-access-store.js";
import { openSqliteDatabase } from "../../src/adapters/sqlite/sqlite-database.js";
import { reusablePgSchema } from "../support/pg-schema.js";
import { accessStoreContract } from "./access-store.contract.js";

accessStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-access-"));
  const path = join(dir, "metadata.db");
  const store = SqliteAccessStore.open(path);
  // iModels are the metadata store's rows; a bare row is all the access tables' foreign keys need.
  const db = openSqliteDatabase(path);
  return {
    store,
    second: async () => SqliteAccessStore.open(path),
    addIModel: async (iModelId, iTwinId) => {
      db.prepare(
        `INSERT INTO imodels (id, itwin_id, name, creator_id, created_at, state, creation_mode, baseline_state, next_briefcase_id)
          VALUES (?, ?, ?, 'test', '2026-01-01T00:00:00.000Z', 'initialized', 'empty', 'initialized', 2)`,
      ).run(iModelId, iTwinId, iModelId);
    },
    deleteIModel: async (iModelId) => void db.prepare("DELETE FROM imodels WHERE id = ?").run(iModelId),
    cleanup: async () => {
      await store.close();
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const pgSchema = reusablePgSchema("access");
after(() => pgSchema.drop());

accessStoreContract("postgres", async () => {
  const pool = await pgSchema.fresh();
  const store = PgAccessStore.open(pool);
  // `second` has a pool of its own: another node on the same database.
  const pools = [pool];
  return {
    store,
    second: async () => {
      const other = openPgPool(pgSchema.url(), { max: 4 });
      pools.push(other);
      return PgAccessStore.open(other);
    },
    addIModel: async (iModelId, iTwinId) => {
      await pool.query(
        `INSERT INTO imodels (id, itwin_id, name, creator_id, created_at, state, creation_mode, baseline_state, next_briefcase_id)
          VALUES ($1, $2, $1, 'test', '2026-01-01T00:00:00.000Z', 'initialized', 'empty', 'initialized', 2)`,
        [iModelId, iTwinId],
      );
    },
    deleteIModel: async (iModelId) => void (await pool.query("DELETE FROM imodels WHERE id = $1", [iModelId])),
    cleanup: async () => {
      await store.close();
      await Promise.all(pools.map((p) => p.end()));
    },
  };
});
