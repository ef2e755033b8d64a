import { randomUUID } from "node:crypto";
import type {
  ClaimedDelivery,
  DeliveryRecord,
  DeliveryState,
  FanOutResult,
  NewWebhook,
  SettledDelivery,
  WebhookChange,
  WebhookFilter,
  WebhookRecord,
  WebhookScope,
} from "../../ports/webhook-store.js";
import type { WebhookStore } from "../../ports/webhook-store.js";
import type { SideDatabase } from "./side-database.js";
import { fanOutWebhookEvents } from "./webhook-outbox.js";

interface WebhookRow {
  id: string;
  scope: string;
  scope_id: string | null;
  callback_url: string;
  event_types: string;
  secret: string;
  expires_at: string;
  active: number | string | boolean;
  created_by: string;
  created_at: string;
}

interface DeliveryRow {
  id: string;
  webhook_id: string;
  stream: string;
  event_type: string;
  envelope: string;
  state: string;
  attempts: number | string;
  next_attempt_ms: number | string;
  enqueued_ms: number | string;
  last_status: number | string | null;
  last_answer: string | null;
  duration_ms: number | string | null;
  last_attempt_at: string | null;
}

const HOOK_COLUMNS =
  "id, scope, scope_id, callback_url, event_types, secret, expires_at, active, created_by, created_at";
const DELIVERY_COLUMNS =
  "id, webhook_id, stream, event_type, envelope, state, attempts, next_attempt_ms, enqueued_ms, last_status, last_answer, duration_ms, last_attempt_at";

/** The serialization key of fan-outs (see `fanOut`). */
const FAN_OUT_LOCK = "webhook-fan-out";

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toWebhook(row: WebhookRow): WebhookRecord {
  return {
    id: row.id,
    scope: row.scope as WebhookScope,
    scopeId: row.scope_id,
    callbackUrl: row.callback_url,
    eventTypes: JSON.parse(row.event_types) as string[],
    secret: row.secret,
    expirationDateTime: row.expires_at,
    active: Number(row.active) === 1,
    createdBy: row.created_by,
    createdDateTime: row.created_at,
  };
}

function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    stream: row.stream,
    eventType: row.event_type,
    envelope: row.envelope,
    state: row.state as DeliveryState,
    attempts: Number(row.attempts),
    nextAttemptMs: Number(row.next_attempt_ms),
    enqueuedMs: Number(row.enqueued_ms),
    lastStatus: num(row.last_status),
    lastAnswer: row.last_answer,
    durationMs: num(row.duration_ms),
    lastAttemptAt: row.last_attempt_at,
  };
}

export interface WebhookStoreDialect {
  /** Appended to the claim's SELECT: PostgreSQL passes over rows another node is claiming (`FOR UPDATE OF d SKIP
   * LOCKED`); SQLite needs nothing, its claim transaction (BEGIN IMMEDIATE) is the file's only writer. */
  claimLock: string;
}

/**
 * Tables `webhooks`, `webhook_events` and `webhook_deliveries` of the metadata database, for SQLite and PostgreSQL
 * alike (see ports/webhook-store.ts for the contract). The event rows are written by the changes themselves
 * (webhook-outbox.ts); this store fans them out into deliveries, and reads, claims and settles those.
 */
export class SqlWebhookStore implements WebhookStore {
  constructor(
    private readonly db: SideDatabase,
    private readonly lock: WebhookStoreDialect,
  ) {}

  async create(hook: NewWebhook): Promise<WebhookRecord> {
    const row = await this.db.session.get<WebhookRow>(
      `INSERT INTO webhooks (${HOOK_COLUMNS}, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${HOOK_COLUMNS}`,
      randomUUID(),
      hook.scope,
      hook.scopeId,
      hook.callbackUrl,
      JSON.stringify(hook.eventTypes),
      hook.secret,
      hook.expirationDateTime,
      hook.active ? 1 : 0,
      hook.createdBy,
      hook.createdDateTime,
      Date.parse(hook.expirationDateTime),
    );
    return toWebhook(row!);
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const row = await this.db.session.get<WebhookRow>(`SELECT ${HOOK_COLUMNS} FROM webhooks WHERE id = ?`, id);
    return row && toWebhook(row);
  }

  async list(filter: WebhookFilter, page: { limit: number; offset: number }): Promise<WebhookRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.scopeIds !== undefined) {
      const ids = `scope_id IN (SELECT value FROM ${this.db.dialect.stringList("ids")})`;
      where.push(filter.account ? `(scope = 'Account' OR ${ids})` : ids);
      params.push(JSON.stringify(filter.scopeIds));
    }
    const rows = await this.db.session.all<WebhookRow>(
      `SELECT ${HOOK_COLUMNS} FROM webhooks ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY created_at, ${this.db.dialect.insertionOrder} LIMIT ? OFFSET ?`,
      ...params,
      Math.max(0, Math.floor(page.limit)),
      Math.max(0, Math.floor(page.offset)),
    );
    return rows.map(toWebhook);
  }

  async update(id: string, change: WebhookChange): Promise<WebhookRecord | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [];
    const set = (column: string, value: unknown) => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (change.callbackUrl !== undefined) set("callback_url", change.callbackUrl);
    if (change.eventTypes !== undefined) set("event_types", JSON.stringify(change.eventTypes));
    if (change.secret !== undefined) set("secret", change.secret);
    if (change.active !== undefined) set("active", change.active ? 1 : 0);
    if (change.expirationDateTime !== undefined) {
      set("expires_at", change.expirationDateTime);
      set("expires_ms", Date.parse(change.expirationDateTime));
    }
    if (sets.length === 0) return this.get(id);
    const row = await this.db.session.get<WebhookRow>(
      `UPDATE webhooks SET ${sets.join(", ")} WHERE id = ? RETURNING ${HOOK_COLUMNS}`,
      ...params,
      id,
    );
    return row && toWebhook(row);
  }

  async delete(id: string): Promise<boolean> {
    // Not beside a fan-out (PostgreSQL), which would fail to insert a delivery of the webhook it read just before.
    return this.db.transaction(
      async (tx) => {
        await tx.run("DELETE FROM webhook_deliveries WHERE webhook_id = ?", id);
        return (await tx.run("DELETE FROM webhooks WHERE id = ?", id)) > 0;
      },
      { keys: [FAN_OUT_LOCK] },
    );
  }

  async deliveries(webhookId: string, page: { limit: number; offset: number }): Promise<DeliveryRecord[]> {
    const rows = await this.db.session.all<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ?
        ORDER BY ${this.db.dialect.insertionOrder} DESC LIMIT ? OFFSET ?`,
      webhookId,
      Math.max(0, Math.floor(page.limit)),
      Math.max(0, Math.floor(page.offset)),
    );
    return rows.map(toDelivery);
  }

  async getDelivery(webhookId: string, id: string): Promise<DeliveryRecord | undefined> {
    const row = await this.db.session.get<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? AND id = ?`,
      webhookId,
      id,
    );
    return row && toDelivery(row);
  }

  async fanOut(maxDeliveries = 500): Promise<FanOutResult> {
    // Idle, a read: no write lock (on SQLite, the whole file's) for a hub without events.
    if ((await this.db.session.get("SELECT 1 AS x FROM webhook_events LIMIT 1")) === undefined)
      return { events: 0, deliveries: 0, more: false };
    // One fan-out at a time across every node (PostgreSQL: an advisory lock taken first, so the events it reads
    // were not fanned out by another node meanwhile; SQLite: BEGIN IMMEDIATE), so a webhook's deliveries of one
    // stream are inserted in its events' order, which the claim keeps.
    return this.db.transaction((tx) => fanOutWebhookEvents(tx, this.db.dialect, maxDeliveries), {
      keys: [FAN_OUT_LOCK],
    });
  }

  async claimMany(owner: string, nowMs: number, leaseMs: number, max: number): Promise<ClaimedDelivery[]> {
    const order = this.db.dialect.insertionOrder;
    const limit = Math.max(0, Math.floor(max));
    if (limit === 0) return [];
    return this.db.transaction(async (tx) => {
      // Due, not leased, and first of its webhook's stream still pending (N+1 waits for N): at most one per stream.
      const candidates = await tx.column<string>(
        `SELECT d.id FROM webhook_deliveries d
          WHERE d.state = 'pending' AND d.next_attempt_ms <= ? AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= ?)
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id
              AND e.stream = d.stream AND e.state = 'pending' AND e.${order} < d.${order})
          ORDER BY d.next_attempt_ms, d.${order} LIMIT ? ${this.lock.claimLock}`,
        nowMs,
        nowMs,
        limit,
      );
      if (candidates.length === 0) return [];
      const ids = JSON.stringify(candidates);
      const rows = await tx.all<DeliveryRow>(
        `UPDATE webhook_deliveries SET lease_owner = ?, lease_until_ms = ?, attempts = attempts + 1
          WHERE id IN (SELECT value FROM ${this.db.dialect.stringList("ids")}) RETURNING ${DELIVERY_COLUMNS}`,
        owner,
        nowMs + leaseMs,
        ids,
      );
      const hooks = new Map(
        (
          await tx.all<{ id: string; callback_url: string; secret: string }>(
            `SELECT id, callback_url, secret FROM webhooks
              WHERE id IN (SELECT value FROM ${this.db.dialect.stringList("ids")})`,
            JSON.stringify([...new Set(rows.map((r) => r.webhook_id))]),
          )
        ).map((h) => [h.id, h]),
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return candidates.map((id) => {
        const row = byId.get(id)!;
        const hook = hooks.get(row.webhook_id)!;
        return { ...toDelivery(row), callbackUrl: hook.callback_url, secret: hook.secret };
      });
    });
  }

  async finishMany(settled: readonly SettledDelivery[]): Promise<boolean[]> {
    if (settled.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const kept: boolean[] = [];
      for (const { id, owner, outcome } of settled) {
        const row = await tx.get<{ webhook_id: string; stream: string }>(
          `UPDATE webhook_deliveries SET state = ?, next_attempt_ms = ?, last_status = ?, last_answer = ?, duration_ms = ?,
              last_attempt_at = ?, lease_owner = NULL, lease_until_ms = NULL
            WHERE id = ? AND lease_owner = ? RETURNING webhook_id, stream`,
          outcome.state,
          outcome.nextAttemptMs,
          outcome.lastStatus,
          outcome.lastAnswer,
          // A POST's time is fractional (performance.now()); PostgreSQL's BIGINT refuses a fraction, which left every
          // delivery pending and sent again after each lease (webhooks-two-nodes.test.ts found it).
          outcome.durationMs === null ? null : Math.round(outcome.durationMs),
          outcome.at,
          id,
          owner,
        );
        // A retry: the deliveries waiting behind it cannot go before it, so they leave the claim's walk of due rows
        // until then (webhook-outbox.ts queues them so). Only a hint: the claim checks the order itself.
        if (row && outcome.state === "pending")
          await tx.run(
            `UPDATE webhook_deliveries SET next_attempt_ms = ?
              WHERE webhook_id = ? AND stream = ? AND state = 'pending' AND next_attempt_ms < ?`,
            outcome.nextAttemptMs,
            row.webhook_id,
            row.stream,
            outcome.nextAttemptMs,
          );
        kept.push(row !== undefined);
      }
      return kept;
    });
  }

  async redeliver(webhookId: string, id: string, nowMs: number): Promise<DeliveryRecord | undefined> {
    const row = await this.db.session.get<DeliveryRow>(
      `UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?
        WHERE webhook_id = ? AND id = ? RETURNING ${DELIVERY_COLUMNS}`,
      nowMs,
      webhookId,
      id,
    );
    return row && toDelivery(row);
  }

  async nextDueMs(): Promise<number | undefined> {
    const order = this.db.dialect.insertionOrder;
    // Only the first pending delivery of each stream can be due: the others wait for it. Two short walks: the due
    // deliveries not in flight by next attempt until the first that is first of its stream (those waiting behind a
    // retry are queued at its time, so few come before), and the few in flight (a lease), due when it expires. An
    // event not fanned out yet is due at once (its time).
    const first = `NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id
            AND e.stream = d.stream AND e.state = 'pending' AND e.${order} < d.${order})`;
    const row = await this.db.session.get<{ due: number | string | null }>(
      `SELECT MIN(due) AS due FROM (
          SELECT * FROM (SELECT d.next_attempt_ms AS due FROM webhook_deliveries d
            WHERE d.state = 'pending' AND d.lease_until_ms IS NULL AND ${first}
            ORDER BY d.next_attempt_ms LIMIT 1) idle
          UNION ALL
          SELECT CASE WHEN d.lease_until_ms > d.next_attempt_ms THEN d.lease_until_ms ELSE d.next_attempt_ms END
            FROM webhook_deliveries d WHERE d.lease_until_ms IS NOT NULL AND ${first}
          UNION ALL
          SELECT MIN(enqueued_ms) FROM webhook_events) heads`,
    );
    return row?.due === null || row?.due === undefined ? undefined : Number(row.due);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
