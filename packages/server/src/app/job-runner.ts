import { randomUUID } from "node:crypto";
import type { Job, JobQueue } from "../ports/job-queue.js";

export interface JobHandler {
  run(job: Job): Promise<void>;
  /** Called when a job failed its last attempt. */
  abandon?(job: Job, reason: string): Promise<void>;
}

export interface JobRunnerOptions {
  pollIntervalMs: number;
  leaseMs: number;
  /** Delay before retrying a failed attempt. */
  retryDelayMs: number;
  log: (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
}

/**
 * Claims jobs from the queue and runs them one at a time, renewing the lease while a job runs. A crash mid-job
 * leaves the lease to expire; the job is then claimed again (here or on another node), or, if that was its last
 * attempt, abandoned like a job that failed its last attempt.
 */
export class JobRunner {
  readonly #workerId = `runner-${randomUUID()}`;
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly queue: JobQueue,
    private readonly handlers: ReadonlyMap<string, JobHandler>,
    private readonly options: JobRunnerOptions,
  ) {}

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Looks for work now instead of at the next poll. */
  nudge(): void {
    this.#wake?.();
  }

  /** Stops claiming; resolves when the job in progress (if any) has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.nudge();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const kinds = [...this.handlers.keys()];
    while (!this.#stopped) {
      let job: Job | undefined;
      try {
        await this.#abandonLapsed(kinds);
        job = await this.queue.claim(kinds, this.#workerId, this.options.leaseMs);
      } catch (err) {
        this.options.log("error", "job claim failed", { err: String(err) });
      }
      if (job) {
        await this.#execute(job);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollIntervalMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Jobs whose runner died during their last attempt (a crash, a kill): failed for good, and their owners told. */
  async #abandonLapsed(kinds: readonly string[]): Promise<void> {
    for (const job of await this.queue.expireLapsed(kinds)) {
      const reason = `Gave up after ${job.attempts} attempts: the hub stopped while running it (its lease expired).`;
      this.options.log("error", "job failed", { jobId: job.id, kind: job.kind, attempt: job.attempts, reason });
      await this.handlers.get(job.kind)?.abandon?.(job, reason).catch(() => undefined);
    }
  }

  async #execute(job: Job): Promise<void> {
    const handler = this.handlers.get(job.kind)!;
    const heartbeat = setInterval(() => {
      void this.queue.heartbeat(job.id, this.#workerId, this.options.leaseMs).catch(() => undefined);
    }, Math.max(50, Math.floor(this.options.leaseMs / 3)));
    try {
      await handler.run(job);
      await this.queue.complete(job.id, this.#workerId);
      this.options.log("info", "job done", { jobId: job.id, kind: job.kind, attempt: job.attempts });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const last = job.attempts >= job.maxAttempts;
      this.options.log(last ? "error" : "warn", "job failed", { jobId: job.id, kind: job.kind, attempt: job.attempts, reason });
      if (last) {
        await handler.abandon?.(job, `Gave up after ${job.attempts} attempts: ${reason}`).catch(() => undefined);
        await this.queue.fail(job.id, this.#workerId, reason);
      } else {
        await this.queue.fail(job.id, this.#workerId, reason, new Date(Date.now() + this.options.retryDelayMs));
      }
    } finally {
      clearInterval(heartbeat);
    }
  }
}
