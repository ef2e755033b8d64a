/**
 * Webhooks (issue 21): the event types a modelhub webhook may subscribe to, and the shapes of the API. The iTwin
 * Platform's Webhooks API v2 has the first four iModels events and the Access Control ones, with these names and
 * (modelhub sends exactly these) `content` fields (docs/events.md "Event types"):
 * - `iModels.iModelCreated.v1`, `iModels.iModelDeleted.v1`: `imodelId`, `userId`;
 * - `iModels.namedVersionCreated.v1`: `imodelId`, `versionId`, `changesetId`, `changesetIndex`, `userId`;
 * - `iModels.changesReady.v1`: `imodelId`, `changesetId`, `changesetIndex` (a changeset's change summary is stored).
 * {@link MODELHUB_EVENT_TYPES} are modelhub extensions: the cloud's v2 has no such event (Webhooks API v1 had them).
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

/** Event types modelhub sends that the cloud's Webhooks API v2 does not have (documented as extensions). */
export const MODELHUB_EVENT_TYPES: readonly WebhookEventType[] = [
  "iModels.changesetPushed.v1",
  "iModels.changesetGroupCompleted.v1",
];

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
