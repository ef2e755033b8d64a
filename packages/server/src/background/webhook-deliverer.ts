import { createHmac, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Callout } from "../ports/callout.js";
import { CalloutRefused } from "../ports/callout.js";
import type { ClaimedDelivery, DeliveryOutcome, WebhookStore } from "../ports/webhook-store.js";
import { MAX_ANSWER_CHARS } from "../ports/webhook-store.js";

export interface WebhookDelivererOptions {
  /** Names this node in leases (default host and pid). */
  nodeId?: string | undefined;
  /** Deliveries in flight at once on this node (default 8: 4 and 16 were slower, docs/performance.md). */
  concurrency?: number;
  /** How often an idle node looks for due deliveries queued elsewhere (default 1 s). */
  pollIntervalMs?: number;
  /** One POST's whole time (default 10 s, at most half the lease). */
  timeoutMs?: number;
  /**
   * How long a claim is this node's: after it another node (or this one, restarted) sends it again (default 60 s;
   * `modelhub serve` uses `--job-lease`).
   */
  leaseMs?: number;
  /** The first retry's wait, doubled per attempt up to `maxRetryDelayMs` (defaults 5 s and 1 h). */
  firstRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How long a delivery is retried before it is marked failed (default 24 h). */
  retryForMs?: number;
  log?: (level: "info" | "warn", message: string, fields?: Record<string, unknown>) => void;
}

/** The `Signature` header's value: `sha256=` and the hex HMAC-SHA256 of the raw body with the webhook's secret. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/**
 * Sends the outbox's deliveries (issue 21), on every node: it fans the events that changes recorded out into
 * deliveries (a loop of its own, after their commit), claims due deliveries with a lease, several at once (the store
 * keeps a webhook's deliveries of one iModel in order across nodes), POSTs each envelope through the SSRF-safe
 * callout with its signature, and records the outcomes in batches: a 2xx is delivered; another answer or none is
 * retried with exponential backoff for `retryForMs`, then failed; a callback the policy refuses (a private address,
 * also as resolved) fails at once. Pushes never wait for any of this: they only wrote one event row. A node killed
 * before its fan-out or mid-delivery loses nothing: another node fans the event out at its next poll; a lease
 * expires and the delivery is sent again (at least once).
 */
export class WebhookDeliverer {
  readonly #o: Required<{
    [K in Exclude<keyof WebhookDelivererOptions, "log">]: NonNullable<WebhookDelivererOptions[K]>;
  }>;
  readonly #log: NonNullable<WebhookDelivererOptions["log"]>;
  #running = false;
  #loop: Promise<void> | undefined;
  /** The POSTs in flight (each frees its slot when answered). */
  readonly #inFlight = new Set<Promise<void>>();
  /** Answered deliveries whose outcome is not recorded yet, and the recording in progress. */
  #unsettled: { d: ClaimedDelivery; owner: string; outcome: DeliveryOutcome }[] = [];
  #settling: Promise<void> | undefined;
  /** Wakes the claim loop: something changed since it last looked (deliveries made, a slot freed, outcomes recorded). */
  readonly #claimWake = new Wake();
  /** The fan-out loop, and its wake-up (a change committed an event). */
  #fanOutLoop: Promise<void> | undefined;
  readonly #fanOutWake = new Wake();

  constructor(
    private readonly store: WebhookStore,
    private readonly callout: Callout,
    options: WebhookDelivererOptions = {},
  ) {
    const leaseMs = options.leaseMs ?? 60_000;
    this.#o = {
      nodeId: options.nodeId ?? `${hostname()}:${process.pid}`,
      concurrency: options.concurrency ?? 8,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      timeoutMs: options.timeoutMs ?? Math.min(10_000, Math.floor(leaseMs / 2)),
      leaseMs,
      firstRetryDelayMs: options.firstRetryDelayMs ?? 5_000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 3_600_000,
      retryForMs: options.retryForMs ?? 86_400_000,
    };
    this.#log = options.log ?? (() => undefined);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#fanOutLoop = this.#fanOutWork();
    this.#loop = this.#work();
  }

  /**
   * A transaction recorded an event (or a delivery was made due): fan out and claim now instead of at the next
   * poll. Returns at once, never throws.
   */
  nudge(): void {
    // The fan-out first; it wakes the claim loop when done (a claim before it would be a write transaction for
    // nothing).
    this.#fanOutWake.signal();
  }

  /** Stops fanning out and claiming and waits for the deliveries in flight and the recording of their outcomes. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#fanOutWake.signal();
    this.#signal();
    await Promise.all([this.#loop, this.#fanOutLoop]);
    this.#loop = undefined;
    this.#fanOutLoop = undefined;
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    while (this.#settling) await this.#settling;
  }

  /** The wait after attempt `attempts` (1, 2, …): doubling from the first, capped. */
  retryDelayMs(attempts: number): number {
    return Math.min(this.#o.firstRetryDelayMs * 2 ** Math.max(0, attempts - 1), this.#o.maxRetryDelayMs);
  }

  /**
   * One loop per node fans the events that changes recorded out into deliveries (the store runs one fan-out at a
   * time across nodes), when nudged (a change committed on this node) and at each poll (events of other nodes, or of
   * a node killed before it fanned them out), apart from the claim loop: slots full of slow callbacks do not hold it
   * up. An idle poll is a read.
   */
  async #fanOutWork(): Promise<void> {
    while (this.#running) {
      // Woken by a commit's afterCommit, let the change's answer go out first: the fan-out's statements (SQLite's run
      // on the event loop) are not the change's to pay.
      await new Promise((resolve) => setImmediate(resolve));
      const nudged = this.#fanOutWake.signaled;
      this.#fanOutWake.signaled = false;
      let more = false;
      try {
        const made = await this.store.fanOut();
        // Nudged, the claim loop looks too (after the fan-out, so that its claim finds the deliveries).
        if (made.deliveries > 0 || nudged) this.#signal();
        more = made.more;
      } catch (err) {
        this.#log("warn", "fanning webhook events out into deliveries failed; retrying at the next poll", { err });
      }
      // A backlog goes on in bounded transactions (the event loop serves others between them, above).
      if (!more) await this.#fanOutWake.sleep(this.#o.pollIntervalMs, this.#running);
    }
  }

  /**
   * One loop per node claims deliveries in batches (one transaction for as many as there are free slots) and starts
   * their POSTs; outcomes are recorded in batches too (#settle). Each was a transaction per delivery, which with a
   * new TCP connection per POST made the hub CPU-bound below 1,000 deliveries/s (docs/performance.md).
   */
  async #work(): Promise<void> {
    // Idle, the loop only reads (when is the next delivery due?) and claims (a write) only when one is: an idle hub
    // takes no write lock for its webhooks. A signal cuts the sleep short. Busy (its last claim got deliveries), it
    // claims again as soon as a slot is free, without that read.
    let busy = false;
    while (this.#running) {
      this.#claimWake.signaled = false;
      const free = this.#o.concurrency - this.#inFlight.size;
      if (free <= 0) {
        await this.#sleep(this.#o.pollIntervalMs); // until a slot frees
        continue;
      }
      if (!busy) {
        const due = await this.store.nextDueMs().catch((err: unknown) => {
          this.#log("warn", "reading the webhook outbox failed; retrying at the next poll", { err });
          return undefined;
        });
        const now = Date.now();
        if (due === undefined || due > now) {
          await this.#sleep(due === undefined ? this.#o.pollIntervalMs : Math.min(due - now, this.#o.pollIntervalMs));
          continue;
        }
      }
      // Answers that arrive together free their slots together: one claim for all of them.
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.#running) break;
      const owner = `${this.#o.nodeId}/${randomUUID()}`;
      let claimed: ClaimedDelivery[];
      try {
        claimed = await this.store.claimMany(
          owner,
          Date.now(),
          this.#o.leaseMs,
          this.#o.concurrency - this.#inFlight.size,
        );
      } catch (err) {
        this.#log("warn", "claiming webhook deliveries failed; retrying at the next poll", { err });
        busy = false;
        await this.#sleep(this.#o.pollIntervalMs);
        continue;
      }
      for (const d of claimed) {
        const posting: Promise<void> = this.#post(d).then((outcome) => {
          this.#inFlight.delete(posting);
          this.#settle(d, owner, outcome);
          this.#signal();
        });
        this.#inFlight.add(posting);
      }
      if (claimed.length > 0) busy = true;
      // None claimable (the rest wait for earlier ones of their streams, or were taken elsewhere): a read, or a
      // signal (an outcome recorded lets the next of its stream go).
      else if (busy) busy = false;
      else await this.#sleep(this.#o.pollIntervalMs);
    }
  }

  /** Queues an outcome; they are recorded in batches, one at a time: those that come during one are the next. */
  #settle(d: ClaimedDelivery, owner: string, outcome: DeliveryOutcome): void {
    this.#unsettled.push({ d, owner, outcome });
    if (this.#settling) return;
    this.#settling = (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      while (this.#unsettled.length > 0) {
        const batch = this.#unsettled;
        this.#unsettled = [];
        await this.#record(batch);
        // The next of each delivered stream may go now.
        this.#signal();
      }
      this.#settling = undefined;
    })();
  }

  async #record(batch: { d: ClaimedDelivery; owner: string; outcome: DeliveryOutcome }[]): Promise<void> {
    let kept: boolean[];
    try {
      kept = await this.store.finishMany(batch.map(({ d, owner, outcome }) => ({ id: d.id, owner, outcome })));
    } catch (err) {
      // The leases expire and the deliveries are sent again: at least once.
      this.#log("warn", "recording webhook deliveries' outcomes failed; they will be sent again", {
        err,
        ids: batch.map(({ d }) => d.id),
      });
      return;
    }
    batch.forEach(({ d, outcome }, i) => {
      if (!kept[i])
        this.#log("info", "a webhook delivery's lease expired before its answer; another claimer sends it", {
          id: d.id,
        });
      else if (outcome.state === "failed")
        this.#log("warn", `webhook delivery failed for good: ${outcome.lastAnswer ?? outcome.lastStatus}`, {
          webhookId: d.webhookId,
          deliveryId: d.id,
          eventType: d.eventType,
          attempts: d.attempts,
        });
    });
  }

  #signal(): void {
    this.#claimWake.signal();
  }

  #sleep(ms: number): Promise<void> {
    return this.#claimWake.sleep(ms, this.#running);
  }

  async #post(d: ClaimedDelivery): Promise<DeliveryOutcome> {
    const at = new Date();
    const retry = (lastStatus: number | null, lastAnswer: string, durationMs: number | null): DeliveryOutcome => {
      const waited = Array.from({ length: d.attempts }, (_, i) => this.retryDelayMs(i + 1)).reduce((a, b) => a + b, 0);
      const giveUp = waited > this.#o.retryForMs;
      return {
        state: giveUp ? "failed" : "pending",
        nextAttemptMs: Date.now() + (giveUp ? 0 : this.retryDelayMs(d.attempts)),
        lastStatus,
        lastAnswer: lastAnswer.slice(0, MAX_ANSWER_CHARS),
        durationMs,
        at: at.toISOString(),
      };
    };
    try {
      const answer = await this.callout.post({
        url: d.callbackUrl,
        headers: {
          "content-type": "application/json",
          signature: webhookSignature(d.secret, d.envelope),
          "user-agent": "modelhub-webhooks",
        },
        body: d.envelope,
        timeoutMs: this.#o.timeoutMs,
        maxResponseBytes: MAX_ANSWER_CHARS,
      });
      if (answer.status >= 200 && answer.status < 300)
        return {
          state: "delivered",
          nextAttemptMs: Date.now(),
          lastStatus: answer.status,
          lastAnswer: answer.body.slice(0, MAX_ANSWER_CHARS),
          durationMs: answer.durationMs,
          at: at.toISOString(),
        };
      return retry(answer.status, answer.body, answer.durationMs);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof CalloutRefused)
        return {
          state: "failed",
          nextAttemptMs: Date.now(),
          lastStatus: null,
          lastAnswer: `refused: ${message}`.slice(0, MAX_ANSWER_CHARS),
          durationMs: null,
          at: at.toISOString(),
        };
      return retry(null, `no answer: ${message}`, Date.now() - at.getTime());
    }
  }
}

/** A loop's sleep that a signal cuts short; a signal while the loop was awake makes its next sleep return at once. */
class Wake {
  signaled = false;
  readonly #wakers = new Set<() => void>();

  signal(): void {
    this.signaled = true;
    for (const wake of this.#wakers) wake();
  }

  sleep(ms: number, running: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
      if (!running || this.signaled) done();
    });
  }
}
