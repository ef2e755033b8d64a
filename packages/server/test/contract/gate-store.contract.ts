import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { GateStore, NewGate } from "../../src/ports/gate-store.js";

/** A fresh, empty store; `cleanup` closes it and removes what it left behind. */
export type GateStoreFactory = () => Promise<{ store: GateStore; cleanup(): Promise<void> }>;

const gate = (iTwinId: string, name: string, createdAt = "2030-01-01T00:00:00.000Z"): NewGate => ({
  iTwinId,
  name,
  url: `https://gates.example.com/${name}`,
  timeoutMs: 10_000,
  failure: "closed",
  secret: null,
  createdAt,
  createdBy: "alice",
});

/** The GateStore contract (ports/gate-store.ts): every adapter must pass it unchanged. */
export function gateStoreContract(name: string, factory: GateStoreFactory): void {
  describe(`GateStore contract: ${name}`, () => {
    let store: GateStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await factory());
    });
    afterEach(() => cleanup());

    it("lists gates in registration order, per iTwin and all together", async () => {
      const a = await store.create(gate("t1", "a"));
      const b = await store.create({ ...gate("t2", "b"), secret: "s".repeat(40), failure: "open" });
      const c = await store.create(gate("t1", "c")); // same time as a: insertion order decides
      assert.deepEqual(b, { ...gate("t2", "b"), secret: "s".repeat(40), failure: "open", id: b.id });
      assert.notEqual(a.id, c.id);
      assert.deepEqual(
        (await store.list("t1")).map((g) => g.name),
        ["a", "c"],
      );
      assert.deepEqual(
        (await store.listAll()).map((g) => g.name),
        ["a", "b", "c"],
      );
      assert.equal(await store.get("t2", a.id), undefined, "a gate of another iTwin is not found");
      assert.deepEqual(await store.get("t1", a.id), a);
    });

    it("updates only the fields given, and deletes once", async () => {
      const a = await store.create(gate("t1", "a"));
      const updated = await store.update("t1", a.id, { timeoutMs: 2_500, failure: "open", secret: null });
      assert.deepEqual(updated, { ...a, timeoutMs: 2_500, failure: "open" });
      assert.equal(await store.update("t2", a.id, { name: "x" }), undefined);
      assert.deepEqual(await store.update("t1", a.id, {}), updated);
      assert.equal(await store.delete("t2", a.id), false);
      assert.equal(await store.delete("t1", a.id), true);
      assert.equal(await store.delete("t1", a.id), false);
      assert.deepEqual(await store.listAll(), []);
    });
  });
}
