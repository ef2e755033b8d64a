// Long work that calls yieldIfBusy between its steps lets timers and I/O run every few ms instead of at its end.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { yieldIfBusy } from "../../src/util/event-loop.js";

/** 1 ms of synchronous work. */
function busy(): void {
  const end = performance.now() + 1;
  while (performance.now() < end) {
    // spin
  }
}

describe("yieldIfBusy", () => {
  it("a chain of awaited steps lets a timer in within a slice, where awaiting alone would not", async () => {
    const run = async (withYields: boolean) => {
      const started = performance.now();
      let firedAt: number | undefined;
      setTimeout(() => (firedAt = performance.now() - started), 0);
      for (let i = 0; i < 200; i++) {
        busy();
        if (withYields) await yieldIfBusy();
        else await Promise.resolve();
      }
      return { firedAt, total: performance.now() - started };
    };
    const plain = await run(false);
    assert.equal(plain.firedAt, undefined, "without yields the timer waits for the whole chain");
    await new Promise((r) => setTimeout(r, 5));
    const sliced = await run(true);
    assert.ok(
      sliced.firedAt !== undefined && sliced.firedAt < sliced.total / 2,
      `the timer ran at ${sliced.firedAt?.toFixed(1)} ms of ${sliced.total.toFixed(1)}`,
    );
  });
});
