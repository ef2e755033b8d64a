import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { openPgPool } from "../../src/adapters/postgres/pg-database.js";
import { PgJobQueue } from "../../src/adapters/postgres/pg-job-queue.js";
import { SqliteJobQueue } from "../../src/adapters/sqlite/sqlite-job-queue.js";
import { reusablePgSchema } from "../support/pg-schema.js";
import { jobQueueContract } from "./job-queue.contract.js";

jobQueueContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-jobs-"));
  const path = join(dir, "metadata.db");
  const queue = SqliteJobQueue.open(path);
  const handles = [queue];
  return {
    queue,
    second: async () => {
      const other = SqliteJobQueue.open(path);
      handles.push(other);
      return other;
    },
    cleanup: async () => {
      for (const handle of handles) await handle.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const pgSchema = reusablePgSchema("jobs");
after(() => pgSchema.drop());

jobQueueContract("postgres", async () => {
  const pool = await pgSchema.fresh();
  const queue = PgJobQueue.open(pool);
  // The second handle has a pool of its own: another node on the same database.
  const pools = [pool];
  return {
    queue,
    second: async () => {
      const otherPool = openPgPool(pgSchema.url(), { max: 4 });
      pools.push(otherPool);
      return PgJobQueue.open(otherPool);
    },
    cleanup: async () => {
      await queue.close();
      await Promise.all(pools.map((p) => p.end()));
    },
  };
});
