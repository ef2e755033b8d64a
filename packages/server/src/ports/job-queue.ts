/**
 * Background work (baseline initialization today, checkpoints next). Jobs survive a crash: a claimed job whose
 * lease runs out is handed out again.
 *
 * Contract (test/contract/job-queue.contract.ts):
 * - `enqueue` with a `dedupeKey` that names a job still queued or running MUST return that job, not add another.
 * - `claim` MUST hand a job to one claimer at a time; a job whose lease expired MAY be claimed again
 *   (its `attempts` counts every claim).
 * - `complete`/`fail` by a claimer whose lease was taken over MUST be ignored (return false).
 */
export interface JobQueue {
  enqueue(job: NewJob): Promise<Job>;
  /**
   * The oldest ready job of these kinds, or one whose claimer's lease ran out (a crashed runner) while it still has
   * attempts left. A job whose lease ran out on its last attempt is not handed out: see `expireLapsed`.
   */
  claim(kinds: readonly string[], workerId: string, leaseMs: number): Promise<Job | undefined>;
  /**
   * Ends as failed the jobs of these kinds whose lease ran out on their last allowed attempt, and returns them, so
   * that whoever runs that kind of job can record the failure where users see it (e.g. the iModel's state).
   */
  expireLapsed(kinds: readonly string[]): Promise<Job[]>;
  /** Extends the lease of a running job. Returns false if the worker no longer owns it. */
  heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean>;
  complete(jobId: string, workerId: string): Promise<boolean>;
  /** Ends a job as failed for good (`retryAt` undefined) or puts it back to be retried at `retryAt`. */
  fail(jobId: string, workerId: string, reason: string, retryAt?: Date): Promise<boolean>;
  get(jobId: string): Promise<Job | undefined>;
}

export type JobState = "queued" | "running" | "succeeded" | "failed";

export interface NewJob {
  kind: string;
  payload: Record<string, unknown>;
  dedupeKey?: string;
  maxAttempts?: number;
}

export interface Job {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  dedupeKey: string | null;
  createdAt: string;
}
