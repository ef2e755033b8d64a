/**
 * Webhooks (issue 21): the event types a modelhub webhook may subscribe to, named as the iTwin Platform's Webhooks
 * API v2 names them ("available events" of the iModels and Access Control APIs), and the shapes of the API.
 */
export const WEBHOOK_EVENT_TYPES = [
  "iModels.iModelCreated.v1",
  "iModels.iModelDeleted.v1",
  "iModels.changesetPushed.v1",
  "iModels.namedVersionCreated.v1",
  "iModels.changesetGroupCompleted.v1",
  "iModels.changesReady.v1",
  "accessControl.memberAdded.v1",
  "accessControl.memberRemoved.v1",
  "accessControl.roleAssigned.v1",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A webhook as the API shows it (the secret only in the answer to its creation). */
export interface Webhook {
  id: string;
  scope: "iTwin" | "Account";
  scopeId?: string;
  callbackUrl: string;
  eventTypes: string[];
  expirationDateTime: string;
  active: boolean;
  createdBy: string;
  createdDateTime: string;
  secret?: string;
}

/** One entry of a webhook's delivery log (a modelhub extension). */
export interface WebhookDelivery {
  id: string;
  eventType: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  enqueuedDateTime: string;
  nextAttemptDateTime: string | null;
  lastAttemptDateTime: string | null;
  lastStatus: number | null;
  lastAnswer: string | null;
  durationMs: number | null;
  /** The exact body POSTed (parsed). */
  envelope: Record<string, unknown>;
}

/** The envelope every delivery POSTs (the cloud's, field for field); signed as sent. */
export interface WebhookEnvelope {
  content: Record<string, unknown>;
  eventType: string;
  iTwinId: string;
  messageId: string;
  webhookId: string;
  enqueuedDateTime: string;
}
