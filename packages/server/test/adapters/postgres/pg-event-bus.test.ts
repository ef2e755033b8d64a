// The change feed across two "nodes": two pools on one PostgreSQL schema, each with its own PgEventBus.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { HubEvent, SequencedEvent } from "../../../src/ports/event-bus.js";
import type { PgPool } from "../../../src/adapters/postgres/pg-database.js";
import { openPgPool } from "../../../src/adapters/postgres/pg-database.js";
import { PgEventBus } from "../../../src/adapters/postgres/pg-event-bus.js";
import { migratedPrivateSchema } from "../../support/pg-schema.js";

const IMODEL = "5a0b4c66-0000-4000-8000-000000000001";
const OTHER_IMODEL = "5a0b4c66-0000-4000-8000-000000000002";

function changeset(index: number, description: string | null = null): HubEvent {
  return {
    type: "changeset",
    data: {
      index,
      id: `cs${index}`,
      briefcaseId: 2,
      creatorId: "alice",
      description,
      pushDateTime: "2026-01-01T00:00:00.000Z",
    },
  };
}

/** Collects what a subscriber receives; `until(n)` waits for the n-th event (or fails after 5 s). */
function collector() {
  const got: SequencedEvent[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  return {
    got,
    listener: (e: SequencedEvent) => {
      got.push(e);
      for (const w of waiters.filter((w) => got.length >= w.n)) w.resolve();
    },
    until(n: number): Promise<void> {
      if (got.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`received ${got.length} of ${n} events: ${JSON.stringify(got.map((e) => e.seq))}`)),
          5000,
        );
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

describe("PgEventBus: the change feed across nodes", () => {
  let cleanup: () => Promise<void>;
  let poolA: PgPool;
  let poolB: PgPool;
  let nodeA: PgEventBus;
  let nodeB: PgEventBus;
  const errors: Error[] = [];

  /** Waits until both nodes delivered every event of IMODEL published so far, so a test hears only its own. */
  async function caughtUp(): Promise<void> {
    await Promise.all([nodeA.flush(), nodeB.flush()]);
    const row = await poolA.query<{ seq: number }>("SELECT seq FROM event_seqs WHERE imodel_id = $1", [IMODEL]);
    const published = row.rows[0]?.seq ?? 0;
    const deadline = Date.now() + 5000;
    const tip = (bus: PgEventBus) => {
      const probe = bus.subscribe(IMODEL, undefined, () => undefined)!;
      probe.close();
      return probe.tip;
    };
    while ((tip(nodeA) < published || tip(nodeB) < published) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([tip(nodeA), tip(nodeB)], [published, published], "both nodes caught up");
  }

  before(async () => {
    const migrated = await migratedPrivateSchema("events");
    cleanup = migrated.cleanup;
    poolA = migrated.pool;
    poolB = openPgPool(migrated.url, { max: 2 });
    nodeA = await PgEventBus.open(poolA, { onError: (e) => errors.push(e), bufferSize: 50 });
    nodeB = await PgEventBus.open(poolB, { onError: (e) => errors.push(e), bufferSize: 50 });
  });
  after(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await poolB?.end();
    await cleanup?.();
  });

  it("an event published through one node reaches subscribers on both, with the same seq; the epoch is shared", async () => {
    assert.equal(nodeA.epoch, nodeB.epoch, "one epoch per database");
    const onA = collector();
    const onB = collector();
    const subA = nodeA.subscribe(IMODEL, undefined, onA.listener)!;
    const subB = nodeB.subscribe(IMODEL, undefined, onB.listener)!;
    const elsewhere = collector();
    const subOther = nodeB.subscribe(OTHER_IMODEL, undefined, elsewhere.listener)!;
    try {
      nodeA.publish(IMODEL, changeset(1));
      await onB.until(1);
      await onA.until(1);
      assert.deepEqual(onB.got, [{ seq: 1, event: changeset(1) }]);
      assert.deepEqual(onA.got, onB.got, "the publishing node hears its own event through PostgreSQL too");
      assert.equal(elsewhere.got.length, 0, "another iModel's subscriber hears nothing");
    } finally {
      subA.close();
      subB.close();
      subOther.close();
    }
  });

  it("events published through both nodes at once arrive in one order, numbered alike, on both", async () => {
    await caughtUp();
    const onA = collector();
    const onB = collector();
    const subA = nodeA.subscribe(IMODEL, undefined, onA.listener)!;
    const subB = nodeB.subscribe(IMODEL, undefined, onB.listener)!;
    try {
      const start = subB.tip;
      for (let i = 0; i < 20; i++) (i % 2 ? nodeA : nodeB).publish(IMODEL, changeset(100 + i));
      await Promise.all([onA.until(20), onB.until(20)]);
      assert.deepEqual(onA.got, onB.got);
      assert.deepEqual(
        onB.got.map((e) => e.seq),
        Array.from({ length: 20 }, (_, i) => start + 1 + i),
        "consecutive seqs",
      );
      assert.deepEqual(
        onB.got.map((e) => (e.event.data as { index: number }).index).sort(),
        Array.from({ length: 20 }, (_, i) => 100 + i),
      );
      // Each node's own events keep the order it published them in.
      const fromA = onB.got.map((e) => (e.event.data as { index: number }).index).filter((n) => n % 2 === 1);
      assert.deepEqual(
        fromA,
        [...fromA].sort((x, y) => x - y),
      );
    } finally {
      subA.close();
      subB.close();
    }
  });

  it("an event too large for a NOTIFY payload arrives whole (read from the table)", async () => {
    await caughtUp();
    const onB = collector();
    const sub = nodeB.subscribe(IMODEL, undefined, onB.listener)!;
    try {
      const big = changeset(500, "ü".repeat(9000)); // 18,000 bytes of UTF-8: over PostgreSQL's 8000-byte payload limit
      nodeA.publish(IMODEL, big);
      nodeA.publish(IMODEL, changeset(501));
      await onB.until(2);
      assert.deepEqual(
        onB.got.map((e) => e.event),
        [big, changeset(501)],
      );
      assert.equal(onB.got[1]!.seq, onB.got[0]!.seq + 1);
    } finally {
      sub.close();
    }
  });

  it("a client reconnecting to the other node with its last event id gets what it missed", async () => {
    await caughtUp();
    const onA = collector();
    const subA = nodeA.subscribe(IMODEL, undefined, onA.listener)!;
    nodeA.publish(IMODEL, changeset(600));
    await onA.until(1);
    subA.close();
    const lastSeen = onA.got[0]!.seq;
    nodeA.publish(IMODEL, changeset(601));
    nodeA.publish(IMODEL, changeset(602));
    await caughtUp(); // node B heard them too
    const resumed = nodeB.subscribe(IMODEL, { epoch: nodeA.epoch, seq: lastSeen }, () => undefined)!;
    resumed.close();
    assert.deepEqual(resumed.missed, [
      { seq: lastSeen + 1, event: changeset(601) },
      { seq: lastSeen + 2, event: changeset(602) },
    ]);
  });

  it("a node whose listening connection was cut listens again and fills the gap from the table", async () => {
    await caughtUp();
    const onB = collector();
    const sub = nodeB.subscribe(IMODEL, undefined, onB.listener)!;
    try {
      const pid = nodeB.listeningBackendPid;
      assert.ok(pid !== undefined);
      const errorsBefore = errors.length;
      await poolA.query("SELECT pg_terminate_backend($1)", [pid]);
      // Published while node B is not listening.
      nodeA.publish(IMODEL, changeset(700));
      nodeA.publish(IMODEL, changeset(701));
      await nodeA.flush();
      const deadline = Date.now() + 5000;
      while ((nodeB.listeningBackendPid === undefined || nodeB.listeningBackendPid === pid) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.notEqual(nodeB.listeningBackendPid, undefined, "listening again");
      assert.notEqual(nodeB.listeningBackendPid, pid);
      assert.ok(errors.length > errorsBefore, "the lost connection was reported");
      nodeA.publish(IMODEL, changeset(702));
      await onB.until(3);
      assert.deepEqual(
        onB.got.map((e) => (e.event.data as { index: number }).index),
        [700, 701, 702],
      );
      assert.deepEqual(
        onB.got.map((e) => e.seq),
        [onB.got[0]!.seq, onB.got[0]!.seq + 1, onB.got[0]!.seq + 2],
      );
    } finally {
      sub.close();
    }
    errors.length = 0;
  });

  it("reported no background errors", () => {
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  });
});
