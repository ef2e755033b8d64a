import type { WebhookEventType } from "@modelhub/protocol";
import type { JobWakeup } from "../../ports/job-wakeup.js";
import type { MetadataTx } from "../../ports/metadata-store.js";

/**
 * The one seam through which a change queues its webhook event (issue 21): in the change's own transaction (the
 * outbox: one event row, which exists if and only if the change commits), and a nudge to this node's deliverer once
 * it committed, to fan it out into deliveries (other nodes, and this one after a crash, find it by polling). `iTwinId` is read from the iModel when not given. Content
 * fields are the cloud's (`imodelId`, `changesetId`, `changesetIndex` as a string, `userId`, …).
 */
export async function queueWebhook(
  tx: MetadataTx,
  wake: JobWakeup,
  event: { eventType: WebhookEventType; iModelId: string; iTwinId?: string; content: Record<string, unknown> },
): Promise<void> {
  const iTwinId = event.iTwinId ?? (await tx.getIModel(event.iModelId))?.iTwinId;
  if (iTwinId === undefined) return;
  const queued = await tx.queueWebhookEvent({
    eventType: event.eventType,
    iTwinId,
    iModelId: event.iModelId,
    content: { imodelId: event.iModelId, ...event.content },
  });
  if (queued > 0 && wake.webhookQueued) tx.afterCommit(() => wake.webhookQueued!());
}
