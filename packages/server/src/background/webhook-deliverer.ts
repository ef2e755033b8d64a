import { createHmac, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Callout } from "../ports/callout.js";
import { CalloutRefused } from "../ports/callout.js";
import type { ClaimedDelivery, DeliveryOutcome, WebhookStore } from "../ports/webhook-store.js";
import { MAX_ANSWER_CHARS } from "../ports/webhook-store.js";

export interface WebhookDelivererOptions {
  /** Names this node in leases (default host and pid). */
  nodeId?: string | undefined;
  /** Deliveries in flight at once on this node (default 8). */
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
 * Sends the outbox's deliveries (issue 21), on every node: each worker claims a due delivery with a lease (the store
 * keeps a webhook's deliveries of one iModel in order across nodes), POSTs its envelope through the SSRF-safe
 * callout with its signature, and records the outcome: a 2xx is delivered; another answer or none is retried with
 * exponential backoff for `retryForMs`, then failed; a callback the policy refuses (a private address, also as
 * resolved) fails at once. Pushes never wait for any of this: they only wrote rows. A node killed mid-delivery loses
 * nothing: its lease expires and the delivery is sent again (at least once).
 */
export class WebhookDeliverer {
  readonly #o: Required<{
    [K in Exclude<keyof WebhookDelivererOptions, "log">]: NonNullable<WebhookDelivererOptions[K]>;
  }>;
  readonly #log: NonNullable<WebhookDelivererOptions["log"]>;
  #running = false;
  #workers: Promise<void>[] = [];
  #wakers = new Set<() => void>();
  #nudged = false;
  /** Nudges so far, and the read of the next due time in flight since the last one: workers woken together share
   * it (a read begun before a nudge may miss what the nudge announced: it is not shared after it). */
  #nudges = 0;
  #dueRead: { nudges: number; due: Promise<number | undefined> } | undefined;

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
    for (let i = 0; i < this.#o.concurrency; i++) this.#workers.push(this.#work());
  }

  /** A transaction queued deliveries: look now instead of at the next poll. Returns at once, never throws. */
  nudge(): void {
    this.#nudges++;
    this.#nudged = true;
    for (const wake of this.#wakers) wake();
  }

  /** Stops claiming and waits for the deliveries in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.nudge();
    await Promise.all(this.#workers);
    this.#workers = [];
  }

  /** The wait after attempt `attempts` (1, 2, …): doubling from the first, capped. */
  retryDelayMs(attempts: number): number {
    return Math.min(this.#o.firstRetryDelayMs * 2 ** Math.max(0, attempts - 1), this.#o.maxRetryDelayMs);
  }

  async #work(): Promise<void> {
    // Idle, a worker only reads (when is the next delivery due?) and claims (a write) only when one is: an idle hub
    // takes no write lock for its webhooks. A nudge cuts the sleep short. That read looks at every pending delivery
    // (0.35–0.6 s with 16,000 pending): busy (its last claim got a delivery), a worker claims the next one at once
    // instead, and workers woken together share one read (npm run bench -- webhooks, docs/performance.md).
    let busy = false;
    while (this.#running) {
      if (!busy) {
        this.#nudged = false;
        const due = await this.#nextDueMs().catch((err: unknown) => {
          this.#log("warn", "reading the webhook outbox failed; retrying at the next poll", { err });
          return undefined;
        });
        const now = Date.now();
        if (due === undefined || due > now) {
          await this.#sleep(due === undefined ? this.#o.pollIntervalMs : Math.min(due - now, this.#o.pollIntervalMs));
          continue;
        }
      }
      const owner = `${this.#o.nodeId}/${randomUUID()}`;
      let claimed: ClaimedDelivery | undefined;
      try {
        claimed = await this.store.claim(owner, Date.now(), this.#o.leaseMs);
      } catch (err) {
        this.#log("warn", "claiming a webhook delivery failed; retrying at the next poll", { err });
        busy = false;
        await this.#sleep(this.#o.pollIntervalMs);
        continue;
      }
      busy = claimed !== undefined;
      if (claimed) await this.#deliver(claimed, owner);
      // None claimable (another worker took it, or the rest wait for earlier ones): look again after a read.
      else await this.#sleep(0);
    }
  }

  #nextDueMs(): Promise<number | undefined> {
    if (this.#dueRead?.nudges !== this.#nudges) {
      const read = {
        nudges: this.#nudges,
        due: this.store.nextDueMs().finally(() => {
          if (this.#dueRead === read) this.#dueRead = undefined;
        }),
      };
      this.#dueRead = read;
    }
    return this.#dueRead.due;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
      if (!this.#running || this.#nudged) done();
    });
  }

  async #deliver(d: ClaimedDelivery, owner: string): Promise<void> {
    const outcome = await this.#post(d);
    try {
      const kept = await this.store.finish(d.id, owner, outcome);
      if (!kept)
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
    } catch (err) {
      // The lease expires and the delivery is sent again: at least once.
      this.#log("warn", "recording a webhook delivery's outcome failed; it will be sent again", { err, id: d.id });
    }
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
