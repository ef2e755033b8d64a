import type { IdentityStore } from "../../ports/identity-store.js";
import type { MetadataStore } from "../../ports/metadata-store.js";
import type { MetadataBackend, MetadataStores, OpenBackendOptions } from "../metadata-backend.js";
import { closeStores } from "../metadata-backend.js";
import { PgAccessStore } from "./pg-access-store.js";
import { PgAuditLog } from "./pg-audit-log.js";
import { openPgChangeSummaryStore } from "./pg-change-summary-store.js";
import { PgGateStore } from "./pg-gate-store.js";
import { PgWebhookStore } from "./pg-webhook-store.js";
import {
  InvalidPgSchemaNameError,
  migratePg,
  openPgPool,
  pgSchemaVersion,
  PgSchemaTooNewError,
} from "./pg-database.js";
import { PG_MIGRATIONS } from "./pg-migrations.js";
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
    const gates = PgGateStore.open(pool);
    const webhooks = PgWebhookStore.open(pool);
    return {
      ...stores,
      changes,
      gates,
      webhooks,
      events,
      shared: true,
      close: async () => {
        await events.close();
        await changes.close();
        await gates.close();
        await webhooks.close();
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
export async function openPostgresIdentityStore(
  url: string,
): Promise<{ store: IdentityStore; close(): Promise<void> }> {
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

/**
 * The metadata store alone on its own small pool (`modelhub doctor`), not migrated: a database at another schema
 * version than this modelhub's is refused by name. `close` ends the pool too.
 */
export async function openPostgresMetadataStore(
  url: string,
): Promise<{ store: MetadataStore; close(): Promise<void> }> {
  const pool = openPgPool(url, { max: 2, applicationName: "modelhub doctor" });
  try {
    const version = await pgSchemaVersion(pool);
    const newest = PG_MIGRATIONS.at(-1)!.version;
    if (version !== newest) {
      throw new Error(
        version < newest
          ? `the metadata database is at schema version ${version}, this modelhub's is ${newest}: run modelhub migrate --metadata <url> (or start a hub node) first.`
          : `the metadata database is at schema version ${version}, newer than this modelhub's ${newest}: use the modelhub that migrated it.`,
      );
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const store = new PgMetadataStore(pool);
  return {
    store,
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}

/**
 * `modelhub migrate`: the database of `url` at this modelhub's schema, on a pool of one connection. A bad schema name
 * or a database migrated by a newer modelhub become `refusal(message)`: nothing was changed then.
 */
export async function migratePostgresDatabase(
  url: string,
  refusal: (message: string) => Error,
): Promise<{ from: number; to: number; applied: { version: number; name: string }[] }> {
  let pool;
  try {
    pool = openPgPool(url, { max: 1, applicationName: "modelhub migrate" });
  } catch (err) {
    throw err instanceof InvalidPgSchemaNameError ? refusal(err.message) : err;
  }
  try {
    const result = await migratePg(pool);
    return {
      from: result.from,
      to: result.to,
      applied: result.applied.map((version) => ({
        version,
        name: PG_MIGRATIONS.find((m) => m.version === version)!.name,
      })),
    };
  } catch (err) {
    throw err instanceof PgSchemaTooNewError ? refusal(err.message) : err;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
