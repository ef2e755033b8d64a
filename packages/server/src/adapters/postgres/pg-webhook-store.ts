import { SqlWebhookStore } from "../sql/sql-webhook-store.js";
import type { PgPool } from "./pg-database.js";
import { PgSideDatabase } from "./pg-side-database.js";

/**
 * Webhooks and their deliveries in the hub's PostgreSQL database, shared by every node. The claim's `FOR UPDATE OF d
 * SKIP LOCKED` makes concurrent claimers pass over a delivery another node is taking instead of waiting for it.
 * Closing it leaves the pool open.
 */
export class PgWebhookStore extends SqlWebhookStore {
  static open(pool: PgPool): PgWebhookStore {
    return new PgWebhookStore(new PgSideDatabase(pool, "webhook store"), { claimLock: "FOR UPDATE OF d SKIP LOCKED" });
  }
}
