import type { IModelEvent } from "@modelhub/protocol";

/**
 * The change feed's port: domain services publish what happened to an iModel (`GET /imodels/{id}/events`), the HTTP
 * feed subscribes. Adapters: adapters/events/in-process-event-bus.ts (one process, SQLite) and
 * adapters/postgres/pg-event-bus.ts (every node, through the database).
 *
 * An event is what a client receives, minus `reset` (which only the feed itself sends to a subscriber that fell
 * behind): the protocol's type is the one definition, so server and clients cannot drift apart. Services publish
 * through `MetadataTx.afterCommit`, so a subscriber never sees something that was rolled back. Payloads are small on
 * purpose: a lock request of 10,000 ids is told as counts, the details are in the API.
 */
export type HubEvent = Exclude<IModelEvent, { type: "reset" }>;

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
export type FeedReset = Extract<IModelEvent, { type: "reset" }>["data"];

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
  subscribe(
    iModelId: string,
    after: { epoch: string; seq: number } | undefined,
    listener: (event: SequencedEvent) => void,
  ): Subscription | undefined;
}

/** For services built without a feed (tools, tests of one service). */
export const noEvents: EventPublisher = { publish: () => undefined };
