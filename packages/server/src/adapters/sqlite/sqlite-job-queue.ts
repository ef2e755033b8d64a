import type { JobRow } from "../sql/job-rows.js";
import type { ClaimJob } from "../sql/sql-job-queue.js";
import { SqlJobQueue } from "../sql/sql-job-queue.js";
import { SqliteSideDatabase } from "./sqlite-side-database.js";

/**
 * SQLite's claim: read the candidate, then take it, in one `BEGIN IMMEDIATE` transaction. The file has one writer at
 * a time, so two claimers (in this process or another) never get the same job. Each arm of the UNION reads index
 * `jobs_ready`; rowid is enqueue order.
 */
const claimJob: ClaimJob = (db, kinds, workerId, now, leaseUntil) =>
  db.transaction(async (tx) => {
    const candidate = await tx.get<{ id: string }>(
      `SELECT rowid AS seq, id FROM jobs WHERE state = 'queued' AND run_after <= ? AND kind IN (SELECT value FROM json_each(?))
       UNION ALL
       SELECT rowid AS seq, id FROM jobs WHERE state = 'running' AND lease_until <= ? AND attempts < max_attempts AND kind IN (SELECT value FROM json_each(?))
       ORDER BY seq LIMIT 1`,
      now,
      kinds,
      now,
      kinds,
    );
    if (!candidate) return undefined;
    return tx.get<JobRow>(
      "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker_id = ?, lease_until = ? WHERE id = ? RETURNING *",
      workerId,
      leaseUntil,
      candidate.id,
    );
  });

/**
 * The job queue on the metadata database file (see {@link SqlJobQueue}), on a connection of its own: its statements
 * are short, but the metadata store's write transaction may be open across awaits, so this connection waits for the
 * write lock asynchronously instead of blocking the event loop, which would stall that very transaction.
 */
export class SqliteJobQueue extends SqlJobQueue {
  /** Opens the queue on the database file at `path` (the metadata store's file, or a file of its own). */
  static open(path: string): SqliteJobQueue {
    return new SqliteJobQueue(new SqliteSideDatabase(path, "job queue"), claimJob);
  }
}
