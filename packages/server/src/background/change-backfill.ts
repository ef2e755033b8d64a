import { changeSummaryJob } from "../domain/changes/change-summary-job.js";
import type { ChangeSummaryStore } from "../ports/change-summary-store.js";
import type { JobQueue } from "../ports/job-queue.js";

export interface ChangeBackfillOptions {
  /** How often to look for changesets without a summary (default 5 minutes). */
  intervalMs?: number;
  log: (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
  /** Told after jobs were queued (this node's runner picks them up at once). */
  onQueued?: () => void;
  /** Also run at each sweep: e.g. removing this node's cached briefcases of deleted iModels. */
  alsoOnSweep?: () => Promise<unknown>;
}

/** iModels looked at per sweep; the next sweep takes the rest. */
const PER_SWEEP = 500;

/**
 * Summarizes history that has no summary yet: changesets pushed before this modelhub made summaries, copies whose
 * summary job was lost, jobs that gave up. At start and then every `intervalMs`, queues the summary job of each iModel
 * with such changesets (one per iModel and newest index: the queue's dedupe key makes a second node's sweep a no-op).
 */
export class ChangeBackfill {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly summaries: ChangeSummaryStore,
    private readonly jobs: JobQueue,
    private readonly options: ChangeBackfillOptions,
  ) {}

  start(): void {
    if (this.#stopped || this.#timer) return;
    void this.sweep();
    this.#timer = setInterval(() => void this.sweep(), this.options.intervalMs ?? 5 * 60_000);
    this.#timer.unref();
  }

  /** Queues the jobs; returns how many iModels needed one. */
  async sweep(): Promise<number> {
    if (this.#running) return 0;
    let queued = 0;
    this.#running = (async () => {
      try {
        for (const { iModelId, lastIndex } of await this.summaries.iModelsLackingSummaries(PER_SWEEP)) {
          if (this.#stopped) return;
          await this.jobs.enqueue(changeSummaryJob(iModelId, lastIndex));
          queued++;
        }
        await this.options.alsoOnSweep?.();
        if (queued > 0) {
          this.options.log("info", "change summaries queued for history without them", { iModels: queued });
          this.options.onQueued?.();
        }
      } catch (err) {
        this.options.log("warn", "change summary backfill failed; the next sweep tries again", { err: String(err) });
      }
    })();
    await this.#running;
    this.#running = undefined;
    return queued;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }
}
