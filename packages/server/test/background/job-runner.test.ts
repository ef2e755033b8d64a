import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SqliteJobQueue } from "../../src/adapters/sqlite/sqlite-job-queue.js";
import type { JobHandler } from "../../src/background/job-runner.js";
import { JobRunner } from "../../src/background/job-runner.js";
import type { Job } from "../../src/ports/job-queue.js";
import { eventually } from "../support/hub.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("JobRunner over the SQLite job queue", () => {
  let dir: string;
  let queue: SqliteJobQueue;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-runner-"));
    queue = SqliteJobQueue.open(join(dir, "metadata.db"));
  });
  after(async () => {
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  });

  function recordingHandler(outcome: (job: Job) => Promise<void>) {
    const runs: string[] = [];
    const abandoned: { id: string; reason: string }[] = [];
    const handler: JobHandler = {
      async run(job) {
        runs.push(job.id);
        await outcome(job);
      },
      async abandon(job, reason) {
        abandoned.push({ id: job.id, reason });
      },
    };
    return { handler, runs, abandoned };
  }

  const runnerFor = (kind: string, handler: JobHandler) =>
    new JobRunner(queue, new Map([[kind, handler]]), {
      pollIntervalMs: 20,
      leaseMs: 1000,
      retryDelayMs: 10,
      log: () => undefined,
    });

  it("a job whose runner died during its last attempt is abandoned (its owner is told), not run again", async () => {
    const job = await queue.enqueue({ kind: "lapsing", payload: {}, maxAttempts: 1 });
    // A runner that claims it and dies: nobody heartbeats or completes it.
    assert.equal((await queue.claim(["lapsing"], "dead-runner", 30))?.id, job.id);
    await sleep(60);
    const { handler, runs, abandoned } = recordingHandler(async () => undefined);
    const runner = runnerFor("lapsing", handler);
    runner.start();
    try {
      await eventually(async () => (abandoned.length > 0 ? true : undefined), 5000, "abandon of the lapsed job");
    } finally {
      await runner.stop();
    }
    assert.deepEqual(runs, []);
    assert.equal(abandoned.length, 1);
    assert.equal(abandoned[0]!.id, job.id);
    assert.match(abandoned[0]!.reason, /Gave up after 1 attempts: the hub stopped while running it/);
    assert.equal((await queue.get(job.id))?.state, "failed");
  });

  it("a job with attempts left whose runner died is run again; one that keeps failing is abandoned once", async () => {
    const lapsed = await queue.enqueue({ kind: "retry", payload: {}, maxAttempts: 2 });
    await queue.claim(["retry"], "dead-runner", 30);
    await sleep(60);
    const failing = recordingHandler(async () => {
      throw new Error("worker broke");
    });
    const runner = runnerFor("retry", failing.handler);
    runner.start();
    try {
      await eventually(
        async () => (failing.abandoned.length > 0 ? true : undefined),
        5000,
        "abandon after the last attempt",
      );
    } finally {
      await runner.stop();
    }
    assert.deepEqual(failing.runs, [lapsed.id], "attempt 2 ran here");
    assert.deepEqual(failing.abandoned, [{ id: lapsed.id, reason: "Gave up after 2 attempts: worker broke" }]);
    assert.equal((await queue.get(lapsed.id))?.state, "failed");
  });

  it("takes back at once the jobs of dead processes of its own node, not those of live processes or other nodes", async () => {
    const lease = 10 * 60_000; // far longer than the test: only an explicit release can free these
    const dead = await queue.enqueue({ kind: "reclaim", payload: { n: 1 } });
    await queue.claim(["reclaim"], "node-a/999999/old", lease);
    const live = await queue.enqueue({ kind: "reclaim", payload: { n: 2 } });
    await queue.claim(["reclaim"], `node-a/${process.pid}/busy`, lease);
    const elsewhere = await queue.enqueue({ kind: "reclaim", payload: { n: 3 } });
    await queue.claim(["reclaim"], "node-b/999999/old", lease);
    const { handler, runs } = recordingHandler(async () => undefined);
    const runner = new JobRunner(queue, new Map([["reclaim", handler]]), {
      pollIntervalMs: 20,
      leaseMs: 1000,
      retryDelayMs: 10,
      log: () => undefined,
      nodeId: "node-a",
      isProcessAlive: (pid) => pid === process.pid,
    });
    runner.start();
    try {
      await eventually(async () => (runs.length > 0 ? true : undefined), 5000, "the dead process's job to run");
      await sleep(200);
    } finally {
      await runner.stop();
    }
    assert.deepEqual(runs, [dead.id]);
    assert.equal((await queue.get(dead.id))?.state, "succeeded");
    assert.equal((await queue.get(live.id))?.state, "running");
    assert.equal((await queue.get(elsewhere.id))?.state, "running");
  });
  it("waits for beforeClaim (the API's quiet moment) before it claims a job", async () => {
    await queue.enqueue({ kind: "gated", payload: {}, maxAttempts: 1 });
    const { handler, runs } = recordingHandler(async () => undefined);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let asked = 0;
    const runner = new JobRunner(queue, new Map([["gated", handler]]), {
      pollIntervalMs: 20,
      leaseMs: 1000,
      retryDelayMs: 10,
      log: () => undefined,
      beforeClaim: () => (asked++, gate),
    });
    runner.start();
    try {
      await sleep(100);
      assert.ok(asked >= 1, "the runner asked before claiming");
      assert.deepEqual(runs, [], "nothing claimed while the gate is closed");
      open();
      await eventually(async () => (runs.length === 1 ? true : undefined), 5000, "the job run once the gate opened");
    } finally {
      await runner.stop();
    }
  });
});
