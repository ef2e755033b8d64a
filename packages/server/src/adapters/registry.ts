// The one place that names adapters for the rest of the server: `main.ts` (the hub) and the admin commands (doctor,
// backup, restore, tokens, migrate) open stores through it, so every backend a hub can run on is served by each of
// them, or refused by name (BackendRefusal). ESLint (eslint.config.js) lets no other file outside adapters/ import
// an adapter. Drivers are loaded only when their backend is asked for.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { BlobStore } from "../ports/blob-store.js";
import type { IdentityStore } from "../ports/identity-store.js";
import type { MetadataStore } from "../ports/metadata-store.js";
import type { BlobSpec } from "./blob/blob-spec.js";
import { formatBlobSpec } from "./blob/blob-spec.js";
import { openBlobStore as openBlobStoreOf } from "./blob/open-blob-store.js";
import { InProcessEventBus } from "./events/in-process-event-bus.js";
import { privateDataDir } from "./fs/private-data-dir.js";
import type { MetadataBackend, MetadataStores, OpenBackendOptions } from "./metadata-backend.js";
import { closeStores } from "./metadata-backend.js";
import type { MetadataSpec } from "./store-specs.js";
import { DEFAULT_METADATA_SPEC, formatMetadataSpec } from "./store-specs.js";
import type { MetadataCopyContents } from "./sqlite/backup.js";
import { newestSchemaVersion, readMetadataCopy, SqliteBackupSource } from "./sqlite/backup.js";
import { SqliteAccessStore } from "./sqlite/sqlite-access-store.js";
import { SqliteAuditLog } from "./sqlite/sqlite-audit-log.js";
import { openSqliteChangeSummaryStore } from "./sqlite/sqlite-change-summary-store.js";
import { SqliteGateStore } from "./sqlite/sqlite-gate-store.js";
import { SqliteWebhookStore } from "./sqlite/sqlite-webhook-store.js";
import { SqliteIdentityStore } from "./sqlite/sqlite-identity-store.js";
import { SqliteJobQueue } from "./sqlite/sqlite-job-queue.js";
import { openSqliteMetadataStore } from "./sqlite/sqlite-metadata-store.js";
import { WalCheckpointer } from "./sqlite/wal-checkpointer.js";

export type { BlobSpec } from "./blob/blob-spec.js";
export { DEFAULT_BLOB_SPEC, formatBlobSpec, parseBlobSpec } from "./blob/blob-spec.js";
export type { MetadataSpec } from "./store-specs.js";
export { DEFAULT_METADATA_SPEC, formatMetadataSpec, parseMetadataSpec } from "./store-specs.js";
export { AZURE_CONNECTION_STRING_VARIABLE, openCloudContainers } from "./blob/open-blob-store.js";
export type { MetadataBackend, MetadataStores, OpenBackendOptions } from "./metadata-backend.js";
export { closeStores } from "./metadata-backend.js";
export type { MetadataCopyContents } from "./sqlite/backup.js";

/** What a backend cannot do, refused by name before anything was changed (the admin commands' exit code 2). */
export class BackendRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendRefusal";
  }
}

/** The metadata file of the embedded backend, in the data directory. */
const SQLITE_FILE = "metadata.db";

/**
 * The one place that turns `--metadata` into adapters (the composition root asks it; nothing else names an adapter).
 * PostgreSQL: one pool for all stores, migrated first (under an advisory lock, so nodes may start together; a
 * database migrated by a newer modelhub is refused by name).
 */
export async function openMetadataBackend(
  spec: MetadataSpec,
  dataDir: string,
  options: OpenBackendOptions = {},
): Promise<MetadataBackend> {
  if (spec.kind === "sqlite") {
    const path = join(dataDir, SQLITE_FILE);
    const stores: MetadataStores = {
      store: await openSqliteMetadataStore(path),
      jobs: SqliteJobQueue.open(path),
      auditLog: SqliteAuditLog.open(path),
      identities: SqliteIdentityStore.open(path),
      access: SqliteAccessStore.open(path),
    };
    const changes = openSqliteChangeSummaryStore(path);
    const gates = SqliteGateStore.open(path);
    const webhooks = SqliteWebhookStore.open(path);
    const events = new InProcessEventBus({ maxSubscribers: options.maxEventSubscribers });
    const checkpointer = new WalCheckpointer(path, options.warn);
    const close = async () => {
      await checkpointer.close();
      await changes.close();
      await gates.close();
      await webhooks.close();
      await closeStores(stores);
    };
    return { ...stores, changes, gates, webhooks, events, shared: false, close };
  }
  // Loaded only when asked for: an embedded hub never loads the PostgreSQL driver.
  const { openPostgresBackend } = await import("./postgres/pg-backend.js");
  return openPostgresBackend(spec.url, options);
}

/**
 * Opens the blob store `spec` names (`fs`: `<dataDir>/blobs`; `azure:<container>`: the account in
 * AZURE_STORAGE_CONNECTION_STRING). `sweepOnOpen: false` leaves an fs store's left-overs for an explicit
 * `sweepLeftovers` (a report that changes nothing).
 */
export function openBlobStore(
  spec: BlobSpec,
  dataDir: string,
  options: { sweepOnOpen?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<BlobStore> {
  return openBlobStoreOf(
    spec,
    dataDir,
    options.env ?? process.env,
    options.sweepOnOpen !== undefined ? { sweepOnOpen: options.sweepOnOpen } : {},
  );
}

/**
 * The metadata store alone (`modelhub doctor`): the data directory's file, which must exist, or the PostgreSQL
 * database, which must be at this modelhub's schema (it is not migrated: a report changes nothing).
 */
export async function openMetadataStore(
  spec: MetadataSpec,
  dataDir: string,
): Promise<{ store: MetadataStore; close(): Promise<void> }> {
  if (spec.kind === "postgres") {
    const { openPostgresMetadataStore } = await import("./postgres/pg-backend.js");
    return openPostgresMetadataStore(spec.url);
  }
  const path = join(dataDir, SQLITE_FILE);
  if (!existsSync(path)) throw new BackendRefusal(`${dataDir} holds no modelhub data (no ${SQLITE_FILE}).`);
  const store = await openSqliteMetadataStore(path);
  return { store, close: () => store.close() };
}

/**
 * The identity store alone, for the token commands run on an administrator's machine: the data directory's file
 * (with `create`, made if missing: a token may be made before the hub first starts; it holds only the token's hash),
 * or the shared PostgreSQL database, migrated first (a token may be made before any node starts). `close` closes it
 * (and its own pool).
 */
export async function openIdentityStore(
  spec: MetadataSpec,
  dataDir: string,
  options: { create: boolean },
): Promise<{ store: IdentityStore; close(): Promise<void> }> {
  if (spec.kind === "postgres") {
    const { openPostgresIdentityStore } = await import("./postgres/pg-backend.js");
    return openPostgresIdentityStore(spec.url);
  }
  const dir = resolve(dataDir);
  const path = join(dir, SQLITE_FILE);
  if (options.create) await privateDataDir(dir);
  else if (!existsSync(path))
    throw new BackendRefusal(`${dir} holds no modelhub data (no ${SQLITE_FILE}); pass the hub's --data directory.`);
  const store = SqliteIdentityStore.open(path);
  return { store, close: () => store.close() };
}

/** What `modelhub migrate` did. */
export interface MigrationReport {
  from: number;
  to: number;
  applied: { version: number; name: string }[];
}

/**
 * Brings a PostgreSQL metadata database to this modelhub's schema (`modelhub migrate`; the embedded SQLite file
 * migrates itself when a hub opens it). A bad schema name or a database migrated by a newer modelhub is a
 * BackendRefusal; nothing was changed then.
 */
export async function migrateMetadataDatabase(url: string): Promise<MigrationReport> {
  const { migratePostgresDatabase } = await import("./postgres/pg-backend.js");
  return migratePostgresDatabase(url, (message) => new BackendRefusal(message));
}

/** What `modelhub backup` and `modelhub restore` use of the embedded backend: its SQLite file and files under --data. */
export interface EmbeddedBackup {
  /** A live metadata file, opened without migrating it, to hold deletions and copy it online. */
  openSource(metadataPath: string): SqliteBackupSource;
  /** What a copy of the metadata file holds and refers to. */
  readCopy(path: string): MetadataCopyContents;
  /** The newest metadata schema this modelhub knows. */
  newestSchemaVersion(): number;
  /** The metadata file's name in a data directory (and in a backup). */
  readonly metadataFile: string;
}

/**
 * The backup of a hub on these backends. `modelhub backup` copies the embedded backend (the SQLite file and the
 * files under --data); a hub on PostgreSQL or Azure Blob Storage is refused by name, with what to use instead.
 */
export function embeddedBackup(
  backends: { metadata: MetadataSpec; blobs: BlobSpec } = { metadata: DEFAULT_METADATA_SPEC, blobs: { kind: "fs" } },
): EmbeddedBackup {
  if (backends.metadata.kind === "postgres") {
    throw new BackendRefusal(
      `the hub's metadata is in PostgreSQL (${formatMetadataSpec(backends.metadata)}); modelhub backup copies the embedded SQLite file. ` +
        "Back it up with PostgreSQL's own tools (pg_dump, or point-in-time recovery) and the files with their store's (see docs/deploy.md).",
    );
  }
  if (backends.blobs.kind === "azure") {
    throw new BackendRefusal(
      `the hub's files are in Azure Blob Storage (--blobs ${formatBlobSpec(backends.blobs)}); modelhub backup copies files under --data. ` +
        "Protect the container with the storage account's own means (soft delete, versioning, object replication; see docs/deploy.md).",
    );
  }
  return {
    openSource: (path) => SqliteBackupSource.open(path),
    readCopy: readMetadataCopy,
    newestSchemaVersion,
    metadataFile: SQLITE_FILE,
  };
}
