import type { Job, NewJob } from "../../ports/job-queue.js";

/** A row of table `jobs` as both databases return it (`SELECT *`, `RETURNING *`). */
export interface JobRow {
  id: string;
  kind: string;
  payload: string;
  state: Job["state"];
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  dedupe_key: string | null;
  created_at: string;
}

const DEFAULT_MAX_ATTEMPTS = 3;

/** The attempts a new job may take: its own or the default; throws RangeError for anything but a positive integer. */
export function maxAttemptsOf(job: NewJob): number {
  const maxAttempts = job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}.`);
  return maxAttempts;
}

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    kind: row.kind,
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    state: row.state,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    lastError: row.last_error,
    dedupeKey: row.dedupe_key,
    createdAt: row.created_at,
  };
}
