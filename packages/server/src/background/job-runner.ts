import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Job, JobQueue } from "../ports/job-queue.js";
import { isProcessAlive } from "../util/process-alive.js";

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
  /**
   * This machine's name among the nodes sharing the queue (default: the host name). Claims are recorded as
   * `<nodeId>/<pid>/<random>`, so a restarted runner takes back at once the jobs of dead processes of its node
   * instead of waiting for their leases to run out.
   */
  nodeId?: string;
  /** Whether a process of this node runs (replaceable in tests). */
  isProcessAlive?: (pid: number) => boolean;
  /**
   * Awaited before each claim: background work waits for a quiet moment of the node's API, so that it does not
   * compete for the cores with the requests a client sends in a row (a push's release of its locks and pull follow
   * its completion, which queues a change summary).
   */
  beforeClaim?: () => Promise<void>;
}

/**
 * Claims jobs from the queue and runs them one at a time, renewing the lease while a job runs. A crash mid-job
 * leaves the lease to expire; the job is then claimed again (here or on another node), or, if that was its last
 * attempt, abandoned like a job that failed its last attempt.
 */
export class JobRunner {
  readonly #nodeId: string;
  readonly #workerId: string;
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly queue: JobQueue,
    private readonly handlers: ReadonlyMap<string, JobHandler>,
    private readonly options: JobRunnerOptions,
  ) {
    this.#nodeId = (options.nodeId ?? hostname()).replaceAll("/", "_");
    this.#workerId = `${this.#nodeId}/${process.pid}/${randomUUID()}`;
  }

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
    await this.#reclaimFromDeadProcesses(kinds).catch((err: unknown) =>
      this.options.log("error", "job reclaim failed", { err: String(err) }),
    );
    while (!this.#stopped) {
      let job: Job | undefined;
      try {
        await this.#abandonLapsed(kinds);
        await this.options.beforeClaim?.();
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

  /** Jobs claimed by processes of this node that no longer run (a crash, a kill -9): claimable again now. */
  async #reclaimFromDeadProcesses(kinds: readonly string[]): Promise<void> {
    const alive = this.options.isProcessAlive ?? isProcessAlive;
    for (const job of await this.queue.listRunning(kinds)) {
      const [node, pid] = job.workerId.split("/");
      if (node !== this.#nodeId || job.workerId === this.#workerId || !/^\d+$/.test(pid ?? "") || alive(Number(pid)))
        continue;
      if (await this.queue.releaseLease(job.id, job.workerId)) {
        this.options.log("info", "job taken back from a process that died", {
          jobId: job.id,
          kind: job.kind,
          previousClaimer: job.workerId,
        });
      }
    }
  }

  /** Jobs whose runner died during their last attempt (a crash, a kill): failed for good, and their owners told. */
  async #abandonLapsed(kinds: readonly string[]): Promise<void> {
    for (const job of await this.queue.expireLapsed(kinds)) {
      const reason = `Gave up after ${job.attempts} attempts: the hub stopped while running it (its lease expired).`;
      this.options.log("error", "job failed", { jobId: job.id, kind: job.kind, attempt: job.attempts, reason });
      await this.handlers
        .get(job.kind)
        ?.abandon?.(job, reason)
        .catch(() => undefined);
    }
  }

  async #execute(job: Job): Promise<void> {
    const handler = this.handlers.get(job.kind)!;
    const heartbeat = setInterval(
      () => {
        void this.queue.heartbeat(job.id, this.#workerId, this.options.leaseMs).catch(() => undefined);
      },
      Math.max(50, Math.floor(this.options.leaseMs / 3)),
    );
    try {
      await handler.run(job);
      await this.queue.complete(job.id, this.#workerId);
      this.options.log("info", "job done", { jobId: job.id, kind: job.kind, attempt: job.attempts });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const last = job.attempts >= job.maxAttempts;
      this.options.log(last ? "error" : "warn", "job failed", {
        jobId: job.id,
        kind: job.kind,
        attempt: job.attempts,
        reason,
      });
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
