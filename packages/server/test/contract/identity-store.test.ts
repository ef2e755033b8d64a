import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { openPgPool } from "../../src/adapters/postgres/pg-database.js";
import { PgIdentityStore } from "../../src/adapters/postgres/pg-identity-store.js";
import { SqliteIdentityStore } from "../../src/adapters/sqlite/sqlite-identity-store.js";
import { reusablePgSchema } from "../support/pg-schema.js";
import { identityStoreContract } from "./identity-store.contract.js";

identityStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-identity-"));
  const path = join(dir, "metadata.db");
  const store = SqliteIdentityStore.open(path);
  return {
    store,
    reopen: async () => SqliteIdentityStore.open(path),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const pgSchema = reusablePgSchema("identity");
after(() => pgSchema.drop());

identityStoreContract("postgres", async () => {
  const pool = await pgSchema.fresh();
  const store = PgIdentityStore.open(pool);
  // The second handle has a pool of its own, as another node (or `modelhub tokens`) would.
  const pools = [pool];
  return {
    store,
    reopen: async () => {
      const other = openPgPool(pgSchema.url(), { max: 2 });
      pools.push(other);
      return PgIdentityStore.open(other);
    },
    cleanup: async () => {
      await store.close();
      await Promise.all(pools.map((p) => p.end()));
    },
  };
});
