import type { AuditEntry } from "../../ports/audit-log.js";
import { addressBucket } from "../client-address.js";

/** The action of a row that sums up a client's repeated refusals in one window. */
export const REFUSALS_ACTION = "auth.refused";
/** Refusals for want of an identity: these the digest sums up (by their error code, with no user). */
const IDENTITY_REFUSALS = new Set([
  "HeaderNotFound",
  "InvalidAccessToken",
  "AuthenticationFailed",
  "TooManyRequests",
  "ServerBusy",
]);
/** Clients summed up per window; the rest share one row without an address. */
const MAX_CLIENTS = 10_000;
/** Distinct error codes and actions kept per row. */
const MAX_KEYS = 20;

interface Summary {
  /** The first refusal the row stands for (its time, request line, status and request id). */
  first: AuditEntry | undefined;
  count: number;
  lastAt: string;
  errorCodes: Record<string, number>;
  actions: Record<string, number>;
}

/**
 * Sums up refusals of requests without an identity (no or bad token, bad link signature, and the refusals of clients
 * over `--auth-failure-limit`), so that a flood of them adds two audit rows per client and window instead of one per
 * request: the client's first refusal in a window is recorded as it is (at once, with its iModel), the others are
 * counted and written as one `auth.refused` row when the window ends (or the hub stops) — its `at`, request line and
 * request id are the first counted refusal's, `details` has `count`, `until`, and counts per `errorCodes` and
 * `actions`. A client is an address or IPv6 /64.
 */
export class RefusalDigest {
  #window = -1;
  readonly #clients = new Map<string, Summary>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly record: (entry: AuditEntry) => void,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `entry` is a refusal this digest sums up. */
  static covers(entry: AuditEntry): boolean {
    const code = entry.details?.errorCode;
    return entry.userId === null && typeof code === "string" && IDENTITY_REFUSALS.has(code);
  }

  add(entry: AuditEntry): void {
    this.#roll();
    let key = entry.address === null ? "" : addressBucket(entry.address);
    if (!this.#clients.has(key) && this.#clients.size >= MAX_CLIENTS) key = "*";
    const summary = this.#clients.get(key);
    if (!summary) {
      this.#clients.set(key, { first: undefined, count: 0, lastAt: entry.at, errorCodes: {}, actions: {} });
      this.record(entry);
      return;
    }
    summary.first ??= key === "*" ? { ...entry, address: null } : entry;
    summary.count++;
    summary.lastAt = entry.at;
    countIn(summary.errorCodes, String(entry.details?.errorCode));
    countIn(summary.actions, entry.action);
    this.#timer ??= setTimeout(() => this.flush(), this.windowMs - (this.now() % this.windowMs) + 10).unref();
  }

  /** Writes the rows of the window so far and starts a new one. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const summary of this.#clients.values()) {
      const first = summary.first;
      if (!first || summary.count === 0) continue;
      this.record({
        ...first,
        userId: null,
        action: REFUSALS_ACTION,
        iTwinId: null,
        iModelId: null,
        target: null,
        outcome: "refused",
        details: {
          count: summary.count,
          until: summary.lastAt,
          errorCodes: summary.errorCodes,
          actions: summary.actions,
        },
      });
    }
    this.#clients.clear();
  }

  close(): void {
    this.flush();
  }

  #roll(): void {
    const window = Math.floor(this.now() / this.windowMs);
    if (window !== this.#window) {
      this.flush();
      this.#window = window;
    }
  }
}

function countIn(counts: Record<string, number>, key: string): void {
  if (key in counts || Object.keys(counts).length < MAX_KEYS) counts[key] = (counts[key] ?? 0) + 1;
}
