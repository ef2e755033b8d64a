import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type {
  ClaimedDelivery,
  DeliveryOutcome,
  NewWebhook,
  WebhookEvent,
  WebhookStore,
} from "../../src/ports/webhook-store.js";

/**
 * Fresh, empty stores: `store` and `other` are two handles on one database (two hub nodes); `queue` runs the outbox
 * writer (adapters/sql/webhook-outbox.ts) in a transaction of its own, as a change's transaction would, which it rolls
 * back if `rollBack` (then resolving to 0).
 */
export type WebhookStoreFactory = () => Promise<{
  store: WebhookStore;
  other: WebhookStore;
  queue(event: WebhookEvent, nowMs?: number, rollBack?: boolean): Promise<number>;
  cleanup(): Promise<void>;
}>;

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const hook = (over: Partial<NewWebhook> = {}): NewWebhook => ({
  scope: "iTwin",
  scopeId: "t1",
  callbackUrl: "https://hooks.example.com/in",
  eventTypes: ["iModels.changesetPushed.v1"],
  secret: "s".repeat(32),
  expirationDateTime: "2030-01-31T00:00:00.000Z",
  active: true,
  createdBy: "alice",
  createdDateTime: "2030-01-01T00:00:00.000Z",
  ...over,
});
const pushed = (iModelId: string, index: number, iTwinId = "t1"): WebhookEvent => ({
  eventType: "iModels.changesetPushed.v1",
  iTwinId,
  iModelId,
  content: { imodelId: iModelId, changesetIndex: String(index) },
});
/** One claim and one outcome through the batch methods. */
const claim = async (s: WebhookStore, owner: string, nowMs: number, leaseMs: number) =>
  (await s.claimMany(owner, nowMs, leaseMs, 1))[0];
const finish = async (s: WebhookStore, id: string, owner: string, outcome: DeliveryOutcome) =>
  (await s.finishMany([{ id, owner, outcome }]))[0];
const changeset = (d: { envelope: string }): string => JSON.parse(d.envelope).content.changesetIndex;
/** Claims and delivers until nothing is claimable; the deliveries in the order they were claimed. */
async function claimAll(s: WebhookStore, nowMs = T0 + 1_000_000) {
  const all: ClaimedDelivery[] = [];
  for (;;) {
    const claimed = await s.claimMany("all", nowMs, 60_000, 100);
    if (claimed.length === 0) return all;
    all.push(...claimed);
    await s.finishMany(claimed.map((d) => ({ id: d.id, owner: "all", outcome: outcome("delivered", nowMs) })));
  }
}
const outcome = (state: "delivered" | "failed" | "pending", at = T0) => ({
  state,
  nextAttemptMs: at,
  lastStatus: state === "delivered" ? 200 : 500,
  lastAnswer: "ok",
  durationMs: 3,
  at: new Date(at).toISOString(),
});

/** The WebhookStore contract (ports/webhook-store.ts): every adapter must pass it unchanged. */
export function webhookStoreContract(name: string, factory: WebhookStoreFactory): void {
  describe(`WebhookStore contract: ${name}`, () => {
    let store: WebhookStore;
    let other: WebhookStore;
    let queue: (event: WebhookEvent, nowMs?: number, rollBack?: boolean) => Promise<number>;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, other, queue, cleanup } = await factory());
    });
    afterEach(() => cleanup());
    /** An event recorded by a change, then fanned out (as the deliverer does after the commit). */
    const queued = async (event: WebhookEvent, nowMs?: number) => {
      const matched = await queue(event, nowMs);
      await store.fanOut();
      return matched;
    };

    it("creates, lists by scope, updates only what is given, deletes with its deliveries", async () => {
      const a = await store.create(hook());
      const b = await store.create(hook({ scope: "Account", scopeId: null, eventTypes: ["iModels.iModelCreated.v1"] }));
      const c = await store.create(hook({ scopeId: "t2", active: false }));
      assert.deepEqual(a, { ...hook(), id: a.id });
      assert.deepEqual(await store.get(c.id), c);
      const page = { limit: 10, offset: 0 };
      assert.deepEqual(
        (await store.list({}, page)).map((h) => h.id),
        [a.id, b.id, c.id],
      );
      assert.deepEqual(
        (await store.list({ scopeIds: ["t1"] }, page)).map((h) => h.id),
        [a.id],
      );
      assert.deepEqual(
        (await store.list({ scopeIds: ["t2"], account: true }, page)).map((h) => h.id),
        [b.id, c.id],
      );
      assert.deepEqual(
        (await store.list({}, { limit: 1, offset: 1 })).map((h) => h.id),
        [b.id],
      );
      const updated = await store.update(a.id, {
        active: false,
        eventTypes: ["x"],
        expirationDateTime: "2031-01-01T00:00:00.000Z",
      });
      assert.deepEqual(updated, {
        ...a,
        active: false,
        eventTypes: ["x"],
        expirationDateTime: "2031-01-01T00:00:00.000Z",
      });
      assert.deepEqual(await store.update(a.id, {}), updated);
      assert.equal(await store.update("nope", { active: true }), undefined);
      await store.update(a.id, { active: true, eventTypes: ["iModels.changesetPushed.v1"] });
      assert.equal(await queued(pushed("m1", 1), T0), 1);
      assert.equal(await store.delete(a.id), true);
      assert.equal(await store.delete(a.id), false);
      assert.equal(await claim(store, "n1", T0, 1000), undefined, "its deliveries went with it");
    });

    it("queues one delivery per active, unexpired webhook whose scope and event types match, in the cloud's envelope", async () => {
      const a = await store.create(hook());
      const account = await store.create(hook({ scope: "Account", scopeId: null }));
      await store.create(hook({ active: false }));
      await store.create(hook({ expirationDateTime: new Date(T0 - 1).toISOString() }));
      await store.create(hook({ scopeId: "t2" }));
      await store.create(hook({ eventTypes: ["iModels.namedVersionCreated.v1"] }));
      assert.equal(await queued(pushed("m1", 1), T0), 2);
      const [delivery] = await store.deliveries(a.id, { limit: 10, offset: 0 });
      assert.equal(delivery!.state, "pending");
      assert.equal(delivery!.stream, "m1");
      assert.deepEqual(JSON.parse(delivery!.envelope), {
        content: { imodelId: "m1", changesetIndex: "1" },
        eventType: "iModels.changesetPushed.v1",
        iTwinId: "t1",
        messageId: delivery!.id,
        webhookId: a.id,
        enqueuedDateTime: new Date(T0).toISOString(),
      });
      assert.equal((await store.deliveries(account.id, { limit: 10, offset: 0 })).length, 1);
    });

    it("records one event row per change and fans it out after the commit, oldest first, deleting the row", async () => {
      const a = await store.create(hook());
      const b = await store.create(hook({ scope: "Account", scopeId: null }));
      assert.equal(await queue(pushed("m1", 1), T0), 2);
      assert.equal(await queue(pushed("m2", 1), T0 + 1), 2);
      assert.equal(await queue(pushed("m1", 2), T0 + 2), 2);
      assert.equal(await queue(pushed("m9", 1, "t9"), T0 + 3), 1, "only the Account webhook");
      assert.equal(await queue({ ...pushed("m1", 3), eventType: "iModels.namedVersionCreated.v1" }, T0 + 4), 0);
      assert.deepEqual(await store.deliveries(a.id, { limit: 10, offset: 0 }), [], "nothing before the fan-out");
      assert.equal(await store.nextDueMs(), T0, "an event not fanned out is due");
      assert.deepEqual(await claimAll(store), [], "nothing to claim before the fan-out");
      // Bounded: it stops after the event that reaches the bound, and says more are left.
      assert.deepEqual(await other.fanOut(3), { events: 2, deliveries: 4, more: true });
      assert.equal(await store.nextDueMs(), T0, "m1's first delivery");
      assert.deepEqual(await store.fanOut(), { events: 2, deliveries: 3, more: false });
      assert.deepEqual(await other.fanOut(), { events: 0, deliveries: 0, more: false }, "each event once");
      const log = await store.deliveries(a.id, { limit: 10, offset: 0 });
      assert.deepEqual(
        log.map((d) => [d.stream, JSON.parse(d.envelope).content.changesetIndex, d.enqueuedMs, d.nextAttemptMs]),
        [
          ["m1", "2", T0 + 2, T0 + 2],
          ["m2", "1", T0 + 1, T0 + 1],
          ["m1", "1", T0, T0],
        ],
      );
      const [last] = await store.deliveries(b.id, { limit: 1, offset: 0 });
      assert.deepEqual(JSON.parse(last!.envelope), {
        content: { imodelId: "m9", changesetIndex: "1" },
        eventType: "iModels.changesetPushed.v1",
        iTwinId: "t9",
        messageId: last!.id,
        webhookId: b.id,
        enqueuedDateTime: new Date(T0 + 3).toISOString(),
      });
      assert.deepEqual(
        (await claimAll(store)).map((d) => `${d.webhookId === a.id ? "a" : "b"}/${d.stream}/${changeset(d)}`),
        ["a/m1/1", "b/m1/1", "a/m2/1", "b/m2/1", "b/m9/1", "a/m1/2", "b/m1/2"],
      );
    });

    it("fans out nothing of a change that rolled back", async () => {
      const a = await store.create(hook());
      assert.equal(await queue(pushed("m1", 1), T0, true), 0);
      assert.equal(await store.nextDueMs(), undefined);
      assert.deepEqual(await store.fanOut(), { events: 0, deliveries: 0, more: false });
      assert.deepEqual(await store.deliveries(a.id, { limit: 10, offset: 0 }), []);
    });

    it("sends an event to the webhooks that matched it at its commit: not to one created, activated or deleted since", async () => {
      const kept = await store.create(hook());
      const deactivated = await store.create(hook());
      const deleted = await store.create(hook());
      const inactive = await store.create(hook({ active: false }));
      const retyped = await store.create(hook({ eventTypes: ["iModels.namedVersionCreated.v1"] }));
      assert.equal(await queue(pushed("m1", 1), T0), 3);
      const late = await store.create(hook());
      await store.update(deactivated.id, { active: false });
      await store.update(inactive.id, { active: true });
      await store.update(retyped.id, { eventTypes: ["iModels.changesetPushed.v1"] });
      await store.delete(deleted.id);
      assert.deepEqual(await store.fanOut(), { events: 1, deliveries: 2, more: false });
      const count = async (id: string) => (await store.deliveries(id, { limit: 10, offset: 0 })).length;
      assert.deepEqual(
        await Promise.all([kept, deactivated, inactive, retyped, late].map((h) => count(h.id))),
        [1, 1, 0, 0, 0],
      );
    });

    it("two nodes fanning out while changes record events make each delivery once, in each stream's order", async () => {
      const hooks = [await store.create(hook()), await store.create(hook()), await store.create(hook())];
      const streams = ["m1", "m2", "m3"];
      const EVENTS = 12;
      let recording = true;
      const fanOuts = [0, 0];
      const fanning = [store, other].map(async (s, i) => {
        for (;;) {
          const done = !recording;
          const made = await s.fanOut(4);
          if (made.events > 0) fanOuts[i]!++;
          if (done && made.events === 0) return;
          if (made.events === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      });
      for (let i = 1; i <= EVENTS; i++) for (const m of streams) await queue(pushed(m, i), T0 + i);
      recording = false;
      await Promise.all(fanning);
      assert.ok(fanOuts[0]! + fanOuts[1]! >= 2, `several fan-outs (${fanOuts.join(" + ")})`);
      const order = new Map<string, string[]>();
      for (const d of await claimAll(store)) {
        const key = `${d.webhookId}/${d.stream}`;
        order.set(key, [...(order.get(key) ?? []), changeset(d)]);
      }
      assert.equal(order.size, hooks.length * streams.length);
      const expected = Array.from({ length: EVENTS }, (_, i) => String(i + 1));
      for (const [key, indexes] of order) assert.deepEqual(indexes, expected, key);
      for (const h of hooks) {
        const log = await store.deliveries(h.id, { limit: 100, offset: 0 });
        assert.equal(log.length, streams.length * EVENTS, "each event once per webhook");
        assert.equal(new Set(log.map((d) => JSON.parse(d.envelope).messageId)).size, log.length);
      }
    });

    it("claims a webhook's stream in order: N+1 waits until N is delivered or failed, other streams do not", async () => {
      const a = await store.create(hook());
      await queued(pushed("m1", 1), T0);
      await queued(pushed("m1", 2), T0);
      await queued(pushed("m2", 1), T0);
      const first = await claim(store, "n1", T0, 60_000);
      assert.equal(JSON.parse(first!.envelope).content.changesetIndex, "1");
      assert.equal(first!.stream, "m1");
      assert.equal(first!.attempts, 1);
      assert.equal(first!.callbackUrl, a.callbackUrl);
      assert.equal(first!.secret, a.secret);
      const second = await claim(other, "n2", T0, 60_000);
      assert.equal(second!.stream, "m2", "m1's second waits for its first");
      assert.equal(await claim(store, "n1", T0, 60_000), undefined);
      // A retry later keeps the stream blocked.
      assert.equal(await finish(store, first!.id, "n1", outcome("pending", T0 + 5_000)), true);
      assert.equal(await claim(store, "n1", T0 + 1_000, 60_000), undefined);
      assert.equal(await store.nextDueMs(), T0 + 5_000);
      const retry = await claim(store, "n1", T0 + 5_000, 60_000);
      assert.equal(retry!.id, first!.id);
      assert.equal(retry!.attempts, 2);
      assert.equal(await finish(store, retry!.id, "n1", outcome("failed")), true);
      const next = await claim(store, "n1", T0 + 5_000, 60_000);
      assert.equal(JSON.parse(next!.envelope).content.changesetIndex, "2", "a failed N lets N+1 go");
      const log = await store.deliveries(a.id, { limit: 10, offset: 0 });
      assert.deepEqual(
        log.map((d) => [d.stream, d.state]),
        [
          ["m2", "pending"],
          ["m1", "pending"],
          ["m1", "failed"],
        ],
      );
      assert.equal(log[2]!.lastStatus, 500);
      assert.equal(log[2]!.attempts, 2);
    });

    it("queues a delivery behind a retrying one at its next attempt, moves them with each retry, keeps the order", async () => {
      const a = await store.create(hook());
      await queued(pushed("m1", 1), T0);
      const first = await claim(store, "n1", T0, 60_000);
      await queued(pushed("m1", 2), T0 + 100);
      assert.equal(await store.nextDueMs(), T0 + 60_000, "in flight: due when its lease expires");
      assert.equal(await finish(store, first!.id, "n1", outcome("pending", T0 + 5_000)), true);
      await queued(pushed("m1", 3), T0 + 200);
      await queued(pushed("m2", 1), T0 + 300);
      const due = async () =>
        Object.fromEntries(
          (await store.deliveries(a.id, { limit: 10, offset: 0 })).map((d) => [
            `${d.stream}/${JSON.parse(d.envelope).content.changesetIndex}`,
            d.nextAttemptMs,
          ]),
        );
      assert.deepEqual(await due(), { "m1/1": T0 + 5_000, "m1/2": T0 + 5_000, "m1/3": T0 + 5_000, "m2/1": T0 + 300 });
      assert.equal((await claim(store, "n1", T0 + 400, 60_000))!.stream, "m2");
      assert.equal(await store.nextDueMs(), T0 + 5_000, "m1's head, not the deliveries waiting behind it");
      const retry = await claim(store, "n1", T0 + 5_000, 60_000);
      assert.equal(retry!.id, first!.id);
      assert.equal(await finish(store, retry!.id, "n1", outcome("pending", T0 + 15_000)), true);
      assert.equal((await due())["m1/3"], T0 + 15_000, "a retry moves the ones behind it");
      assert.equal(await claim(store, "n1", T0 + 14_999, 60_000), undefined);
      assert.equal((await claim(store, "n1", T0 + 15_000, 60_000))!.id, first!.id);
      assert.equal(await finish(store, first!.id, "n1", outcome("delivered", T0 + 15_000)), true);
      for (const index of ["2", "3"]) {
        const next = await claim(store, "n1", T0 + 15_000, 60_000);
        assert.equal(JSON.parse(next!.envelope).content.changesetIndex, index);
        assert.equal(await finish(store, next!.id, "n1", outcome("delivered", T0 + 15_000)), true);
      }
      assert.equal(await store.nextDueMs(), T0 + 60_400, "only m2's delivery is left, in flight");
    });

    it("hands an expired lease to another claimer, and then refuses the first claimer's outcome", async () => {
      await store.create(hook());
      await queued(pushed("m1", 1), T0);
      const first = await claim(store, "n1", T0, 1_000);
      assert.equal(await claim(other, "n2", T0 + 999, 1_000), undefined);
      const again = await claim(other, "n2", T0 + 1_000, 1_000);
      assert.equal(again!.id, first!.id);
      assert.equal(await finish(store, first!.id, "n1", outcome("delivered")), false);
      assert.equal(await finish(other, again!.id, "n2", outcome("delivered")), true);
      assert.equal(await store.nextDueMs(), undefined);
    });

    it("records an outcome whose duration has a fraction (a POST timed with performance.now()), rounded", async () => {
      const a = await store.create(hook());
      await queued(pushed("m1", 1), T0);
      const claimed = await claim(store, "n1", T0, 1_000);
      assert.equal(await finish(store, claimed!.id, "n1", { ...outcome("delivered"), durationMs: 12.625 }), true);
      const done = await store.getDelivery(a.id, claimed!.id);
      assert.deepEqual([done!.state, done!.durationMs], ["delivered", 13]);
    });

    it("never hands one delivery to two claimers racing on two handles", async () => {
      await store.create(hook());
      for (let i = 0; i < 20; i++) await queued(pushed(`m${i}`, 1), T0);
      const claims = await Promise.all(
        Array.from({ length: 30 }, (_, i) => claim(i % 2 ? store : other, `c${i}`, T0, 60_000)),
      );
      const ids = claims.filter((c) => c !== undefined).map((c) => c.id);
      assert.equal(ids.length, 20);
      assert.equal(new Set(ids).size, 20);
    });

    it("claims several at once: the first pending delivery of each stream, in claim order, at most max", async () => {
      const a = await store.create(hook());
      const b = await store.create(hook({ callbackUrl: "https://other.example.com/in" }));
      await queued(pushed("m1", 1), T0);
      await queued(pushed("m1", 2), T0);
      await queued(pushed("m2", 1), T0 + 1);
      const first = await store.claimMany("n1", T0 + 1, 60_000, 3);
      assert.deepEqual(
        first.map((d) => [d.webhookId, d.stream, JSON.parse(d.envelope).content.changesetIndex, d.attempts]),
        [
          [a.id, "m1", "1", 1],
          [b.id, "m1", "1", 1],
          [a.id, "m2", "1", 1],
        ],
      );
      assert.deepEqual(
        first.map((d) => d.callbackUrl),
        [a.callbackUrl, b.callbackUrl, a.callbackUrl],
      );
      assert.equal(first[1]!.secret, b.secret);
      const fourth = await other.claimMany("n2", T0 + 1, 60_000, 10);
      assert.deepEqual(
        fourth.map((d) => [d.webhookId, d.stream]),
        [[b.id, "m2"]],
        "max kept the fourth stream's first; the second of m1 waits for the first",
      );
      assert.deepEqual(await store.claimMany("n1", T0 + 1, 60_000, 0), []);
      const kept = await store.finishMany(first.map((d) => ({ id: d.id, owner: "n1", outcome: outcome("delivered") })));
      assert.deepEqual(kept, [true, true, true]);
      const next = await other.claimMany("n2", T0 + 1, 60_000, 10);
      assert.deepEqual(
        next.map((d) => [d.webhookId, d.stream, JSON.parse(d.envelope).content.changesetIndex]),
        [
          [a.id, "m1", "2"],
          [b.id, "m1", "2"],
        ],
      );
    });

    it("settles several outcomes at once, each only while its claimer holds the lease; a retry moves its stream", async () => {
      const a = await store.create(hook());
      await queued(pushed("m1", 1), T0);
      await queued(pushed("m2", 1), T0);
      await queued(pushed("m3", 1), T0);
      const [m1, m2, m3] = await store.claimMany("n1", T0, 1_000, 3);
      await queued(pushed("m2", 2), T0 + 10);
      const again = await claim(other, "n2", T0 + 1_000, 1_000); // m1's lease expired: n2 took it
      assert.equal(again!.id, m1!.id);
      assert.deepEqual(
        await store.finishMany([
          { id: m1!.id, owner: "n1", outcome: outcome("delivered") },
          { id: m2!.id, owner: "n1", outcome: outcome("pending", T0 + 9_000) },
          { id: m3!.id, owner: "n1", outcome: outcome("failed") },
        ]),
        [false, true, true],
      );
      const states = Object.fromEntries(
        (await store.deliveries(a.id, { limit: 10, offset: 0 })).map((d) => [
          `${d.stream}/${JSON.parse(d.envelope).content.changesetIndex}`,
          [d.state, d.nextAttemptMs],
        ]),
      );
      assert.deepEqual(states, {
        "m1/1": ["pending", T0],
        "m2/1": ["pending", T0 + 9_000],
        "m2/2": ["pending", T0 + 9_000],
        "m3/1": ["failed", T0],
      });
      assert.deepEqual(await store.finishMany([]), []);
    });

    it("two claimers taking batches at once never hold one delivery, nor two of one stream, and keep its order", async () => {
      const hooks = [await store.create(hook()), await store.create(hook())];
      const streams = ["m1", "m2", "m3", "m4", "m5"];
      for (let i = 1; i <= 4; i++) for (const m of streams) await queued(pushed(m, i), T0);
      const total = hooks.length * streams.length * 4;
      /** Per webhook and stream, the changeset indexes in the order they were claimed. */
      const claimedOrder = new Map<string, string[]>();
      let delivered = 0;
      for (let round = 0; delivered < total && round < 50; round++) {
        const [x, y] = await Promise.all([
          store.claimMany(`x${round}`, T0, 60_000, 4),
          other.claimMany(`y${round}`, T0, 60_000, 4),
        ]);
        const held = [...x!, ...y!];
        assert.equal(new Set(held.map((d) => d.id)).size, held.length, "no delivery held twice");
        const heldStreams = held.map((d) => `${d.webhookId}/${d.stream}`);
        assert.equal(new Set(heldStreams).size, held.length, "no two deliveries of one stream in flight");
        for (const d of held) {
          const key = `${d.webhookId}/${d.stream}`;
          claimedOrder.set(key, [...(claimedOrder.get(key) ?? []), JSON.parse(d.envelope).content.changesetIndex]);
        }
        const settle = (claimed: typeof held, owner: string) =>
          (claimed.length % 2 ? store : other).finishMany(
            claimed.map((d) => ({ id: d.id, owner, outcome: outcome("delivered") })),
          );
        const kept = await Promise.all([settle(x!, `x${round}`), settle(y!, `y${round}`)]);
        assert.ok(kept.flat().every(Boolean));
        delivered += held.length;
      }
      assert.equal(delivered, total);
      assert.equal(claimedOrder.size, hooks.length * streams.length);
      for (const [key, order] of claimedOrder) assert.deepEqual(order, ["1", "2", "3", "4"], key);
    });

    it("redelivers a delivered or failed delivery", async () => {
      const a = await store.create(hook());
      await queued(pushed("m1", 1), T0);
      const claimed = await claim(store, "n1", T0, 1_000);
      await finish(store, claimed!.id, "n1", outcome("failed"));
      assert.equal(await store.redeliver("other-hook", claimed!.id, T0), undefined);
      const back = await store.redeliver(a.id, claimed!.id, T0 + 10);
      assert.equal(back!.state, "pending");
      assert.equal(back!.attempts, 0);
      assert.deepEqual(await store.getDelivery(a.id, claimed!.id), back);
      assert.equal((await claim(other, "n2", T0 + 10, 1_000))!.id, claimed!.id);
    });
  });
}
