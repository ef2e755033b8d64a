import { randomUUID } from "node:crypto";
import type { WebhookEvent } from "../../ports/webhook-store.js";
import type { SqlSession } from "./sql-session.js";

/**
 * The outbox's one writer (issue 21): queues `event` for every active, unexpired webhook whose scope (the Account, or
 * the event's iTwin) and event types match, on `s` — the session of the transaction that makes the change, so the
 * deliveries exist if and only if the change commits. Each row carries the exact body that will be POSTed: the
 * cloud's envelope (`content`, `eventType`, `iTwinId`, `messageId`, `webhookId`, `enqueuedDateTime`).
 * Returns how many deliveries it queued.
 */
export async function queueWebhookEvent(s: SqlSession, event: WebhookEvent, nowMs = Date.now()): Promise<number> {
  const stream = event.iModelId ?? event.iTwinId;
  // Behind a pending delivery of its stream a delivery cannot go before that one's next attempt: queued with it, it
  // stays out of the claim's walk of due deliveries while a dead callback is retried (the claim still checks the
  // order). That one's next attempt is read with the webhooks (one lookup each in the partial index of pending
  // ones); the rows are then plain inserts (an INSERT … SELECT MIN per row cost 10–15% more; one multi-row INSERT
  // was slower still on SQLite, docs/performance.md).
  const hooks = (
    await s.all<{ id: string; event_types: string; due: number | string | null }>(
      `SELECT w.id, w.event_types, (SELECT MIN(d.next_attempt_ms) FROM webhook_deliveries d
          WHERE d.webhook_id = w.id AND d.stream = ? AND d.state = 'pending') AS due
        FROM webhooks w
        WHERE w.active = 1 AND w.expires_ms > ? AND (w.scope = 'Account' OR (w.scope = 'iTwin' AND w.scope_id = ?))`,
      stream,
      nowMs,
      event.iTwinId,
    )
  ).filter((hook) => (JSON.parse(hook.event_types) as string[]).includes(event.eventType));
  if (hooks.length === 0) return 0;
  const enqueuedDateTime = new Date(nowMs).toISOString();
  const rows = hooks.map((hook) => {
    const messageId = randomUUID();
    const envelope = JSON.stringify({
      content: event.content,
      eventType: event.eventType,
      iTwinId: event.iTwinId,
      messageId,
      webhookId: hook.id,
      enqueuedDateTime,
    });
    return [
      messageId,
      hook.id,
      stream,
      event.eventType,
      envelope,
      hook.due === null ? nowMs : Math.max(nowMs, Number(hook.due)),
      nowMs,
    ];
  });
  for (const row of rows)
    await s.run(
      `INSERT INTO webhook_deliveries (id, webhook_id, stream, event_type, envelope, state, attempts, next_attempt_ms,
          enqueued_ms) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
      ...row,
    );
  return rows.length;
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
