import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { PgGateStore } from "../../src/adapters/postgres/pg-gate-store.js";
import { SqliteGateStore } from "../../src/adapters/sqlite/sqlite-gate-store.js";
import { reusablePgSchema } from "../support/pg-schema.js";
import { gateStoreContract } from "./gate-store.contract.js";

gateStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-gates-"));
  const store = SqliteGateStore.open(join(dir, "metadata.db"));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const pgSchema = reusablePgSchema("gates");
after(() => pgSchema.drop());

gateStoreContract("postgres", async () => {
  const pool = await pgSchema.fresh();
  const store = PgGateStore.open(pool);
  return { store, cleanup: () => store.close() };
});
