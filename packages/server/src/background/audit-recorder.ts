import type { AuditEntry, AuditLog } from "../ports/audit-log.js";
import { AuditEntriesRefused } from "../ports/audit-log.js";

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
 * never fails or slows it; one transaction per batch keeps the cost per write tiny. A batch the store cannot write
 * now is kept for the next attempt. A batch it refuses for what an entry holds ({@link AuditEntriesRefused}) is split
 * until the refused entries are alone: those are skipped and counted, the others written — one bad entry never
 * holds back the ones after it.
 */
export class AuditRecorder {
  #pending: AuditEntry[] = [];
  readonly #intervalMs: number;
  readonly #batch: number;
  readonly #max: number;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #dropped = 0;
  #refused = 0;
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

  /** Entries skipped because the store refused what they hold. */
  get refused(): number {
    return this.#refused;
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
    this.#flushing = this.#write(batch)
      .catch((err: unknown) => {
        // Put what was not written back in front (order kept) and try again later.
        const unwritten = err instanceof Unwritten ? err.entries : batch;
        this.#pending = unwritten.concat(this.#pending);
        const cause = err instanceof Unwritten ? err.cause : err;
        this.options.log("error", "audit log: entries could not be written; retrying", {
          entries: unwritten.length,
          err: String(cause),
        });
        if (!this.#closed)
          this.#timer ??= setTimeout(() => void this.flush(), Math.max(this.#intervalMs, 1000)).unref();
      })
      .finally(() => (this.#flushing = undefined));
    await this.#flushing;
  }

  /**
   * Appends `entries`, halving a refused batch until each refused entry is alone (a few bad entries cost a few
   * appends each); throws {@link Unwritten} with the entries not written, in order, when the store fails otherwise.
   */
  async #write(entries: readonly AuditEntry[]): Promise<void> {
    try {
      await this.store.append(entries);
      return;
    } catch (err) {
      if (!(err instanceof AuditEntriesRefused)) throw new Unwritten(entries, err);
      if (entries.length === 1) {
        this.#refused++;
        const { action, method, path, requestId, at } = entries[0]!;
        this.options.log("error", "audit log: the store refused an entry; it is skipped", {
          action,
          method,
          path,
          requestId,
          at,
          refused: this.#refused,
          err: err.message,
        });
        return;
      }
    }
    const half = Math.ceil(entries.length / 2);
    const second = entries.slice(half);
    try {
      await this.#write(entries.slice(0, half));
    } catch (err) {
      if (err instanceof Unwritten) throw new Unwritten([...err.entries, ...second], err.cause);
      throw err;
    }
    await this.#write(second);
  }

  /** Writes what is left; later entries are ignored. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length > 0 || this.#dropped > 0 || this.#refused > 0) {
      this.options.log("warn", "audit log: entries lost", {
        unwritten: this.#pending.length,
        dropped: this.#dropped,
        refused: this.#refused,
      });
    }
  }
}

/** A write that failed for a reason retrying may cure, with the entries it did not write (in order). */
class Unwritten extends Error {
  constructor(
    readonly entries: readonly AuditEntry[],
    override readonly cause: unknown,
  ) {
    super("audit entries not written");
  }
}
