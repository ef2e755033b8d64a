/**
 * Webhooks (issue 21, the iTwin Platform's Webhooks API v2 in modelhub) and their outbox.
 *
 * A change records its event in its own transaction (`MetadataTx.queueWebhookEvent`: ONE `webhook_events` row with
 * the webhooks that match it then, see adapters/sql/webhook-outbox.ts); after the commit any node's deliverer
 * (background/webhook-deliverer.ts) fans it out into a delivery per webhook (`fanOut`) and sends them.
 *
 * Contract (test/contract/webhook-store.contract.ts runs it against SQLite and PostgreSQL):
 * - `create` MUST store the webhook with a fresh id; `list` returns webhooks in creation order, filtered by scope.
 *   `update` changes only the fields given; `delete` removes the webhook and every delivery of it.
 * - `fanOut` turns recorded events into deliveries, oldest event first, in one transaction that also deletes the
 *   events' rows, and never beside another fan-out on any node (so a webhook's deliveries of a stream are inserted in
 *   the order of the events). An event goes to the webhooks that matched it in its change's transaction (active,
 *   unexpired, scope and event type) and still exist: one created (or activated) after it gets nothing, one
 *   deactivated after it still gets it. Each delivery's `enqueuedMs` is the event's time.
 * - `claimMany` MUST hand a delivery to one claimer at a time, across every node: a delivery is claimable when it is
 *   `pending`, due (`nextAttemptMs <= now`) and not leased (or its lease expired), and no earlier delivery of the same
 *   webhook and the same stream (an iModel, or an iTwin for events without one) is still `pending` (per-stream order:
 *   N+1 is never sent before N is delivered or failed). It claims up to `max` such deliveries in one go (one
 *   transaction), so no two of them share a stream; a claim sets the lease and counts the attempt.
 * - `finishMany` records attempts' outcomes (in one transaction), each only while its claimer still holds the lease
 *   (`leaseOwner`), and says for each whether it did; a lease that expired and was claimed again by another node
 *   wins.
 * - `redeliver` puts a delivered or failed delivery back to `pending`, due now, at the end of nothing: it keeps its
 *   place in its stream (a redelivered old event may be sent after newer ones that were already delivered).
 */
export interface WebhookStore {
  create(webhook: NewWebhook): Promise<WebhookRecord>;
  get(id: string): Promise<WebhookRecord | undefined>;
  /** Webhooks in creation order; `scopeIds` (when given) keeps Account ones only if `account`, iTwin ones of those ids. */
  list(filter: WebhookFilter, page: { limit: number; offset: number }): Promise<WebhookRecord[]>;
  update(id: string, change: WebhookChange): Promise<WebhookRecord | undefined>;
  delete(id: string): Promise<boolean>;

  /** One webhook's deliveries, newest first. */
  deliveries(webhookId: string, page: { limit: number; offset: number }): Promise<DeliveryRecord[]>;
  getDelivery(webhookId: string, id: string): Promise<DeliveryRecord | undefined>;
  /**
   * Fans recorded events out into deliveries (see the contract), oldest first, until at least `maxDeliveries` were
   * made (default 500: one transaction holds SQLite's write lock, which pushes wait for) or none is left. Reads
   * only, taking no write lock, when there is no event.
   */
  fanOut(maxDeliveries?: number): Promise<FanOutResult>;
  /**
   * Takes up to `max` claimable deliveries (see the contract) for `leaseMs`: by next attempt, then in insertion
   * order.
   */
  claimMany(owner: string, nowMs: number, leaseMs: number, max: number): Promise<ClaimedDelivery[]>;
  /** Records each entry's outcome, in one transaction; per entry, whether its claimer still held the lease. */
  finishMany(settled: readonly SettledDelivery[]): Promise<boolean[]>;
  redeliver(webhookId: string, id: string, nowMs: number): Promise<DeliveryRecord | undefined>;
  /**
   * For the deliverer's sleep: the earliest `nextAttemptMs` (or lease expiry) of a pending delivery, or the time of
   * the oldest event not fanned out yet (due at once).
   */
  nextDueMs(): Promise<number | undefined>;
  close(): Promise<void>;
}

export type WebhookScope = "iTwin" | "Account";

export interface WebhookRecord {
  id: string;
  scope: WebhookScope;
  /** The iTwin's id (scope iTwin); null for the Account (the whole hub). */
  scopeId: string | null;
  callbackUrl: string;
  eventTypes: string[];
  /** The HMAC-SHA256 key of the `Signature` header; shown once, when it was generated. */
  secret: string;
  /** ISO 8601; after it no event is queued for the webhook. */
  expirationDateTime: string;
  active: boolean;
  createdBy: string;
  createdDateTime: string;
}

export type NewWebhook = Omit<WebhookRecord, "id">;

export type WebhookChange = Partial<
  Pick<WebhookRecord, "callbackUrl" | "eventTypes" | "secret" | "expirationDateTime" | "active">
>;

export interface WebhookFilter {
  /** Only these iTwins' webhooks (and the Account ones if `account`); absent: every webhook. */
  scopeIds?: readonly string[];
  account?: boolean;
}

export type DeliveryState = "pending" | "delivered" | "failed";

export interface DeliveryRecord {
  id: string;
  webhookId: string;
  /** The order key: the iModel's id, or the iTwin's for an event without an iModel. */
  stream: string;
  eventType: string;
  /** The exact body POSTed (the cloud's envelope), signed as is. */
  envelope: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptMs: number;
  enqueuedMs: number;
  lastStatus: number | null;
  /** The last answer's body (bounded) or why there was none. */
  lastAnswer: string | null;
  durationMs: number | null;
  lastAttemptAt: string | null;
}

export interface ClaimedDelivery extends DeliveryRecord {
  callbackUrl: string;
  secret: string;
}

export interface SettledDelivery {
  id: string;
  /** The claimer that took it (`leaseOwner`). */
  owner: string;
  outcome: DeliveryOutcome;
}

export interface DeliveryOutcome {
  state: DeliveryState;
  /** When `state` stays pending: the next try. */
  nextAttemptMs: number;
  lastStatus: number | null;
  lastAnswer: string | null;
  /** Any number of milliseconds; kept in whole milliseconds. */
  durationMs: number | null;
  at: string;
}

/** What `fanOut` did: events fanned out, deliveries made, and whether events are left (it stopped at its bound). */
export interface FanOutResult {
  events: number;
  deliveries: number;
  more: boolean;
}

/**
 * What a change hands the outbox (MetadataTx.queueWebhookEvent): one event row, fanned out after the commit into a
 * delivery per webhook that matched it (active, unexpired, scope and event type).
 */
export interface WebhookEvent {
  /** The cloud's event type name, e.g. `iModels.changesetPushed.v1`. */
  eventType: string;
  iTwinId: string;
  /** The order key's iModel; absent for iTwin-level events (then the iTwin orders them). */
  iModelId?: string;
  content: Record<string, unknown>;
}

/** The longest answer body kept in the delivery log. */
export const MAX_ANSWER_CHARS = 2048;
