import { randomUUID } from "node:crypto";
import type { Statement } from "better-sqlite3";
import type { Job, JobCount, JobQueue, NewJob } from "../../ports/job-queue.js";
import type { JobRow } from "../sql/job-rows.js";
import { maxAttemptsOf, toJob } from "../sql/job-rows.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { SideConnection } from "./sqlite-database.js";


/**
 * A durable job queue in table `jobs` of the metadata database file (created by the same migrations), so the
 * hub's state and its pending work are backed up and restored together.
 *
 * Why its own connection: its operations are short synchronous statements that never wait on a promise, so they
 * need no queue of their own — but the metadata store's write transaction may be open across awaits. This
 * connection therefore waits for the write lock asynchronously (busy timeout 0 plus {@link withBusyRetry})
 * instead of blocking the event loop, which would stall that very transaction. Each change is one
 * `BEGIN IMMEDIATE` transaction, so two claimers — in this process or another — never get the same job.
 */
export class SqliteJobQueue implements JobQueue {
  readonly #connection: SideConnection;
  readonly #db: SqliteDatabase;
  readonly #select: Statement;
  readonly #findDedupe: Statement;
  readonly #insert: Statement;
  readonly #expire: Statement;
  readonly #candidate: Statement;
  readonly #take: Statement;
  readonly #heartbeat: Statement;
  readonly #complete: Statement;
  readonly #failForGood: Statement;
  readonly #requeue: Statement;
  readonly #counts: Statement;
  readonly #runningOf: Statement;
  readonly #releaseLease: Statement;

  private constructor(path: string) {
    this.#connection = new SideConnection(path, "job queue");
    this.#db = this.#connection.db;
    const db = this.#db;
    this.#select = db.prepare("SELECT * FROM jobs WHERE id = ?");
    this.#findDedupe = db.prepare("SELECT * FROM jobs WHERE dedupe_key = ? AND state IN ('queued', 'running')");
    this.#insert = db.prepare(
      `INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, dedupe_key, run_after, created_at)
        VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?) RETURNING *`,
    );
    // A lease that ran out on the last allowed attempt ends the job (expireLapsed) instead of handing it out again.
    this.#expire = db.prepare(
      `UPDATE jobs SET state = 'failed', last_error = 'lease expired after ' || attempts || ' attempts', worker_id = NULL, lease_until = NULL
        WHERE state = 'running' AND lease_until <= @now AND attempts >= max_attempts AND kind IN (SELECT value FROM json_each(@kinds))
        RETURNING *`,
    );
    // The oldest (first enqueued) job that is ready, or whose claimer's lease ran out. Each arm reads index jobs_ready.
    this.#candidate = db.prepare(
      `SELECT rowid AS seq, id FROM jobs WHERE state = 'queued' AND run_after <= @now AND kind IN (SELECT value FROM json_each(@kinds))
       UNION ALL
       SELECT rowid AS seq, id FROM jobs WHERE state = 'running' AND lease_until <= @now AND attempts < max_attempts AND kind IN (SELECT value FROM json_each(@kinds))
       ORDER BY seq LIMIT 1`,
    );
    this.#take = db.prepare(
      "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker_id = ?, lease_until = ? WHERE id = ? RETURNING *",
    );
    this.#heartbeat = db.prepare("UPDATE jobs SET lease_until = ? WHERE id = ? AND worker_id = ? AND state = 'running'");
    this.#complete = db.prepare(
      "UPDATE jobs SET state = 'succeeded', worker_id = NULL, lease_until = NULL WHERE id = ? AND worker_id = ? AND state = 'running'",
    );
    this.#failForGood = db.prepare(
      "UPDATE jobs SET state = 'failed', last_error = ?, worker_id = NULL, lease_until = NULL WHERE id = ? AND worker_id = ? AND state = 'running'",
    );
    this.#requeue = db.prepare(
      `UPDATE jobs SET state = 'queued', last_error = ?, worker_id = NULL, lease_until = NULL, run_after = ?
        WHERE id = ? AND worker_id = ? AND state = 'running'`,
    );
    this.#runningOf = db.prepare(
      "SELECT id, kind, worker_id AS workerId FROM jobs WHERE state = 'running' AND kind IN (SELECT value FROM json_each(?)) ORDER BY rowid",
    );
    this.#releaseLease = db.prepare(
      "UPDATE jobs SET lease_until = ?, attempts = MAX(attempts - 1, 0) WHERE id = ? AND worker_id = ? AND state = 'running'",
    );
    this.#counts = db.prepare("SELECT kind, state, COUNT(*) AS count FROM jobs GROUP BY kind, state ORDER BY kind, state");
  }

  /** Opens the queue on the database file at `path` (the metadata store's file, or a file of its own). */
  static open(path: string): SqliteJobQueue {
    return new SqliteJobQueue(path);
  }

  async enqueue(job: NewJob): Promise<Job> {
    const maxAttempts = maxAttemptsOf(job);
    const payload = JSON.stringify(job.payload);
    return this.#write(() => {
      if (job.dedupeKey !== undefined) {
        const existing = this.#findDedupe.get(job.dedupeKey) as JobRow | undefined;
        if (existing) return toJob(existing);
      }
      const now = new Date();
      return toJob(this.#insert.get(randomUUID(), job.kind, payload, maxAttempts, job.dedupeKey ?? null, now.getTime(), now.toISOString()) as JobRow);
    });
  }

  async claim(kinds: readonly string[], workerId: string, leaseMs: number): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    const kindList = JSON.stringify(kinds);
    return this.#write(() => {
      const now = Date.now();
      const candidate = this.#candidate.get({ now, kinds: kindList }) as { id: string } | undefined;
      if (!candidate) return undefined;
      return toJob(this.#take.get(workerId, now + leaseMs, candidate.id) as JobRow);
    });
  }

  async expireLapsed(kinds: readonly string[]): Promise<Job[]> {
    if (kinds.length === 0) return [];
    const kindList = JSON.stringify(kinds);
    return this.#write(() => (this.#expire.all({ now: Date.now(), kinds: kindList }) as JobRow[]).map(toJob));
  }

  async heartbeat(jobId: string, workerId: string, leaseMs: number): Promise<boolean> {
    return this.#write(() => this.#heartbeat.run(Date.now() + leaseMs, jobId, workerId).changes === 1);
  }

  async complete(jobId: string, workerId: string): Promise<boolean> {
    return this.#write(() => this.#complete.run(jobId, workerId).changes === 1);
  }

  async fail(jobId: string, workerId: string, reason: string, retryAt?: Date): Promise<boolean> {
    return this.#write(() =>
      retryAt === undefined
        ? this.#failForGood.run(reason, jobId, workerId).changes === 1
        : this.#requeue.run(reason, retryAt.getTime(), jobId, workerId).changes === 1,
    );
  }

  async get(jobId: string): Promise<Job | undefined> {
    this.#assertOpen();
    const row = this.#select.get(jobId) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  async countByKindAndState(): Promise<JobCount[]> {
    this.#assertOpen();
    return this.#counts.all() as JobCount[];
  }

  async listRunning(kinds: readonly string[]): Promise<{ id: string; kind: string; workerId: string }[]> {
    this.#assertOpen();
    return this.#runningOf.all(JSON.stringify(kinds)) as { id: string; kind: string; workerId: string }[];
  }

  async releaseLease(jobId: string, workerId: string): Promise<boolean> {
    return this.#write(() => this.#releaseLease.run(Date.now(), jobId, workerId).changes === 1);
  }

  async close(): Promise<void> {
    this.#connection.close();
  }

  async #write<T>(step: () => T): Promise<T> {
    return this.#connection.write(step);
  }

  #assertOpen(): void {
    this.#connection.assertOpen();
  }
}
