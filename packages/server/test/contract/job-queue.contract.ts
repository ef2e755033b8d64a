import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { JobQueue } from "../../src/ports/job-queue.js";

export type JobQueueFactory = () => Promise<{ queue: JobQueue; cleanup(): Promise<void> }>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function jobQueueContract(name: string, factory: JobQueueFactory): void {
  describe(`JobQueue contract: ${name}`, () => {
    let queue: JobQueue;
    let cleanup: () => Promise<void>;
    beforeEach(async () => ({ queue, cleanup } = await factory()));
    afterEach(() => cleanup());

    it("dedupes by key while a job is queued or running, not after it ended", async () => {
      const a = await queue.enqueue({ kind: "k", payload: { n: 1 }, dedupeKey: "x" });
      const b = await queue.enqueue({ kind: "k", payload: { n: 2 }, dedupeKey: "x" });
      assert.equal(a.id, b.id);
      const claimed = await queue.claim(["k"], "w1", 10_000);
      assert.equal(claimed?.id, a.id);
      assert.deepEqual(claimed?.payload, { n: 1 });
      assert.equal(claimed?.attempts, 1);
      assert.equal((await queue.enqueue({ kind: "k", payload: {}, dedupeKey: "x" })).id, a.id);
      assert.equal(await queue.complete(a.id, "w1"), true);
      assert.notEqual((await queue.enqueue({ kind: "k", payload: {}, dedupeKey: "x" })).id, a.id);
    });

    it("hands a job to one claimer at a time, only of the asked kinds", async () => {
      await queue.enqueue({ kind: "k", payload: {} });
      assert.equal(await queue.claim(["other"], "w1", 10_000), undefined);
      assert.ok(await queue.claim(["k"], "w1", 10_000));
      assert.equal(await queue.claim(["k"], "w2", 10_000), undefined);
    });

    it("re-hands a job whose lease expired; the old claimer can no longer complete it", async () => {
      const job = await queue.enqueue({ kind: "k", payload: {} });
      await queue.claim(["k"], "w1", 50);
      await sleep(80);
      const again = await queue.claim(["k"], "w2", 10_000);
      assert.equal(again?.id, job.id);
      assert.equal(again?.attempts, 2);
      assert.equal(await queue.complete(job.id, "w1"), false);
      assert.equal(await queue.heartbeat(job.id, "w1", 1000), false);
      assert.equal(await queue.heartbeat(job.id, "w2", 1000), true);
      assert.equal(await queue.complete(job.id, "w2"), true);
      assert.equal((await queue.get(job.id))?.state, "succeeded");
    });

    it("fail with retryAt requeues after that time; without it the job ends failed", async () => {
      const job = await queue.enqueue({ kind: "k", payload: {} });
      await queue.claim(["k"], "w1", 10_000);
      await queue.fail(job.id, "w1", "flaky", new Date(Date.now() + 100));
      assert.equal(await queue.claim(["k"], "w1", 10_000), undefined);
      await sleep(130);
      assert.equal((await queue.claim(["k"], "w1", 10_000))?.id, job.id);
      await queue.fail(job.id, "w1", "broken");
      const ended = await queue.get(job.id);
      assert.equal(ended?.state, "failed");
      assert.equal(ended?.lastError, "broken");
    });

    it("a job past maxAttempts whose lease lapses ends failed instead of running again", async () => {
      const job = await queue.enqueue({ kind: "k", payload: {}, maxAttempts: 1 });
      await queue.claim(["k"], "w1", 30);
      await sleep(60);
      assert.equal(await queue.claim(["k"], "w2", 10_000), undefined);
      assert.equal((await queue.get(job.id))?.state, "failed");
    });
  });
}
