import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteJobQueue } from "../../src/adapters/sqlite/sqlite-job-queue.js";
import { jobQueueContract } from "./job-queue.contract.js";

jobQueueContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-jobs-"));
  const queue = SqliteJobQueue.open(join(dir, "metadata.db"));
  return {
    queue,
    cleanup: async () => {
      await queue.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
