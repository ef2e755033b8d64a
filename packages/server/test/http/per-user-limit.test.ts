// Expensive requests of one user: a few run, some wait in line (first come, first served), the rest are refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HubError } from "../../src/domain/errors.js";
import { PerUserLimit } from "../../src/http/per-user-limit.js";

describe("PerUserLimit", () => {
  it("runs 2 of a user at once, lets 3 wait in order, refuses the next with 429 and retry-after; other users are not held", async () => {
    const limit = new PerUserLimit(2, 3, "lock requests");
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const op = (name: string) => async () => {
      running++;
      most = Math.max(most, running);
      order.push(name);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      return name;
    };
    const mallory = ["a", "b", "c", "d", "e"].map((n) => limit.run("mallory", op(n)));
    await assert.rejects(
      limit.run("mallory", op("f")),
      (err: unknown) => err instanceof HubError && err.code === "TooManyRequests" && err.retryAfterSeconds === 1,
    );
    const alice = limit.run("alice", op("alice"));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ["a", "b", "alice"], "two of mallory's run; alice is not behind them");
    while (releases.length > 0 || order.length < 6) {
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await Promise.all(mallory), ["a", "b", "c", "d", "e"]);
    assert.equal(await alice, "alice");
    assert.deepEqual(order, ["a", "b", "alice", "c", "d", "e"], "the waiting ones in the order they came");
    assert.equal(most, 3, "never more than two of mallory's (and alice's one) at once");
    // Once all ended, the line is empty again.
    assert.equal(await limit.run("mallory", async () => "again"), "again");
  });
});
