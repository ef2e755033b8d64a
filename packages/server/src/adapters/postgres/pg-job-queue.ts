import { randomUUID } from "node:crypto";
import type { Job, JobCount, JobQueue, NewJob } from "../../ports/job-queue.js";
import type { JobRow } from "../sql/job-rows.js";
import { maxAttemptsOf, toJob } from "../sql/job-rows.js";
import type { PgPool } from "./pg-database.js";
import { PgSide } from "./pg-side.js";

/** enqueue with a dedupe key retries when the twin it collided with ended before it could be read back. */
const DEDUPE_RETRIES = 5;

const INSERT = `INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, dedupe_key, run_after, created_at)
  VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING *`;

/**
 * The oldest ready job of the kinds asked for, or one whose claimer's lease ran out with attempts left, taken in one
 * statement. `FOR UPDATE SKIP LOCKED` makes concurrent claimers (on any node) pass over a row another is taking
 * instead of waiting for it, and PostgreSQL re-checks the WHERE clause on the row it locks, so a job is never handed
 * to two claimers. `seq` is enqueue order.
 */
const CLAIM = `WITH candidate AS (
    SELECT id FROM jobs
      WHERE kind = ANY($1::text[])
        AND ((state = 'queued' AND run_after <= $2) OR (state = 'running' AND lease_until <= $2 AND attempts < max_attempts))
      ORDER BY seq LIMIT 1
      FOR UPDATE SKIP LOCKED)
  UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, worker_id = $3, lease_until = $4
    FROM candidate WHERE jobs.id = candidate.id
    RETURNING jobs.*`;

/**
 * A durable job queue in table `jobs` of the hub's PostgreSQL database, shared by every node: any node may claim any
 * job, and a job whose claimer died is claimed again by another once its lease runs out.
 *
 * Times (`run_after`, `lease_until`) are ms since the epoch on the CALLER's clock, as in the SQLite queue and the
 * metadata store's transactional outbox (which inserts into this table): nodes need synchronized clocks (NTP), and a
 * skew of s ms shortens or lengthens a lease by s.
 */
export class PgJobQueue implements JobQueue {
  readonly #side: PgSide;

  private constructor(pool: PgPool) {
    this.#side = new PgSide(pool, "job queue");
  }

  /** A queue on `pool` (migrated by migratePg). Closing the queue leaves the pool open. */
  static open(pool: PgPool): PgJobQueue {
    return new PgJobQueue(pool);
  }

  async enqueue(job: NewJob): Promise<Job> {
    const maxAttempts = maxAttemptsOf(job);
    const payload = JSON.stringify(job.payload);
    for (let attempt = 0; attempt < DEDUPE_RETRIES; attempt++) {
      const now = new Date();
      const inserted = await this.#side.query<JobRow>(INSERT, [
        randomUUID(),
        job.kind,
        payload,
        maxAttempts,
        job.dedupeKey ?? null,
        now.getTime(),
        now.toISOString(),
      ]);
      if (inserted.rows[0]) return toJob(inserted.rows[0]);
      // Only the partial unique index jobs_dedupe can refuse the row (ids are random): return the live twin.
      const twin = await this.#side.query<JobRow>("SELECT * FROM jobs WHERE dedupe_key = $1 AND state IN ('queued', 'running')", [job.dedupeKey]);
      if (twin.rows[0]) return toJob(twin.rows[0]);
    }
    throw new Error(`Could not enqueue job ${job.kind} with dedupe key ${job.dedupeKey}: its twin kept ending while being read.`);
  }

  async claim(kinds: readonly string[], workerId: string, leaseMs: number): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    const now = Date.now();
    const claimed = await this.#side.query<JobRow>(CLAIM, [kinds, now, workerId, now + leaseMs]);
    return claimed.rows[0] && toJob(claimed.rows[0]);
  }

  async expireLapsed(kinds: readonly string[]): Promise<Job[]> {
    if (kinds.length === 0) return [];
    // The row lock makes a second node's UPDATE re-read state = 'failed' and skip the row: each job is returned once.
    const expired = await this.#side.query<JobRow & { seq: number }>(
      `UPDATE jobs SET state = 'failed', last_error = 'lease expired after ' || attempts || ' attempts', worker_id = NULL, lease_until = NULL
        WHERE state = 'running' AND lease_until <= $1 AND attempts >= max_attempts AND kind = ANY($2::text[])
        RETURNING *`,
      [Date.now(), kinds],
    );
    return expired.rows.sort((a, b) => a.seq - b.seq).map(toJob);
  }

  async heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean> {
    return this.#changedOne("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker_id = $3 AND state = 'running'", [Date.now() + leaseMs, jobId, workerId]);
  }

  async complete(jobId: string, workerId: string): Promise<boolean> {
    return this.#changedOne(
      "UPDATE jobs SET state = 'succeeded', worker_id = NULL, lease_until = NULL WHERE id = $1 AND worker_id = $2 AND state = 'running'",
      [jobId, workerId],
    );
  }

  async fail(jobId: string, workerId: string, reason: string, retryAt?: Date): Promise<boolean> {
    return retryAt === undefined
      ? this.#changedOne(
          "UPDATE jobs SET state = 'failed', last_error = $1, worker_id = NULL, lease_until = NULL WHERE id = $2 AND worker_id = $3 AND state = 'running'",
          [reason, jobId, workerId],
        )
      : this.#changedOne(
          `UPDATE jobs SET state = 'queued', last_error = $1, worker_id = NULL, lease_until = NULL, run_after = $2
            WHERE id = $3 AND worker_id = $4 AND state = 'running'`,
          [reason, retryAt.getTime(), jobId, workerId],
        );
  }

  async get(jobId: string): Promise<Job | undefined> {
    const row = await this.#side.query<JobRow>("SELECT * FROM jobs WHERE id = $1", [jobId]);
    return row.rows[0] && toJob(row.rows[0]);
  }

  async listRunning(kinds: readonly string[]): Promise<{ id: string; kind: string; workerId: string }[]> {
    const rows = await this.#side.query<{ id: string; kind: string; workerId: string }>(
      `SELECT id, kind, worker_id AS "workerId" FROM jobs WHERE state = 'running' AND kind = ANY($1::text[]) ORDER BY seq`,
      [kinds],
    );
    return rows.rows;
  }

  async releaseLease(jobId: string, workerId: string): Promise<boolean> {
    return this.#changedOne(
      "UPDATE jobs SET lease_until = $1, attempts = GREATEST(attempts - 1, 0) WHERE id = $2 AND worker_id = $3 AND state = 'running'",
      [Date.now(), jobId, workerId],
    );
  }

  async countByKindAndState(): Promise<JobCount[]> {
    const rows = await this.#side.query<JobCount>("SELECT kind, state, COUNT(*) AS count FROM jobs GROUP BY kind, state ORDER BY kind, state");
    return rows.rows;
  }

  async close(): Promise<void> {
    this.#side.close();
  }

  async #changedOne(sql: string, params: unknown[]): Promise<boolean> {
    return (await this.#side.query(sql, params)).rowCount === 1;
  }
}
