// background/webhook-deliverer.ts against a real store (SQLite file), the real SSRF-safe callout and a real local
// receiver: signatures, order per iModel, retries then failure, redelivery, refusals. No timing is asserted: each
// test waits for the state it expects (eventually), and checks the steps that led there.
// run-tests: alone (its deliveries race a lease and a poll of 20 ms: it failed once in a fresh-clone run beside the
// heavy lane, and passes alone; see the closing note of stop 27)
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { HttpCallout } from "../../src/adapters/callout/http-callout.js";
import { queueWebhookEvent } from "../../src/adapters/sql/webhook-outbox.js";
import { SqliteSideDatabase } from "../../src/adapters/sqlite/sqlite-side-database.js";
import { SqliteWebhookStore } from "../../src/adapters/sqlite/sqlite-webhook-store.js";
import type { WebhookDelivererOptions } from "../../src/background/webhook-deliverer.js";
import { WebhookDeliverer } from "../../src/background/webhook-deliverer.js";
import type { WebhookRecord } from "../../src/ports/webhook-store.js";
import { eventually } from "../support/hub.js";
import type { Receiver } from "../support/webhook-receiver.js";
import { startReceiver } from "../support/webhook-receiver.js";

const SECRET = "k".repeat(40);

describe("WebhookDeliverer", () => {
  let dir: string;
  let store: SqliteWebhookStore;
  let writer: SqliteSideDatabase;
  let receiver: Receiver;
  let deliverer: WebhookDeliverer | undefined;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-deliverer-"));
    store = SqliteWebhookStore.open(join(dir, "metadata.db"));
    writer = new SqliteSideDatabase(join(dir, "metadata.db"), "outbox writer");
    receiver.received.length = 0;
    receiver.answer(() => 200);
  });
  afterEach(async () => {
    await deliverer?.stop();
    deliverer = undefined;
    writer.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const hook = (callbackUrl = receiver.url()): Promise<WebhookRecord> =>
    store.create({
      scope: "iTwin",
      scopeId: "t1",
      callbackUrl,
      eventTypes: ["iModels.changesetPushed.v1"],
      secret: SECRET,
      expirationDateTime: new Date(Date.now() + 86_400_000).toISOString(),
      active: true,
      createdBy: "alice",
      createdDateTime: new Date().toISOString(),
    });
  const push = (iModelId: string, index: number) =>
    writer.transaction((tx) =>
      queueWebhookEvent(tx, {
        eventType: "iModels.changesetPushed.v1",
        iTwinId: "t1",
        iModelId,
        content: { imodelId: iModelId, changesetIndex: String(index) },
      }),
    );
  const run = (options: WebhookDelivererOptions = {}, callout = new HttpCallout()) => {
    deliverer = new WebhookDeliverer(store, callout, { concurrency: 4, pollIntervalMs: 20, ...options });
    deliverer.start();
    return deliverer;
  };
  const log = async (webhookId: string) => store.deliveries(webhookId, { limit: 100, offset: 0 });

  it("posts each event once, signed, in order per iModel across concurrent workers", async () => {
    const h = await hook();
    for (let i = 1; i <= 8; i++) {
      await push("m1", i);
      await push("m2", i);
    }
    run();
    await eventually(async () => (receiver.received.length >= 16 ? true : undefined), 30_000, "16 deliveries");
    for (const r of receiver.received) {
      assert.equal(receiver.signed(r, SECRET), true, "a valid signature");
      assert.equal(receiver.signed(r, "x".repeat(40)), false, "not valid with another secret");
      assert.equal(r.headers["content-type"], "application/json");
      assert.equal(r.body.webhookId, h.id);
    }
    for (const m of ["m1", "m2"]) {
      const order = receiver.received
        .filter((r) => r.body.content.imodelId === m)
        .map((r) => r.body.content.changesetIndex);
      assert.deepEqual(order, ["1", "2", "3", "4", "5", "6", "7", "8"], `${m} in order`);
    }
    assert.equal(new Set(receiver.received.map((r) => r.body.messageId)).size, 16, "each event once");
    // The receiver may see the last POST before the deliverer records its answer: wait for the records.
    const recorded = await eventually(
      async () => {
        const all = await log(h.id);
        return all.every((d) => d.state !== "pending") ? all : undefined;
      },
      30_000,
      "every outcome recorded",
    );
    const states = recorded.map((d) => [d.state, d.lastStatus, d.attempts, d.lastAnswer]);
    assert.deepEqual(states, Array(16).fill(["delivered", 200, 1, "thanks"]));
  });

  it("fans out an event when nudged, and one a node killed before its fan-out recorded at the next poll", async () => {
    const h = await hook();
    // Recorded with no deliverer running: the node that committed it died before its fan-out.
    await push("m1", 1);
    run({ pollIntervalMs: 200 });
    await eventually(async () => (receiver.received.length >= 1 ? true : undefined), 30_000, "the orphan delivered");
    // A minute's poll: only the nudge (this node's afterCommit) can make the next one go soon.
    await deliverer!.stop();
    run({ pollIntervalMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 50)); // its first, idle looks
    await push("m1", 2);
    deliverer!.nudge();
    await eventually(async () => (receiver.received.length >= 2 ? true : undefined), 10_000, "the nudged one");
    assert.deepEqual(
      receiver.received.map((r) => r.body.content.changesetIndex),
      ["1", "2"],
    );
    await eventually(
      async () => ((await log(h.id)).every((d) => d.state === "delivered") ? true : undefined),
      10_000,
      "both recorded",
    );
  });

  it("claims a backlog one delivery after the other without reading the outbox's next due time in between", async () => {
    // That read looks at every pending delivery: before each claim, under a backlog, it cost more than the delivery.
    const h = await hook();
    for (let i = 1; i <= 30; i++) await push(`m${i}`, 1);
    let reads = 0;
    const counted = new Proxy(store, {
      get: (target, key, receiver) =>
        key === "nextDueMs"
          ? () => {
              reads++;
              return target.nextDueMs();
            }
          : Reflect.get(target, key, receiver),
    });
    // An idle worker sleeps a minute: the reads counted are the deliveries' own, not polls.
    deliverer = new WebhookDeliverer(counted, new HttpCallout(), { concurrency: 1, pollIntervalMs: 60_000 });
    deliverer.start();
    await eventually(async () => (receiver.received.length >= 30 ? true : undefined), 30_000, "30 deliveries");
    await deliverer.stop();
    assert.deepEqual(
      (await log(h.id)).map((d) => d.state),
      Array(30).fill("delivered"),
    );
    // One read found the backlog due; then a claim per delivery, and reads only once none was left.
    assert.ok(reads <= 3, `${reads} reads of the next due time for 30 deliveries`);
  });

  it("claims as many deliveries as it has free slots in one claim, and records outcomes in batches", async () => {
    const h = await hook();
    for (let i = 1; i <= 30; i++) await push(`m${i}`, 1);
    const claims: number[] = [];
    const settled: number[] = [];
    const counted = new Proxy(store, {
      get: (target, key, receiver) =>
        key === "claimMany"
          ? async (...args: Parameters<SqliteWebhookStore["claimMany"]>) => {
              const got = await target.claimMany(...args);
              claims.push(got.length);
              return got;
            }
          : key === "finishMany"
            ? (settle: Parameters<SqliteWebhookStore["finishMany"]>[0]) => {
                settled.push(settle.length);
                return target.finishMany(settle);
              }
            : Reflect.get(target, key, receiver),
    });
    deliverer = new WebhookDeliverer(counted, new HttpCallout(), { concurrency: 8, pollIntervalMs: 60_000 });
    deliverer.start();
    await eventually(async () => (receiver.received.length >= 30 ? true : undefined), 30_000, "30 deliveries");
    await deliverer.stop();
    assert.deepEqual(
      (await log(h.id)).map((d) => d.state),
      Array(30).fill("delivered"),
    );
    assert.equal(claims[0], 8, "the first claim filled every slot");
    assert.equal(
      claims.reduce((a, b) => a + b, 0),
      30,
    );
    assert.ok(claims.length < 30, `${claims.length} claims for 30 deliveries`);
    assert.equal(
      settled.reduce((a, b) => a + b, 0),
      30,
      "each outcome recorded once",
    );
    assert.equal(new Set(receiver.received.map((r) => r.body.messageId)).size, 30, "each delivery sent once");
  });

  it("retries a failing callback with backoff, then marks it failed; redelivery then delivers it", async () => {
    const h = await hook();
    receiver.answer(() => 500);
    await push("m1", 1);
    await push("m1", 2);
    run({ firstRetryDelayMs: 5, maxRetryDelayMs: 20, retryForMs: 60 });
    const failed = await eventually(
      async () => {
        const first = (await log(h.id)).find((d) => JSON.parse(d.envelope).content.changesetIndex === "1");
        return first?.state === "failed" ? first : undefined;
      },
      30_000,
      "the first delivery failed",
    );
    assert.ok(failed.attempts >= 3, `attempts: ${failed.attempts}`);
    assert.equal(failed.lastStatus, 500);
    assert.equal(failed.lastAnswer, "status 500");
    const tries = receiver.received.filter((r) => r.body.messageId === failed.id).length;
    assert.equal(tries, failed.attempts, "each attempt reached the receiver");
    // The second waited for the first to fail before its own first attempt.
    const firstOfSecond = receiver.received.findIndex((r) => r.body.content.changesetIndex === "2");
    const lastOfFirst = receiver.received.findLastIndex((r) => r.body.content.changesetIndex === "1");
    assert.ok(firstOfSecond === -1 || firstOfSecond > lastOfFirst, "N+1 never before N was settled");

    receiver.answer(() => 200);
    await store.redeliver(h.id, failed.id, Date.now());
    deliverer!.nudge();
    const delivered = await eventually(
      async () => {
        const d = await store.getDelivery(h.id, failed.id);
        return d?.state === "delivered" ? d : undefined;
      },
      30_000,
      "redelivered",
    );
    assert.equal(delivered.lastStatus, 200);
    assert.equal(receiver.signed(receiver.received.at(-1)!, SECRET), true);
  });

  it("records a dead callback (connection refused) as no answer and retries it", async () => {
    const h = await hook("http://127.0.0.1:9/nobody-listens");
    await push("m1", 1);
    run({ firstRetryDelayMs: 5, maxRetryDelayMs: 10, retryForMs: 30 });
    const d = await eventually(
      async () => {
        const [one] = await log(h.id);
        return one?.state === "failed" ? one : undefined;
      },
      30_000,
      "failed",
    );
    assert.ok(d.attempts >= 2);
    assert.equal(d.lastStatus, null);
    assert.match(d.lastAnswer ?? "", /^no answer: /);
  });

  it("follows no redirect, and refuses a DNS name resolving to a private address that is not allowed", async () => {
    const redirecting = await hook(receiver.url("/moved"));
    receiver.answer((r) => (r.path === "/moved" ? 302 : 200));
    await push("m1", 1);
    run({ firstRetryDelayMs: 5, maxRetryDelayMs: 10, retryForMs: 20 });
    const moved = await eventually(
      async () => {
        const [one] = await log(redirecting.id);
        return one?.state === "failed" ? one : undefined;
      },
      30_000,
      "redirect not followed",
    );
    assert.equal(moved.lastStatus, 302);
    assert.equal(receiver.received.filter((r) => r.path === "/redirected").length, 0, "the redirect was not followed");
    await deliverer!.stop();

    // A hub whose allow-list does not hold loopback: localhost (a name) passes registration, not the connection.
    await store.delete(redirecting.id);
    receiver.received.length = 0;
    const sneaky = await hook(`https://localhost:${receiver.port}/hook`);
    await push("m1", 2);
    run({}, new HttpCallout({ allow: [] }));
    const refused = await eventually(
      async () => {
        const [one] = await log(sneaky.id);
        return one?.state === "failed" ? one : undefined;
      },
      30_000,
      "refused",
    );
    assert.equal(refused.attempts, 1, "a refusal is not retried");
    assert.match(refused.lastAnswer ?? "", /^refused: /);
    assert.equal(receiver.received.length, 0, "nothing reached the private address");
  });
});
