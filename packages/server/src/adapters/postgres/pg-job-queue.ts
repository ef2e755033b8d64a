import type { JobRow } from "../sql/job-rows.js";
import type { ClaimJob } from "../sql/sql-job-queue.js";
import { SqlJobQueue } from "../sql/sql-job-queue.js";
import type { PgPool } from "./pg-database.js";
import { PgSideDatabase } from "./pg-side-database.js";

/**
 * PostgreSQL's claim, in one statement. `FOR UPDATE SKIP LOCKED` makes concurrent claimers (on any node) pass over a
 * row another is taking instead of waiting for it, and PostgreSQL re-checks the WHERE clause on the row it locks, so
 * a job is never handed to two claimers. `seq` is enqueue order.
 */
const claimJob: ClaimJob = (db, kinds, workerId, now, leaseUntil) =>
  db.session.get<JobRow>(
    `WITH candidate AS (
        SELECT id FROM jobs
          WHERE kind IN (SELECT value FROM json_array_elements_text(CAST(? AS json)) AS k(value))
            AND ((state = 'queued' AND run_after <= ?) OR (state = 'running' AND lease_until <= ? AND attempts < max_attempts))
          ORDER BY seq LIMIT 1
          FOR UPDATE SKIP LOCKED)
      UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, worker_id = ?, lease_until = ?
        FROM candidate WHERE jobs.id = candidate.id
        RETURNING jobs.*`,
    kinds,
    now,
    now,
    workerId,
    leaseUntil,
  );

/** The job queue in the hub's PostgreSQL database, shared by every node (see {@link SqlJobQueue}). */
export class PgJobQueue extends SqlJobQueue {
  /** A queue on `pool` (migrated by migratePg). Closing the queue leaves the pool open. */
  static open(pool: PgPool): PgJobQueue {
    return new PgJobQueue(new PgSideDatabase(pool, "job queue"), claimJob);
  }
}
