import { join } from "node:path";
import { ConfigError } from "../config.js";
import type { EventFeed, EventPublisher } from "../ports/event-bus.js";
import type { AccessStore } from "../ports/access-store.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { IdentityStore } from "../ports/identity-store.js";
import type { JobQueue } from "../ports/job-queue.js";
import type { MetadataStore } from "../ports/metadata-store.js";
import { InProcessEventBus } from "./events/in-process-event-bus.js";
import { parsePgUrl } from "./postgres/pg-url.js";
import { SqliteAccessStore } from "./sqlite/sqlite-access-store.js";
import { SqliteAuditLog } from "./sqlite/sqlite-audit-log.js";
import { SqliteIdentityStore } from "./sqlite/sqlite-identity-store.js";
import { SqliteJobQueue } from "./sqlite/sqlite-job-queue.js";
import { openSqliteMetadataStore } from "./sqlite/sqlite-metadata-store.js";
import { WalCheckpointer } from "./sqlite/wal-checkpointer.js";

/** Where the hub's records live (`--metadata`): the embedded SQLite file in the data directory, or PostgreSQL. */
export type MetadataSpec = { readonly kind: "sqlite" } | { readonly kind: "postgres"; readonly url: string };

export const DEFAULT_METADATA_SPEC: MetadataSpec = Object.freeze({ kind: "sqlite" });

/** `sqlite` or a `postgres://` / `postgresql://` URL; throws ConfigError naming what is wrong. */
export function parseMetadataSpec(text: string): MetadataSpec {
  const spec = text.trim();
  if (spec === "sqlite") return DEFAULT_METADATA_SPEC;
  if (/^postgres(ql)?:\/\//.test(spec)) {
    try {
      parsePgUrl(spec);
    } catch (err) {
      throw new ConfigError(`--metadata: ${(err as Error).message}`);
    }
    return Object.freeze({ kind: "postgres", url: spec });
  }
  throw new ConfigError(`--metadata must be sqlite (a file in the data directory) or postgres://user@host:port/database, not '${text}'.`);
}

/** The URL without its password, for logs and messages. */
export function formatMetadataSpec(spec: MetadataSpec): string {
  if (spec.kind === "sqlite") return "sqlite";
  const url = new URL(spec.url);
  if (url.password) url.password = "***";
  return url.toString();
}

/** Every store that lives in the metadata database, opened together on one backend. */
export interface MetadataBackend {
  readonly store: MetadataStore;
  readonly jobs: JobQueue;
  readonly auditLog: AuditLog;
  readonly identities: IdentityStore;
  readonly access: AccessStore;
  /** The change feed: per process on SQLite, shared by every node through the database on PostgreSQL. */
  readonly events: EventPublisher & EventFeed & { subscriberCount(): number };
  /** Whether several hub nodes may share this backend (PostgreSQL); the embedded file serves one machine. */
  readonly shared: boolean;
  /** Closes every store (and the connection pool). */
  close(): Promise<void>;
}

export interface OpenBackendOptions {
  maxEventSubscribers?: number;
  /** Problems of the shared change feed's listener connection (it reconnects by itself). */
  onEventFeedError?: (err: Error) => void;
  /** Problems the backend works around by itself (a checkpoint thread restarted). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * The one place that turns `--metadata` into adapters (the composition root asks it; nothing else names an adapter).
 * PostgreSQL: one pool for all stores, migrated first (under an advisory lock, so nodes may start together; a
 * database migrated by a newer modelhub is refused by name).
 */
export async function openMetadataBackend(spec: MetadataSpec, dataDir: string, options: OpenBackendOptions = {}): Promise<MetadataBackend> {
  if (spec.kind === "sqlite") {
    const path = join(dataDir, "metadata.db");
    const stores: MetadataStores = {
      store: await openSqliteMetadataStore(path),
      jobs: SqliteJobQueue.open(path),
      auditLog: SqliteAuditLog.open(path),
      identities: SqliteIdentityStore.open(path),
      access: SqliteAccessStore.open(path),
    };
    const events = new InProcessEventBus({ maxSubscribers: options.maxEventSubscribers });
    const checkpointer = new WalCheckpointer(path, options.warn);
    const close = async () => {
      await checkpointer.close();
      await closeStores(stores);
    };
    return { ...stores, events, shared: false, close };
  }
  // Loaded only when asked for: an embedded hub never loads the PostgreSQL driver.
  const { openPostgresBackend } = await import("./postgres/pg-backend.js");
  return openPostgresBackend(spec.url, options);
}

/** The stores of one backend; the job queue port has no `close`, its adapters do. */
export type MetadataStores = Pick<MetadataBackend, "store" | "auditLog" | "identities" | "access"> & { readonly jobs: JobQueue & { close(): Promise<void> } };

/** Closes the stores one after another, the metadata store last: the side stores share its database (file or pool). */
export async function closeStores(stores: MetadataStores): Promise<void> {
  await stores.jobs.close();
  await stores.auditLog.close();
  await stores.identities.close();
  await stores.access.close();
  await stores.store.close();
}

/**
 * The identity store alone, for the token commands run on an administrator's machine against the shared database:
 * migrated first (a token may be made before any node starts). `close` closes it and ends its own pool.
 */
export async function openPostgresIdentityStore(spec: Extract<MetadataSpec, { kind: "postgres" }>): Promise<{ store: IdentityStore; close(): Promise<void> }> {
  const { openPostgresIdentityStore: open } = await import("./postgres/pg-backend.js");
  return open(spec.url);
}
