import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { PgSideDatabase } from "../../src/adapters/postgres/pg-side-database.js";
import { PgWebhookStore } from "../../src/adapters/postgres/pg-webhook-store.js";
import { queueWebhookEvent } from "../../src/adapters/sql/webhook-outbox.js";
import { SqliteSideDatabase } from "../../src/adapters/sqlite/sqlite-side-database.js";
import { SqliteWebhookStore } from "../../src/adapters/sqlite/sqlite-webhook-store.js";
import { reusablePgSchema } from "../support/pg-schema.js";
import type { SideDatabase } from "../../src/adapters/sql/side-database.js";
import type { WebhookEvent } from "../../src/ports/webhook-store.js";
import { webhookStoreContract } from "./webhook-store.contract.js";

/** The outbox writer in a transaction of its own, as a change's would; `rollBack` throws after it (caught here). */
async function queueIn(writer: SideDatabase, event: WebhookEvent, nowMs?: number, rollBack?: boolean) {
  const rolledBack = new Error("rolled back");
  try {
    return await writer.transaction(async (tx) => {
      const matched = await queueWebhookEvent(tx, event, nowMs);
      if (rollBack) throw rolledBack;
      return matched;
    });
  } catch (err) {
    if (err !== rolledBack) throw err;
    return 0;
  }
}

webhookStoreContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-webhooks-"));
  const path = join(dir, "metadata.db");
  const store = SqliteWebhookStore.open(path);
  const other = SqliteWebhookStore.open(path);
  const writer = new SqliteSideDatabase(path, "outbox writer");
  return {
    store,
    other,
    queue: (event, nowMs, rollBack) => queueIn(writer, event, nowMs, rollBack),
    cleanup: async () => {
      writer.close();
      await other.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const pgSchema = reusablePgSchema("webhooks");
after(() => pgSchema.drop());

webhookStoreContract("postgres", async () => {
  const pool = await pgSchema.fresh();
  const store = PgWebhookStore.open(pool);
  const other = PgWebhookStore.open(pool);
  const writer = new PgSideDatabase(pool, "outbox writer");
  return {
    store,
    other,
    queue: (event, nowMs, rollBack) => queueIn(writer, event, nowMs, rollBack),
    cleanup: async () => {
      writer.close();
      await other.close();
      await store.close();
    },
  };
});
