import { randomBytes } from "node:crypto";
import type { EventFeed, EventPublisher, HubEvent, SequencedEvent, Subscription } from "../../ports/event-bus.js";

export interface InProcessEventBusOptions {
  /** Events kept per iModel for clients that reconnect (default 1000). */
  bufferSize?: number;
  /** Subscribers at once in this process (default 1000). */
  maxSubscribers?: number;
  /** iModels whose buffer is kept; the least recently published-to are forgotten beyond it (default 10,000). */
  maxIModels?: number;
  /** The feed's epoch (default: random, one per process); nodes that share sequences share an epoch. */
  epoch?: string;
}

interface Channel {
  seq: number;
  /** The last `bufferSize` events, oldest first. */
  buffer: SequencedEvent[];
  listeners: Set<(event: SequencedEvent) => void>;
}

/**
 * The change feed of one process: sequences, a bounded buffer per iModel and the subscribers, all in memory. With
 * several hub nodes behind one address a subscriber would only see the writes of its own node: the bus then has to
 * move to the shared store (issue 11). A restart starts a new epoch, so reconnecting clients are told to reload.
 */
export class InProcessEventBus implements EventPublisher, EventFeed {
  readonly epoch: string;
  readonly bufferSize: number;
  readonly maxSubscribers: number;
  readonly #maxIModels: number;
  /** Map order is recency of publishing (re-inserted on each publish), so the first entry is the stalest. */
  readonly #channels = new Map<string, Channel>();
  #subscribers = 0;

  constructor(options: InProcessEventBusOptions = {}) {
    this.bufferSize = options.bufferSize ?? 1000;
    this.maxSubscribers = options.maxSubscribers ?? 1000;
    this.#maxIModels = options.maxIModels ?? 10_000;
    this.epoch = options.epoch ?? randomBytes(4).toString("hex");
  }

  publish(iModelId: string, event: HubEvent): void {
    this.deliver(iModelId, { seq: (this.#channels.get(iModelId)?.seq ?? 0) + 1, event });
  }

  /** The iModel's latest seq known here (0: none). */
  tipOf(iModelId: string): number {
    return this.#channels.get(iModelId)?.seq ?? 0;
  }

  /**
   * Buffers and fans out an event sequenced elsewhere (a shared store), e.g. PgEventBus's. A seq not above the
   * iModel's tip is ignored (a duplicate); a jump (events this process never saw) empties the buffer first, so a
   * client asking for the skipped ones gets `behind` instead of a feed with a hole.
   */
  deliver(iModelId: string, sequenced: SequencedEvent): void {
    const channel = this.#channel(iModelId);
    if (sequenced.seq <= channel.seq) return;
    if (sequenced.seq > channel.seq + 1) channel.buffer = [];
    channel.seq = sequenced.seq;
    channel.buffer.push(sequenced);
    if (channel.buffer.length > this.bufferSize) channel.buffer.shift();
    this.#channels.delete(iModelId);
    this.#channels.set(iModelId, channel);
    this.#forgetStale();
    for (const listener of [...channel.listeners]) {
      try {
        listener(sequenced);
      } catch {
        // A subscriber's failure is its own (its connection is closed by the HTTP layer): others still get the event.
      }
    }
  }

  subscriberCount(): number {
    return this.#subscribers;
  }

  subscribe(
    iModelId: string,
    after: { epoch: string; seq: number } | undefined,
    listener: (event: SequencedEvent) => void,
  ): Subscription | undefined {
    if (this.#subscribers >= this.maxSubscribers) return undefined;
    const channel = this.#channel(iModelId);
    let missed: Subscription["missed"] = [];
    if (after) {
      const oldest = channel.buffer[0]?.seq ?? channel.seq + 1;
      if (after.epoch !== this.epoch || after.seq > channel.seq) missed = { reason: "unknownEpoch" };
      else if (after.seq < oldest - 1) missed = { reason: "behind" };
      else missed = channel.buffer.filter((e) => e.seq > after.seq);
    }
    channel.listeners.add(listener);
    this.#subscribers++;
    let open = true;
    return {
      missed,
      tip: channel.seq,
      close: () => {
        if (!open) return;
        open = false;
        channel.listeners.delete(listener);
        this.#subscribers--;
      },
    };
  }

  #channel(iModelId: string): Channel {
    let channel = this.#channels.get(iModelId);
    if (!channel) {
      channel = { seq: 0, buffer: [], listeners: new Set() };
      this.#channels.set(iModelId, channel);
      this.#forgetStale();
    }
    return channel;
  }

  /** Forgets the buffers of the stalest iModels nobody follows (their clients get a reset if they come back). */
  #forgetStale(): void {
    if (this.#channels.size <= this.#maxIModels) return;
    for (const [id, channel] of this.#channels) {
      if (this.#channels.size <= this.#maxIModels) return;
      if (channel.listeners.size === 0) this.#channels.delete(id);
    }
  }
}
