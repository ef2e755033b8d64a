import { randomUUID } from "node:crypto";
import type { Job, JobCount, JobQueue, NewJob } from "../../ports/job-queue.js";
import type { JobRow } from "./job-rows.js";
import { maxAttemptsOf, toJob } from "./job-rows.js";
import type { SideDatabase } from "./side-database.js";

/** enqueue with a dedupe key retries when the twin it collided with ended before it could be read back. */
const DEDUPE_RETRIES = 5;

/**
 * Takes the oldest ready job of `kinds` (JSON array, one parameter), or one whose claimer's lease ran out with
 * attempts left, for `workerId` until `leaseUntil`: the one statement the backends spell differently (SQLite's
 * single writer makes a read then an update safe; PostgreSQL needs `FOR UPDATE SKIP LOCKED`).
 */
export type ClaimJob = (
  db: SideDatabase,
  kinds: string,
  workerId: string,
  now: number,
  leaseUntil: number,
) => Promise<JobRow | undefined>;

/**
 * A durable job queue in table `jobs` of the metadata database, for SQLite and PostgreSQL alike, so the hub's state
 * and its pending work are backed up and restored together; on PostgreSQL any node may claim any job.
 *
 * Times (`run_after`, `lease_until`) are ms since the epoch on the CALLER's clock, as in the metadata store's
 * transactional outbox (which inserts into this table): nodes sharing a database need synchronized clocks (NTP).
 */
export class SqlJobQueue implements JobQueue {
  constructor(
    private readonly db: SideDatabase,
    private readonly claimJob: ClaimJob,
  ) {}

  async enqueue(job: NewJob): Promise<Job> {
    const maxAttempts = maxAttemptsOf(job);
    const payload = JSON.stringify(job.payload);
    for (let attempt = 0; attempt < DEDUPE_RETRIES; attempt++) {
      const now = new Date();
      const inserted = await this.db.session.get<JobRow>(
        `INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, dedupe_key, run_after, created_at)
          VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *`,
        randomUUID(),
        job.kind,
        payload,
        maxAttempts,
        job.dedupeKey ?? null,
        now.getTime(),
        now.toISOString(),
      );
      if (inserted) return toJob(inserted);
      // Only the partial unique index jobs_dedupe can refuse the row (ids are random): return the live twin.
      const twin = await this.db.session.get<JobRow>(
        "SELECT * FROM jobs WHERE dedupe_key = ? AND state IN ('queued', 'running')",
        job.dedupeKey,
      );
      if (twin) return toJob(twin);
    }
    throw new Error(
      `Could not enqueue job ${job.kind} with dedupe key ${job.dedupeKey}: its twin kept ending while being read.`,
    );
  }

  async claim(kinds: readonly string[], workerId: string, leaseMs: number): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    const now = Date.now();
    const row = await this.claimJob(this.db, JSON.stringify(kinds), workerId, now, now + leaseMs);
    return row && toJob(row);
  }

  async expireLapsed(kinds: readonly string[]): Promise<Job[]> {
    if (kinds.length === 0) return [];
    // One statement: a second claimer's UPDATE finds state = 'failed' and skips the row, so each job is returned once.
    const expired = await this.db.session.all<JobRow & { enqueued: number }>(
      `UPDATE jobs SET state = 'failed', last_error = 'lease expired after ' || attempts || ' attempts', worker_id = NULL, lease_until = NULL
        WHERE state = 'running' AND lease_until <= ? AND attempts >= max_attempts AND kind IN (SELECT value FROM ${this.db.dialect.stringList("k")})
        RETURNING *, ${this.db.dialect.insertionOrder} AS enqueued`,
      Date.now(),
      JSON.stringify(kinds),
    );
    return expired.sort((a, b) => a.enqueued - b.enqueued).map(toJob);
  }

  async heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean> {
    return this.#changedOne(
      "UPDATE jobs SET lease_until = ? WHERE id = ? AND worker_id = ? AND state = 'running'",
      Date.now() + leaseMs,
      jobId,
      workerId,
    );
  }

  async complete(jobId: string, workerId: string): Promise<boolean> {
    return this.#changedOne(
      "UPDATE jobs SET state = 'succeeded', worker_id = NULL, lease_until = NULL WHERE id = ? AND worker_id = ? AND state = 'running'",
      jobId,
      workerId,
    );
  }

  async fail(jobId: string, workerId: string, reason: string, retryAt?: Date): Promise<boolean> {
    return retryAt === undefined
      ? this.#changedOne(
          "UPDATE jobs SET state = 'failed', last_error = ?, worker_id = NULL, lease_until = NULL WHERE id = ? AND worker_id = ? AND state = 'running'",
          reason,
          jobId,
          workerId,
        )
      : this.#changedOne(
          `UPDATE jobs SET state = 'queued', last_error = ?, worker_id = NULL, lease_until = NULL, run_after = ?
            WHERE id = ? AND worker_id = ? AND state = 'running'`,
          reason,
          retryAt.getTime(),
          jobId,
          workerId,
        );
  }

  async get(jobId: string): Promise<Job | undefined> {
    const row = await this.db.session.get<JobRow>("SELECT * FROM jobs WHERE id = ?", jobId);
    return row && toJob(row);
  }

  async listRunning(kinds: readonly string[]): Promise<{ id: string; kind: string; workerId: string }[]> {
    return this.db.session.all<{ id: string; kind: string; workerId: string }>(
      `SELECT id, kind, worker_id AS "workerId" FROM jobs WHERE state = 'running' AND kind IN (SELECT value FROM ${this.db.dialect.stringList("k")})
        ORDER BY ${this.db.dialect.insertionOrder}`,
      JSON.stringify(kinds),
    );
  }

  async releaseLease(jobId: string, workerId: string): Promise<boolean> {
    return this.#changedOne(
      "UPDATE jobs SET lease_until = ?, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = ? AND worker_id = ? AND state = 'running'",
      Date.now(),
      jobId,
      workerId,
    );
  }

  async countByKindAndState(): Promise<JobCount[]> {
    return this.db.session.all<JobCount>(
      "SELECT kind, state, COUNT(*) AS count FROM jobs GROUP BY kind, state ORDER BY kind, state",
    );
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async #changedOne(sql: string, ...params: unknown[]): Promise<boolean> {
    return (await this.db.session.run(sql, ...params)) === 1;
  }
}
