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
  /** Running jobs of these kinds with the claimer that holds each, e.g. to find those of a claimer that died. */
  listRunning(kinds: readonly string[]): Promise<{ id: string; kind: string; workerId: string }[]>;
  /**
   * Ends the lease at once, if `workerId` still holds it: for a claimer known to be dead (its process is gone),
   * instead of waiting for the lease to run out. The attempt it was on is not counted — the job did not fail, the
   * process running it was killed — so a job interrupted by hub restarts is not given up for that.
   */
  releaseLease(jobId: string, workerId: string): Promise<boolean>;
  /** How many jobs there are of each kind in each state (only pairs with at least one job), e.g. for metrics. */
  countByKindAndState(): Promise<JobCount[]>;
}

export interface JobCount {
  kind: string;
  state: JobState;
  count: number;
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
