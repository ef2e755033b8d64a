import type { AuditEntry, AuditLog } from "../ports/audit-log.js";

export interface AuditRecorderOptions {
  /** Entries wait at most this long before they are written (default 100 ms). */
  flushIntervalMs?: number;
  /** …or are written at once when this many are waiting (default 100). */
  flushEntries?: number;
  /**
   * Entries kept while the store cannot be written (e.g. the disk is full); past this the oldest are dropped and
   * counted, so a broken store never grows the process's memory without bound (default 100,000).
   */
  maxBuffered?: number;
  log: (level: "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
}

/**
 * Collects audit entries from requests and writes them in batches: a request only pushes onto an array, so recording
 * never fails or slows it; one transaction per batch keeps the cost per write tiny. A failed write keeps the batch
 * for the next attempt.
 */
export class AuditRecorder {
  readonly #pending: AuditEntry[] = [];
  readonly #intervalMs: number;
  readonly #batch: number;
  readonly #max: number;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #dropped = 0;
  #closed = false;

  constructor(
    private readonly store: AuditLog,
    private readonly options: AuditRecorderOptions,
  ) {
    this.#intervalMs = options.flushIntervalMs ?? 100;
    this.#batch = options.flushEntries ?? 100;
    this.#max = options.maxBuffered ?? 100_000;
  }

  /** Entries dropped because the store could not be written for too long. */
  get dropped(): number {
    return this.#dropped;
  }

  record(entry: AuditEntry): void {
    if (this.#closed) return;
    this.#pending.push(entry);
    if (this.#pending.length > this.#max) {
      const excess = this.#pending.length - this.#max;
      this.#pending.splice(0, excess);
      this.#dropped += excess;
    }
    if (this.#pending.length >= this.#batch) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs).unref();
  }

  /** Writes what is waiting (and waits for a write in progress); readers call it so they see every answered write. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#flushing) await this.#flushing;
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0, this.#pending.length);
    this.#flushing = this.store
      .append(batch)
      .catch((err: unknown) => {
        // Put the batch back in front (order kept) and try again later.
        this.#pending.unshift(...batch);
        this.options.log("error", "audit log: entries could not be written; retrying", { entries: batch.length, err: String(err) });
        if (!this.#closed) this.#timer ??= setTimeout(() => void this.flush(), Math.max(this.#intervalMs, 1000)).unref();
      })
      .finally(() => (this.#flushing = undefined));
    await this.#flushing;
  }

  /** Writes what is left; later entries are ignored. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length > 0 || this.#dropped > 0) {
      this.options.log("warn", "audit log: entries lost at shutdown", { unwritten: this.#pending.length, dropped: this.#dropped });
    }
  }
}
