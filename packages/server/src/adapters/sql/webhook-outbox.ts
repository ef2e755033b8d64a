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
  const hooks = await s.all<{ id: string; event_types: string }>(
    `SELECT id, event_types FROM webhooks
      WHERE active = 1 AND expires_ms > ? AND (scope = 'Account' OR (scope = 'iTwin' AND scope_id = ?))`,
    nowMs,
    event.iTwinId,
  );
  const enqueuedDateTime = new Date(nowMs).toISOString();
  let queued = 0;
  for (const hook of hooks) {
    if (!(JSON.parse(hook.event_types) as string[]).includes(event.eventType)) continue;
    const messageId = randomUUID();
    const envelope = JSON.stringify({
      content: event.content,
      eventType: event.eventType,
      iTwinId: event.iTwinId,
      messageId,
      webhookId: hook.id,
      enqueuedDateTime,
    });
    // Behind a pending delivery of its stream it cannot go before that one's next attempt: queued with it, it stays
    // out of the claim's walk of due deliveries while a dead callback is retried (the claim still checks the order).
    const stream = event.iModelId ?? event.iTwinId;
    await s.run(
      `INSERT INTO webhook_deliveries (id, webhook_id, stream, event_type, envelope, state, attempts, next_attempt_ms,
          enqueued_ms)
        SELECT ?, ?, ?, ?, ?, 'pending', 0, CASE WHEN MIN(next_attempt_ms) > ? THEN MIN(next_attempt_ms) ELSE ? END, ?
          FROM webhook_deliveries WHERE webhook_id = ? AND stream = ? AND state = 'pending'`,
      messageId,
      hook.id,
      stream,
      event.eventType,
      envelope,
      nowMs,
      nowMs,
      nowMs,
      hook.id,
      stream,
    );
    queued++;
  }
  return queued;
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
