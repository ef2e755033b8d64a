// Webhooks end to end (issue 21): a real hub over HTTP, real changesets made by iTwin.js, a local receiver that
// verifies signatures; then a `modelhub serve` process killed with SIGKILL while a delivery is in flight: after the
// restart the event still arrives (at least once, none lost).
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { ACCEPT, eventually, startTestHub } from "../support/hub.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import type { Receiver } from "../support/webhook-receiver.js";
import { startReceiver } from "../support/webhook-receiver.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const T = "3c5e9c1a-7d7e-4f6e-8f3a-0c1d2e3f4a5b";
const ALL = [
  "iModels.iModelCreated.v1",
  "iModels.changesetPushed.v1",
  "iModels.namedVersionCreated.v1",
  "iModels.iModelDeleted.v1",
];

async function call(url: string, method: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const r = await fetch(url, {
    method,
    headers: { accept: ACCEPT, authorization: "Bearer alice", ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Json) : {} };
}

describe("webhooks end to end", () => {
  let fixture: Fixture;
  let receiver: Receiver;
  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    receiver = await startReceiver();
  });
  after(() => receiver.close());

  describe("on a hub over HTTP", () => {
    let hub: TestHub;
    before(async () => {
      hub = await startTestHub();
    });
    after(() => hub.close());

    it("delivers iModel created, changesets pushed (in order) and the named version, signed, in the cloud's envelope", async () => {
      receiver.received.length = 0;
      const made = await call(`${hub.url}/webhooks`, "POST", {
        callbackUrl: receiver.url("/e2e"),
        scope: "iTwin",
        scopeId: T,
        eventTypes: ALL,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const { id: webhookId, secret } = made.body.webhook as { id: string; secret: string };

      const iModel = await createIModelFromFile(hub, fixture.version0Path, { iTwinId: T, name: "webhooks" });
      const briefcaseId = await acquireBriefcase(hub, iModel.id);
      for (const cs of fixture.changesets) await pushChangeset(hub, iModel.id, briefcaseId, cs);
      const version = await hub.api<Json>("POST", `/${iModel.id}/namedversions`, {
        body: { name: "v1", changesetId: fixture.changesets.at(-1)!.id },
      });
      assert.equal(version.status, 201, version.text);

      const mine = () => receiver.received.filter((r) => r.path === "/e2e");
      await eventually(async () => (mine().length >= 5 ? true : undefined), 60_000, "5 deliveries");
      for (const r of mine()) {
        assert.equal(receiver.signed(r, secret), true, `signed: ${r.raw}`);
        assert.deepEqual(Object.keys(r.body).sort(), [
          "content",
          "enqueuedDateTime",
          "eventType",
          "iTwinId",
          "messageId",
          "webhookId",
        ]);
        assert.equal(r.body.iTwinId, T);
        assert.equal(r.body.webhookId, webhookId);
        assert.equal(r.body.content.imodelId, iModel.id);
      }
      assert.deepEqual(
        mine().map((r) => [r.body.eventType, r.body.content.changesetIndex]),
        [
          ["iModels.iModelCreated.v1", undefined],
          ["iModels.changesetPushed.v1", "1"],
          ["iModels.changesetPushed.v1", "2"],
          ["iModels.changesetPushed.v1", "3"],
          ["iModels.namedVersionCreated.v1", "3"],
        ],
      );
      const pushed = mine()[1]!.body.content;
      assert.deepEqual(pushed, {
        imodelId: iModel.id,
        changesetId: fixture.changesets[0]!.id,
        changesetIndex: "1",
        briefcaseId: String(briefcaseId),
        userId: "alice",
      });
      // The cloud's content field for field (iModels API "available events"): no versionName since 2023.
      assert.deepEqual(mine()[4]!.body.content, {
        imodelId: iModel.id,
        versionId: version.body.namedVersion.id,
        changesetId: fixture.changesets.at(-1)!.id,
        changesetIndex: "3",
        userId: "alice",
      });

      const log = await call(`${hub.url}/webhooks/${webhookId}/deliveries`, "GET");
      assert.equal(log.status, 200);
      assert.deepEqual(
        (log.body.deliveries as Json[]).map((d) => [d.status, d.lastStatus, d.attempts]),
        Array(5).fill(["delivered", 200, 1]),
      );
    });

    it("sends iModels.changesReady.v1 once each pushed changeset's change summary is stored, in order", async () => {
      const made = await call(`${hub.url}/webhooks`, "POST", {
        callbackUrl: receiver.url("/ready"),
        scope: "iTwin",
        scopeId: T,
        eventTypes: ["iModels.changesReady.v1"],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const iModel = await createIModelFromFile(hub, fixture.version0Path, { iTwinId: T, name: "changes ready" });
      const briefcaseId = await acquireBriefcase(hub, iModel.id);
      for (const cs of fixture.changesets) await pushChangeset(hub, iModel.id, briefcaseId, cs);

      const ready = () =>
        receiver.received.filter((r) => r.path === "/ready" && r.body.content?.imodelId === iModel.id);
      await eventually(async () => (ready().length >= 3 ? true : undefined), 120_000, "3 changesReady deliveries");
      assert.deepEqual(
        ready().map((r) => [r.body.eventType, r.body.content]),
        fixture.changesets.map((cs, i) => [
          "iModels.changesReady.v1",
          { imodelId: iModel.id, changesetId: cs.id, changesetIndex: String(i + 1) },
        ]),
      );
      for (const r of ready()) assert.equal(receiver.signed(r, made.body.webhook.secret), true);
      // Sent when the summary is stored: the summary is there by then.
      const changes = await hub.api<Json>("GET", `/${iModel.id}/changesets/3/changes`);
      assert.equal(changes.status, 200, changes.text);
      assert.equal(changes.body.changes.state, "ready", changes.text);
    });

    it("refuses callbacks into private networks when they are registered", async () => {
      for (const callbackUrl of [
        "http://192.168.1.10/hook",
        "https://10.1.2.3/hook",
        "http://[fd00::1]/hook",
        "https://169.254.169.254/",
      ]) {
        const r = await call(`${hub.url}/webhooks`, "POST", {
          callbackUrl,
          scope: "iTwin",
          scopeId: T,
          eventTypes: ALL,
        });
        assert.equal(r.status, 422, `${callbackUrl}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.details[0].target, "callbackUrl");
      }
    });
  });

  it("loses nothing when the delivering node is killed (kill -9) mid-delivery: after the restart the event arrives", async () => {
    receiver.received.length = 0;
    // The first attempt hangs: the node dies while it holds the delivery's lease.
    let first = true;
    receiver.answer((r) => {
      if (r.path !== "/kill") return 200;
      if (first) {
        first = false;
        return "hang";
      }
      return 200;
    });
    const node = await startHubProcess({ args: ["--job-lease", "2"] });
    let restarted: Awaited<ReturnType<typeof startHubProcess>> | undefined;
    try {
      const made = await call(`${node.url}/webhooks`, "POST", {
        callbackUrl: receiver.url("/kill"),
        scope: "iTwin",
        scopeId: T,
        eventTypes: ["iModels.iModelCreated.v1"],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const created = await call(`${node.url}/imodels`, "POST", { iTwinId: T, name: "killed" });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await eventually(
        async () => (receiver.received.some((r) => r.path === "/kill") ? true : undefined),
        60_000,
        "the first attempt",
      );
      await node.kill();
      assert.equal(receiver.received.filter((r) => r.path === "/kill").length, 1, "killed before any answer");

      restarted = await startHubProcess({ dataDir: node.dataDir, args: ["--job-lease", "2"] });
      const again = await eventually(
        async () => receiver.received.filter((r) => r.path === "/kill")[1],
        60_000,
        "the delivery after the restart",
      );
      assert.equal(
        again.body.messageId,
        receiver.received.find((r) => r.path === "/kill")!.body.messageId,
        "the same event",
      );
      assert.equal(again.body.content.imodelId, created.body.iModel.id);
      assert.equal(receiver.signed(again, made.body.webhook.secret), true);
      const log = await eventually(
        async () => {
          const r = await call(`${restarted!.url}/webhooks/${made.body.webhook.id}/deliveries`, "GET");
          return r.body.deliveries?.[0]?.status === "delivered" ? r : undefined;
        },
        30_000,
        "delivered in the log",
      );
      assert.equal(log.body.deliveries[0].attempts, 2);
    } finally {
      await restarted?.stop();
      await node.kill();
      await rm(node.dataDir, { recursive: true, force: true });
      receiver.answer(() => 200);
    }
  });
});
