/**
 * What happened to an iModel, told to whoever follows its change feed (`GET /imodels/{id}/events`). Published by
 * the domain services after their transaction committed, so a subscriber never sees something that was rolled back.
 * Payloads are small on purpose: a lock request of 10,000 ids is told as counts, the details are in the API.
 */
export type HubEvent =
  | {
      type: "changeset";
      data: { index: number; id: string; briefcaseId: number; creatorId: string; description: string | null; pushDateTime: string };
    }
  | { type: "namedVersion"; data: { id: string; name: string; changesetIndex: number } }
  | { type: "locks"; data: { briefcaseId: number; acquired: number; released: number } }
  | { type: "checkpoint"; data: { changesetIndex: number; state: "scheduled" | "successful" | "failed" } }
  | { type: "briefcase"; data: { briefcaseId: number; action: "acquired" | "released"; ownerId: string } }
  /** A changeset's element-level summary was stored ("changes ready", issue 20). */
  | { type: "changes"; data: { changesetIndex: number; changesetId: string; inserted: number; updated: number; deleted: number; schemaChanged: boolean } };

export type HubEventType = HubEvent["type"];

/** The port domain services publish to. Never throws and never waits: publishing must not fail a committed write. */
export interface EventPublisher {
  publish(iModelId: string, event: HubEvent): void;
}

/** An event as a subscriber receives it: `seq` orders the events of one iModel (1, 2, …) within one feed epoch. */
export interface SequencedEvent {
  seq: number;
  event: HubEvent;
}

/** Delivered to a subscriber instead of events it can no longer get: it should reload what it shows. */
export interface FeedReset {
  reason: "behind" | "unknownEpoch";
}

export interface Subscription {
  /** Events missed since `Last-Event-ID`, or a reset when they are no longer in the buffer. */
  readonly missed: readonly SequencedEvent[] | FeedReset;
  /** The seq of the iModel's latest event when subscribing (0: none yet). */
  readonly tip: number;
  /** Removes the subscriber (idempotent). */
  close(): void;
}

/** The reading side of the bus, used by the HTTP feed. */
export interface EventFeed {
  /** Identifies this feed's sequences (a process start): ids of another epoch are unknown here. */
  readonly epoch: string;
  /** Subscribers at once; `subscribe` refuses more. */
  readonly maxSubscribers: number;
  /** Events kept per iModel for reconnecting clients. */
  readonly bufferSize: number;
  subscriberCount(): number;
  /**
   * Follows one iModel. `after`: the last event the client saw (epoch and seq), if it reconnects. Returns
   * undefined when `maxSubscribers` are already subscribed.
   */
  subscribe(iModelId: string, after: { epoch: string; seq: number } | undefined, listener: (event: SequencedEvent) => void): Subscription | undefined;
}

/** For services built without a feed (tools, tests of one service). */
export const noEvents: EventPublisher = { publish: () => undefined };
