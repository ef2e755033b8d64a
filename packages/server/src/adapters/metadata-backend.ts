// What opening a metadata backend gives: every store of the metadata database, opened together. Its own module so
// that the registry (which chooses the backend) and each backend's opener (pg-backend.ts) do not import each other.
import type { EventFeed, EventPublisher } from "../ports/event-bus.js";
import type { AccessStore } from "../ports/access-store.js";
import type { ChangeSummaryStore } from "../ports/change-summary-store.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { IdentityStore } from "../ports/identity-store.js";
import type { GateStore } from "../ports/gate-store.js";
import type { WebhookStore } from "../ports/webhook-store.js";
import type { JobQueue } from "../ports/job-queue.js";
import type { MetadataStore } from "../ports/metadata-store.js";

/** Every store that lives in the metadata database, opened together on one backend. */
export interface MetadataBackend {
  readonly store: MetadataStore;
  readonly jobs: JobQueue;
  readonly auditLog: AuditLog;
  readonly identities: IdentityStore;
  readonly access: AccessStore;
  /** Element-level change summaries (issue 20). */
  readonly changes: ChangeSummaryStore;
  /** The iTwins' gates (issue 21). */
  readonly gates: GateStore;
  /** Webhooks and their outbox of deliveries (issue 21). */
  readonly webhooks: WebhookStore;
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

/** The stores of one backend; the job queue port has no `close`, its adapters do. */
export type MetadataStores = Pick<MetadataBackend, "store" | "auditLog" | "identities" | "access"> & {
  readonly jobs: JobQueue & { close(): Promise<void> };
};

/** Closes the stores one after another, the metadata store last: the side stores share its database (file or pool). */
export async function closeStores(stores: MetadataStores): Promise<void> {
  await stores.jobs.close();
  await stores.auditLog.close();
  await stores.identities.close();
  await stores.access.close();
  await stores.store.close();
}
