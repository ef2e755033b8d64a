import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { JobQueue } from "../../src/ports/job-queue.js";

/**
 * A fresh, empty queue; `second` opens another handle on the same jobs as a second hub node would (its own
 * connection or pool); `cleanup` closes both and removes what they left behind.
 */
export type JobQueueFactory = () => Promise<{ queue: JobQueue; second(): Promise<JobQueue>; cleanup(): Promise<void> }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LONG = 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The JobQueue contract: every adapter must pass it unchanged. */
export function jobQueueContract(name: string, factory: JobQueueFactory): void {
  describe(`JobQueue contract: ${name}`, () => {
    let queue: JobQueue;
    let second: () => Promise<JobQueue>;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ queue, second, cleanup } = await factory());
    });
    afterEach(() => cleanup());

    it("enqueue returns the stored job: random UUID id, queued, no attempts yet, payload as given", async () => {
      const before = Date.now();
      const job = await queue.enqueue({ kind: "k", payload: { n: 1, nested: { list: [1, "two"] } }, maxAttempts: 4 });
      assert.match(job.id, UUID);
      assert.deepEqual(
        { ...job, id: "", createdAt: "" },
        {
          id: "",
          kind: "k",
          payload: { n: 1, nested: { list: [1, "two"] } },
          state: "queued",
          attempts: 0,
          maxAttempts: 4,
          lastError: null,
          dedupeKey: null,
          createdAt: "",
        },
      );
      const created = Date.parse(job.createdAt);
      assert.ok(
        created >= before - 1000 && created <= Date.now() + 1000,
        `createdAt ${job.createdAt} is an ISO time of now`,
      );
      assert.deepEqual(await queue.get(job.id), job);
      const other = await queue.enqueue({ kind: "k", payload: {} });
      assert.notEqual(other.id, job.id);
      assert.ok(other.maxAttempts >= 1, "a default maxAttempts");
      assert.equal(await queue.get("00000000-0000-0000-0000-000000000000"), undefined);
    });

    it("countByKindAndState counts the jobs of each kind in each state, and nothing else", async () => {
      assert.deepEqual(await queue.countByKindAndState(), []);
      await queue.enqueue({ kind: "a", payload: {} });
      await queue.enqueue({ kind: "a", payload: {} });
      await queue.enqueue({ kind: "a", payload: {} });
      await queue.enqueue({ kind: "b", payload: {} });
      const running = await queue.claim(["a"], "w1", LONG);
      const done = await queue.claim(["b"], "w1", LONG);
      assert.equal(await queue.complete(done!.id, "w1"), true);
      const failed = await queue.claim(["a"], "w2", LONG);
      assert.equal(await queue.fail(failed!.id, "w2", "broken"), true);
      assert.ok(running);
      const byKey = (counts: { kind: string; state: string; count: number }[]) =>
        counts.map((c) => `${c.kind}/${c.state}=${c.count}`).sort();
      assert.deepEqual(byKey(await queue.countByKindAndState()), [
        "a/failed=1",
        "a/queued=1",
        "a/running=1",
        "b/succeeded=1",
      ]);
    });

    it("dedupes by key while a job is queued or running, not once it ended", async () => {
      const a = await queue.enqueue({ kind: "k", payload: { n: 1 }, dedupeKey: "x" });
      const b = await queue.enqueue({ kind: "k", payload: { n: 2 }, dedupeKey: "x" });
      assert.equal(b.id, a.id);
      assert.deepEqual(b.payload, { n: 1 });
      assert.equal(b.dedupeKey, "x");
      const other = await queue.enqueue({ kind: "k", payload: {}, dedupeKey: "y" });
      assert.notEqual(other.id, a.id);

      const claimed = await queue.claim(["k"], "w1", LONG);
      assert.equal(claimed?.id, a.id);
      assert.equal((await queue.enqueue({ kind: "k", payload: {}, dedupeKey: "x" })).id, a.id, "running still dedupes");
      assert.equal(await queue.complete(a.id, "w1"), true);
      const c = await queue.enqueue({ kind: "k", payload: { n: 3 }, dedupeKey: "x" });
      assert.notEqual(c.id, a.id, "a succeeded job no longer dedupes");

      assert.equal((await queue.claim(["k"], "w1", LONG))?.id, other.id);
      assert.equal((await queue.claim(["k"], "w1", LONG))?.id, c.id);
      assert.equal(await queue.fail(c.id, "w1", "broken"), true);
      assert.notEqual(
        (await queue.enqueue({ kind: "k", payload: {}, dedupeKey: "x" })).id,
        c.id,
        "a failed job no longer dedupes",
      );
    });

    it("claims only the asked kinds, oldest first, counting attempts", async () => {
      const first = await queue.enqueue({ kind: "a", payload: { n: 1 } });
      const second = await queue.enqueue({ kind: "b", payload: { n: 2 } });
      const third = await queue.enqueue({ kind: "a", payload: { n: 3 } });
      assert.equal(await queue.claim(["other"], "w", LONG), undefined);
      assert.equal(await queue.claim([], "w", LONG), undefined);
      const got = await queue.claim(["b"], "w", LONG);
      assert.equal(got?.id, second.id);
      assert.deepEqual([got?.state, got?.attempts, got?.kind], ["running", 1, "b"]);
      assert.equal((await queue.claim(["a", "b"], "w", LONG))?.id, first.id);
      assert.equal((await queue.claim(["a", "b"], "w", LONG))?.id, third.id);
      assert.equal(await queue.claim(["a", "b"], "w", LONG), undefined);
      assert.equal((await queue.get(first.id))?.state, "running");
    });

    it("hands each job to one claimer at a time, even when claims race", async () => {
      const jobs = await Promise.all([1, 2, 3].map((n) => queue.enqueue({ kind: "k", payload: { n } })));
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => queue.claim(["k"], `w${i}`, LONG)));
      const got = claims.filter((c) => c !== undefined).map((c) => c.id);
      assert.equal(got.length, 3);
      assert.deepEqual([...got].sort(), jobs.map((j) => j.id).sort());
    });

    it("a job whose lease expired is handed out again; the old claimer can no longer heartbeat, complete or fail it", async () => {
      const job = await queue.enqueue({ kind: "k", payload: {} });
      assert.equal((await queue.claim(["k"], "w1", 100))?.id, job.id);
      assert.equal(await queue.claim(["k"], "w2", LONG), undefined, "not while the lease runs");
      await sleep(140);
      const again = await queue.claim(["k"], "w2", LONG);
      assert.equal(again?.id, job.id);
      assert.equal(again?.attempts, 2);
      assert.equal(await queue.heartbeat(job.id, "w1", LONG), false);
      assert.equal(await queue.complete(job.id, "w1"), false);
      assert.equal(await queue.fail(job.id, "w1", "late", new Date()), false);
      assert.equal((await queue.get(job.id))?.state, "running");
      assert.equal(await queue.heartbeat(job.id, "w2", LONG), true);
      assert.equal(await queue.complete(job.id, "w2"), true);
      const done = await queue.get(job.id);
      assert.deepEqual([done?.state, done?.attempts, done?.lastError], ["succeeded", 2, null]);
      assert.equal(await queue.complete(job.id, "w2"), false, "an ended job cannot end again");
      assert.equal(await queue.heartbeat(job.id, "w2", LONG), false);
    });

    it("listRunning names each running job's claimer; releaseLease by that claimer makes the job claimable at once, not counting the attempt", async () => {
      const job = await queue.enqueue({ kind: "k", payload: {} });
      await queue.enqueue({ kind: "other", payload: {} });
      assert.deepEqual(await queue.listRunning(["k"]), []);
      await queue.claim(["k"], "node-a/123/x", LONG);
      assert.deepEqual(await queue.listRunning(["k"]), [{ id: job.id, kind: "k", workerId: "node-a/123/x" }]);
      assert.deepEqual(await queue.listRunning(["other"]), []);
      assert.equal(await queue.releaseLease(job.id, "someone-else"), false, "only for the claimer that holds it");
      assert.equal(await queue.claim(["k"], "w2", LONG), undefined, "still leased");
      assert.equal(await queue.releaseLease(job.id, "node-a/123/x"), true);
      const again = await queue.claim(["k"], "w2", LONG);
      assert.deepEqual([again?.id, again?.attempts], [job.id, 1], "the interrupted attempt does not count");
      assert.equal(await queue.complete(job.id, "node-a/123/x"), false, "the old claimer lost it");
      // Interrupted on its last attempt: still run again, not given up.
      const last = await queue.enqueue({ kind: "last", payload: {}, maxAttempts: 1 });
      await queue.claim(["last"], "node-a/124/x", LONG);
      assert.equal(await queue.releaseLease(last.id, "node-a/124/x"), true);
      assert.deepEqual(await queue.expireLapsed(["last"]), []);
      assert.equal((await queue.claim(["last"], "w3", LONG))?.id, last.id);
    });

    it("heartbeat keeps the lease alive", async () => {
      const job = await queue.enqueue({ kind: "k", payload: {} });
      await queue.claim(["k"], "w1", 200);
      for (let i = 0; i < 6; i++) {
        await sleep(50);
        assert.equal(await queue.heartbeat(job.id, "w1", 200), true);
      }
      assert.equal(
        await queue.claim(["k"], "w2", LONG),
        undefined,
        "300 ms later, the renewed 200 ms lease still holds",
      );
      assert.equal(await queue.complete(job.id, "w1"), true);
    });

    it("fail without retryAt ends the job; with retryAt it is queued again from then on", async () => {
      const job = await queue.enqueue({ kind: "k", payload: {} });
      await queue.claim(["k"], "w1", LONG);
      assert.equal(await queue.fail(job.id, "w2", "not mine"), false);
      assert.equal(await queue.fail(job.id, "w1", "flaky", new Date(Date.now() + 200)), true);
      const waiting = await queue.get(job.id);
      assert.deepEqual([waiting?.state, waiting?.lastError, waiting?.attempts], ["queued", "flaky", 1]);
      assert.equal(await queue.claim(["k"], "w1", LONG), undefined, "not before retryAt");
      await sleep(240);
      const retried = await queue.claim(["k"], "w1", LONG);
      assert.deepEqual([retried?.id, retried?.attempts, retried?.state], [job.id, 2, "running"]);
      assert.equal(await queue.fail(job.id, "w1", "broken"), true);
      const ended = await queue.get(job.id);
      assert.deepEqual([ended?.state, ended?.lastError, ended?.attempts], ["failed", "broken", 2]);
      assert.equal(await queue.claim(["k"], "w1", LONG), undefined);
      assert.equal(await queue.fail(job.id, "w1", "again"), false);
    });

    it("a job whose lease lapses on its last allowed attempt is not run again; expireLapsed ends it and returns it once", async () => {
      const job = await queue.enqueue({ kind: "k", payload: {}, maxAttempts: 2 });
      await queue.claim(["k"], "w1", 40);
      await sleep(70);
      assert.equal((await queue.claim(["k"], "w2", 40))?.attempts, 2, "attempt 2 of 2 is still handed out");
      await sleep(70);
      assert.equal(await queue.claim(["k"], "w3", LONG), undefined);
      assert.deepEqual(await queue.expireLapsed(["other"]), [], "only the kinds asked for");
      const lapsed = await queue.expireLapsed(["k"]);
      assert.deepEqual(
        lapsed.map((j) => [j.id, j.state, j.attempts, j.lastError]),
        [[job.id, "failed", 2, "lease expired after 2 attempts"]],
      );
      assert.deepEqual(await queue.expireLapsed(["k"]), [], "reported once");
      assert.equal((await queue.get(job.id))?.state, "failed");
      assert.equal(await queue.complete(job.id, "w2"), false);
      // Its dedupe key is free again once it failed.
      const next = await queue.enqueue({ kind: "k", payload: {}, maxAttempts: 1, dedupeKey: "d" });
      await queue.claim(["k"], "w1", 40);
      await sleep(70);
      assert.equal(await queue.claim(["k"], "w2", LONG), undefined);
      assert.deepEqual(
        (await queue.expireLapsed(["k"])).map((j) => j.lastError),
        ["lease expired after 1 attempts"],
      );
      assert.notEqual((await queue.enqueue({ kind: "k", payload: {}, dedupeKey: "d" })).id, next.id);
      // A running job whose lease is still good is left alone.
      await queue.enqueue({ kind: "k", payload: {}, maxAttempts: 1 });
      await queue.claim(["k"], "w1", LONG);
      assert.deepEqual(await queue.expireLapsed(["k"]), []);
    });

    it("two nodes racing claims on the same jobs: each job is claimed once; a lapsed lease is taken by the other node", async () => {
      const other = await second();
      const jobs = await Promise.all(
        Array.from({ length: 12 }, (_, n) => (n % 2 ? queue : other).enqueue({ kind: "k", payload: { n } })),
      );
      const claims = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 ? queue : other).claim(["k"], `node-${i % 2}/w${i}`, LONG)),
      );
      const got = claims.filter((c) => c !== undefined);
      assert.equal(got.length, 12, "every job claimed, none twice");
      assert.deepEqual(got.map((c) => c.id).sort(), jobs.map((j) => j.id).sort());
      assert.ok(got.every((c) => c.attempts === 1));
      assert.deepEqual((await other.listRunning(["k"])).length, 12, "the other node sees every claim");

      const lapsing = await queue.enqueue({ kind: "lapse", payload: {} });
      assert.equal((await queue.claim(["lapse"], "node-0/dies", 150))?.id, lapsing.id);
      assert.equal(await other.claim(["lapse"], "node-1/w", LONG), undefined, "not while the lease runs");
      await sleep(250);
      const retakes = await Promise.all(
        ["node-1/w", "node-1/v", "node-1/u"].map((w) => other.claim(["lapse"], w, LONG)),
      );
      const taken = retakes.filter((c) => c !== undefined);
      assert.deepEqual(
        taken.map((c) => [c.id, c.attempts]),
        [[lapsing.id, 2]],
        "taken over once",
      );
      const winner = ["node-1/w", "node-1/v", "node-1/u"][retakes.findIndex((c) => c !== undefined)]!;
      assert.equal(await queue.complete(lapsing.id, "node-0/dies"), false, "the first node lost it");
      assert.equal(await other.complete(lapsing.id, winner), true);
      assert.equal((await queue.get(lapsing.id))?.state, "succeeded");

      const dedupe = await Promise.all(
        [queue, other, queue, other].map((q) => q.enqueue({ kind: "d", payload: {}, dedupeKey: "same" })),
      );
      assert.equal(new Set(dedupe.map((j) => j.id)).size, 1, "one job per dedupe key across nodes");
    });

    it("an expired job of another kind is not handed to a claimer of this kind", async () => {
      const other = await queue.enqueue({ kind: "b", payload: {} });
      await queue.claim(["b"], "w1", 40);
      await sleep(70);
      assert.equal(await queue.claim(["a"], "w2", LONG), undefined);
      assert.equal((await queue.claim(["b"], "w2", LONG))?.id, other.id);
    });
  });
}
