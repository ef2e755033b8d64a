import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { openPgChangeSummaryStore } from "../../src/adapters/postgres/pg-change-summary-store.js";
import { PgMetadataStore } from "../../src/adapters/postgres/pg-metadata-store.js";
import { PgWebhookStore } from "../../src/adapters/postgres/pg-webhook-store.js";
import { openSqliteChangeSummaryStore } from "../../src/adapters/sqlite/sqlite-change-summary-store.js";
import { openSqliteMetadataStore } from "../../src/adapters/sqlite/sqlite-metadata-store.js";
import { SqliteWebhookStore } from "../../src/adapters/sqlite/sqlite-webhook-store.js";
import { reusablePgSchema } from "../support/pg-schema.js";
import { changeSummaryStoreContract } from "./change-summary-store.contract.js";

changeSummaryStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-changes-"));
  const path = join(dir, "metadata.db");
  const store = await openSqliteMetadataStore(path);
  const summaries = openSqliteChangeSummaryStore(path);
  const webhooks = SqliteWebhookStore.open(path);
  return {
    store,
    summaries,
    webhooks,
    cleanup: async () => {
      await webhooks.close();
      await summaries.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const pgSchema = reusablePgSchema("changes");
after(() => pgSchema.drop());

changeSummaryStoreContract("postgres", async () => {
  const pool = await pgSchema.fresh();
  const summaries = openPgChangeSummaryStore(pool);
  const store = new PgMetadataStore(pool);
  const webhooks = PgWebhookStore.open(pool);
  return {
    store,
    summaries,
    webhooks,
    cleanup: async () => {
      await webhooks.close();
      await summaries.close();
      await store.close();
      await pool.end();
    },
  };
});
