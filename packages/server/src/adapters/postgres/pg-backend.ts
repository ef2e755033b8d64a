import type { IdentityStore } from "../../ports/identity-store.js";
import type { MetadataBackend, MetadataStores, OpenBackendOptions } from "../registry.js";
import { closeStores } from "../registry.js";
import { PgAccessStore } from "./pg-access-store.js";
import { PgAuditLog } from "./pg-audit-log.js";
import { openPgChangeSummaryStore } from "./pg-change-summary-store.js";
import { migratePg, openPgPool } from "./pg-database.js";
import { PgEventBus } from "./pg-event-bus.js";
import { PgIdentityStore } from "./pg-identity-store.js";
import { PgJobQueue } from "./pg-job-queue.js";
import { PgMetadataStore } from "./pg-metadata-store.js";

/**
 * Every store of the hub on one PostgreSQL database (`--metadata postgres://…`): one pool for all, migrated first
 * (under an advisory lock, so nodes may start together; a database migrated by a newer modelhub is refused by name).
 * The registry imports this module only when PostgreSQL is asked for.
 */
export async function openPostgresBackend(url: string, options: OpenBackendOptions): Promise<MetadataBackend> {
  const pool = openPgPool(url, { max: 20, applicationName: "modelhub" });
  try {
    await migratePg(pool);
    const events = await PgEventBus.open(pool, {
      ...(options.maxEventSubscribers !== undefined ? { maxSubscribers: options.maxEventSubscribers } : {}),
      ...(options.onEventFeedError ? { onError: options.onEventFeedError } : {}),
    });
    const stores: MetadataStores = {
      store: new PgMetadataStore(pool),
      jobs: PgJobQueue.open(pool),
      auditLog: PgAuditLog.open(pool),
      identities: PgIdentityStore.open(pool),
      access: PgAccessStore.open(pool),
    };
    const changes = openPgChangeSummaryStore(pool);
    return {
      ...stores,
      changes,
      events,
      shared: true,
      close: async () => {
        await events.close();
        await changes.close();
        await closeStores(stores);
        await pool.end();
      },
    };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/** The identity store alone on its own small pool (the token commands); `close` ends the pool too. */
export async function openPostgresIdentityStore(url: string): Promise<{ store: IdentityStore; close(): Promise<void> }> {
  const pool = openPgPool(url, { max: 2, applicationName: "modelhub tokens" });
  try {
    await migratePg(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const store = PgIdentityStore.open(pool);
  return {
    store,
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}
