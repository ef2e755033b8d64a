import { randomUUID } from "node:crypto";
import type { Job, JobQueue, NewJob } from "../../ports/job-queue.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { openSqliteDatabase } from "./sqlite-database.js";

interface JobRow {
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

/**
 * A durable job queue in the metadata database file (its own connection, table `jobs`). Claims are single
 * `BEGIN IMMEDIATE` transactions, so two runners never get the same job; a lease that runs out makes the job
 * claimable again.
 */
export class SqliteJobQueue implements JobQueue {
  private constructor(private readonly db: SqliteDatabase) {}

  static open(path: string): SqliteJobQueue {
    return new SqliteJobQueue(openSqliteDatabase(path));
  }

  async enqueue(job: NewJob): Promise<Job> {
    return this.db.transaction(() => {
      if (job.dedupeKey !== undefined) {
        const existing = this.db
          .prepare("SELECT * FROM jobs WHERE dedupe_key = ? AND state IN ('queued', 'running')")
          .get(job.dedupeKey) as JobRow | undefined;
        if (existing) return toJob(existing);
      }
      const id = randomUUID();
      this.db
        .prepare(
          "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, dedupe_key, run_after, created_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)",
        )
        .run(id, job.kind, JSON.stringify(job.payload), job.maxAttempts ?? 3, job.dedupeKey ?? null, Date.now(), new Date().toISOString());
      return toJob(this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(id) as JobRow);
    }).immediate();
  }

  async claim(kinds: readonly string[], workerId: string, leaseMs: number): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    const now = Date.now();
    return this.db.transaction(() => {
      // Jobs whose lease lapsed after their last allowed attempt are given up, not claimed again.
      this.db
        .prepare(
          "UPDATE jobs SET state = 'failed', last_error = 'lease expired after ' || attempts || ' attempts', worker_id = NULL, lease_until = NULL WHERE state = 'running' AND lease_until < ? AND attempts >= max_attempts",
        )
        .run(now);
      const row = this.db
        .prepare(
          `SELECT * FROM jobs WHERE kind IN (SELECT value FROM json_each(?))
             AND ((state = 'queued' AND run_after <= ?) OR (state = 'running' AND lease_until < ?))
           ORDER BY run_after, created_at LIMIT 1`,
        )
        .get(JSON.stringify(kinds), now, now) as JobRow | undefined;
      if (!row) return undefined;
      this.db
        .prepare("UPDATE jobs SET state = 'running', attempts = attempts + 1, worker_id = ?, lease_until = ? WHERE id = ?")
        .run(workerId, now + leaseMs, row.id);
      return toJob(this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(row.id) as JobRow);
    }).immediate();
  }

  async heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean> {
    return (
      this.db.prepare("UPDATE jobs SET lease_until = ? WHERE id = ? AND worker_id = ? AND state = 'running'").run(Date.now() + leaseMs, jobId, workerId)
        .changes === 1
    );
  }

  async complete(jobId: string, workerId: string): Promise<boolean> {
    return (
      this.db
        .prepare("UPDATE jobs SET state = 'succeeded', worker_id = NULL, lease_until = NULL WHERE id = ? AND worker_id = ? AND state = 'running'")
        .run(jobId, workerId).changes === 1
    );
  }

  async fail(jobId: string, workerId: string, reason: string, retryAt?: Date): Promise<boolean> {
    const sql =
      retryAt === undefined
        ? "UPDATE jobs SET state = 'failed', last_error = ?, worker_id = NULL, lease_until = NULL WHERE id = ? AND worker_id = ? AND state = 'running'"
        : "UPDATE jobs SET state = 'queued', last_error = ?, worker_id = NULL, lease_until = NULL, run_after = ? WHERE id = ? AND worker_id = ? AND state = 'running'";
    const params = retryAt === undefined ? [reason, jobId, workerId] : [reason, retryAt.getTime(), jobId, workerId];
    return this.db.prepare(sql).run(...params).changes === 1;
  }

  async get(jobId: string): Promise<Job | undefined> {
    const row = this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(jobId) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function toJob(row: JobRow): Job {
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
