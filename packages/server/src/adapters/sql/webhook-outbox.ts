import { randomUUID } from "node:crypto";
import type { FanOutResult, WebhookEvent } from "../../ports/webhook-store.js";
import type { SqlDialect, SqlSession } from "./sql-session.js";

/**
 * The outbox's one writer (issue 21): records `event` on `s` — the session of the transaction that makes the change,
 * so the event exists if and only if the change commits — as ONE `webhook_events` row, with the ids of the webhooks
 * it goes to: every active, unexpired webhook whose scope (the Account, or the event's iTwin) and event types match,
 * as this transaction reads them. Nothing is written when none does. The deliveries (a row per webhook, with the
 * cloud's envelope) are made after the commit by any node's deliverer ({@link fanOutWebhookEvents}): a push with 100
 * webhooks paid 100 inserts (each with 4 index entries) before it could answer. Returns how many webhooks match.
 */
export async function queueWebhookEvent(s: SqlSession, event: WebhookEvent, nowMs = Date.now()): Promise<number> {
  const hooks = (
    await s.all<{ id: string; event_types: string }>(
      `SELECT id, event_types FROM webhooks
        WHERE active = 1 AND expires_ms > ? AND (scope = 'Account' OR (scope = 'iTwin' AND scope_id = ?))`,
      nowMs,
      event.iTwinId,
    )
  ).filter((hook) => (JSON.parse(hook.event_types) as string[]).includes(event.eventType));
  if (hooks.length === 0) return 0;
  await s.run(
    `INSERT INTO webhook_events (stream, itwin_id, event_type, content, webhook_ids, enqueued_ms)
      VALUES (?, ?, ?, ?, ?, ?)`,
    event.iModelId ?? event.iTwinId,
    event.iTwinId,
    event.eventType,
    JSON.stringify(event.content),
    JSON.stringify(hooks.map((hook) => hook.id)),
    nowMs,
  );
  return hooks.length;
}

interface EventRow {
  n: number | string;
  stream: string;
  itwin_id: string;
  event_type: string;
  content: string;
  webhook_ids: string;
  enqueued_ms: number | string;
}

/** Events read per statement of a fan-out. */
const EVENTS_PER_READ = 16;

/**
 * Fans the oldest recorded events out into deliveries, in `tx` (a write transaction that no other fan-out runs beside:
 * SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock; see SqlWebhookStore.fanOut), oldest event first, until at
 * least `maxDeliveries` were made or none is left; each event's row is deleted in `tx`. Each delivery carries the
 * exact body that will be POSTed: the cloud's envelope (`content`, `eventType`, `iTwinId`, `messageId`, `webhookId`,
 * `enqueuedDateTime` = the event's time). An event goes to the webhooks it matched in its change's transaction that
 * still exist (a webhook deleted since gets nothing; one created, activated or extended since gets nothing either).
 */
export async function fanOutWebhookEvents(
  tx: SqlSession,
  dialect: SqlDialect,
  maxDeliveries: number,
): Promise<FanOutResult> {
  const order = dialect.insertionOrder;
  const result: FanOutResult = { events: 0, deliveries: 0, more: false };
  for (;;) {
    const events = await tx.all<EventRow>(
      `SELECT ${order} AS n, stream, itwin_id, event_type, content, webhook_ids, enqueued_ms FROM webhook_events
        ORDER BY ${order} LIMIT ?`,
      EVENTS_PER_READ,
    );
    for (const event of events) {
      if (result.deliveries >= maxDeliveries) return { ...result, more: true };
      result.deliveries += await fanOut(tx, dialect, event);
      result.events++;
      await tx.run(`DELETE FROM webhook_events WHERE ${order} = ?`, Number(event.n));
    }
    if (events.length < EVENTS_PER_READ) return result;
  }
}

async function fanOut(tx: SqlSession, dialect: SqlDialect, event: EventRow): Promise<number> {
  const ids = JSON.parse(event.webhook_ids) as string[];
  const enqueuedMs = Number(event.enqueued_ms);
  // Behind a pending delivery of its stream a delivery cannot go before that one's next attempt: queued with it, it
  // stays out of the claim's walk of due deliveries while a dead callback is retried (the claim still checks the
  // order). That one's next attempt is read with the webhooks (one lookup each in the partial index of pending
  // ones); the rows are then plain inserts (an INSERT … SELECT MIN per row cost 10–15% more; one multi-row INSERT
  // was slower still on SQLite, docs/performance.md).
  const due = new Map(
    (
      await tx.all<{ id: string; due: number | string | null }>(
        `SELECT w.id, (SELECT MIN(d.next_attempt_ms) FROM webhook_deliveries d
            WHERE d.webhook_id = w.id AND d.stream = ? AND d.state = 'pending') AS due
          FROM webhooks w WHERE w.id IN (SELECT value FROM ${dialect.stringList("ids")})`,
        event.stream,
        event.webhook_ids,
      )
    ).map((hook) => [hook.id, hook.due]),
  );
  const enqueuedDateTime = new Date(enqueuedMs).toISOString();
  const content = JSON.parse(event.content) as unknown;
  let made = 0;
  // In the order the change's transaction read the webhooks (their deliveries of one event share a due time).
  for (const webhookId of ids) {
    if (!due.has(webhookId)) continue; // deleted since
    const hookDue = due.get(webhookId);
    const messageId = randomUUID();
    const envelope = JSON.stringify({
      content,
      eventType: event.event_type,
      iTwinId: event.itwin_id,
      messageId,
      webhookId,
      enqueuedDateTime,
    });
    await tx.run(
      `INSERT INTO webhook_deliveries (id, webhook_id, stream, event_type, envelope, state, attempts, next_attempt_ms,
          enqueued_ms) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
      messageId,
      webhookId,
      event.stream,
      event.event_type,
      envelope,
      hookDue === null || hookDue === undefined ? enqueuedMs : Math.max(enqueuedMs, Number(hookDue)),
      enqueuedMs,
    );
    made++;
  }
  return made;
}

/**
 * The cloud's Access Control events (`accessControl.memberAdded.v1`, `…roleAssigned.v1` with the role,
 * `…memberRemoved.v1` without), queued by the access store in the transaction that changes the membership; `by` is
 * the user who changed it. Ordered per iTwin (no iModel).
 */
export async function queueMembershipEvent(
  s: SqlSession,
  eventType: string,
  change: { iTwinId: string; memberId: string; by: string | undefined; roleId?: string },
): Promise<number> {
  const role =
    change.roleId === undefined
      ? undefined
      : await s.get<{ display_name: string }>(
          "SELECT display_name FROM itwin_roles WHERE itwin_id = ? AND id = ?",
          change.iTwinId,
          change.roleId,
        );
  return queueWebhookEvent(s, {
    eventType,
    iTwinId: change.iTwinId,
    content: {
      memberId: change.memberId,
      memberType: "User",
      ...(change.roleId !== undefined ? { roleId: change.roleId, roleName: role?.display_name ?? null } : {}),
      eventCreatedBy: change.by ?? null,
    },
  });
}
