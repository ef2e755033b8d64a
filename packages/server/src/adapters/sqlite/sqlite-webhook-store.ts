import { SqlWebhookStore } from "../sql/sql-webhook-store.js";
import { SqliteSideDatabase } from "./sqlite-side-database.js";

/** Webhooks and their deliveries on the metadata database file, on a connection of its own; its claim transaction
 * (BEGIN IMMEDIATE) is the file's only writer, so two claimers never take the same delivery. */
export class SqliteWebhookStore extends SqlWebhookStore {
  static open(path: string): SqliteWebhookStore {
    return new SqliteWebhookStore(new SqliteSideDatabase(path, "webhook store"), { claimLock: "" });
  }
}
