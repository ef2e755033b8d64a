// routes/webhooks.ts through inject: the Webhooks API v2's shapes and validation, and the outbox rows a change writes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub, Json } from "../support/inject-hub.js";
import { ITWIN, injectHub } from "../support/inject-hub.js";

const CALLBACK = "http://127.0.0.1:9/hooks";

describe("routes/webhooks.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  const create = (body: Json) => h.call("POST", "/webhooks", { body });

  it("creates a webhook in the cloud's shape: a generated secret shown once, 30 days, active by default", async () => {
    const before = Date.now();
    const made = await create({
      callbackUrl: CALLBACK,
      scope: "iTwin",
      scopeId: ITWIN,
      eventTypes: ["iModels.iModelCreated.v1"],
    });
    assert.equal(made.status, 201, made.text);
    const hook = made.body.webhook;
    assert.match(hook.secret, /^[0-9a-f]{64}$/);
    assert.equal(hook.active, true);
    assert.equal(hook.scope, "iTwin");
    assert.equal(hook.scopeId, ITWIN);
    assert.equal(hook.createdBy, "alice");
    const expires = Date.parse(hook.expirationDateTime) - before;
    assert.ok(expires >= 30 * 86_400_000 - 1000 && expires <= 30 * 86_400_000 + 60_000, hook.expirationDateTime);
    const got = await h.call("GET", `/webhooks/${hook.id}`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.webhook.secret, undefined, "the secret is never shown again");
    assert.deepEqual({ ...got.body.webhook, secret: hook.secret }, hook);
    const list = await h.call("GET", "/webhooks?$top=1");
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.webhooks.length, 1);
    assert.equal(list.body.webhooks[0].secret, undefined);

    const patched = await h.call("PATCH", `/webhooks/${hook.id}`, {
      body: { active: false, eventTypes: ["iModels.changesetPushed.v1"] },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.webhook.active, false);
    assert.deepEqual(patched.body.webhook.eventTypes, ["iModels.changesetPushed.v1"]);
    assert.equal((await h.call("PATCH", `/webhooks/${hook.id}`, { body: {} })).status, 422);

    assert.equal((await h.call("DELETE", `/webhooks/${hook.id}`)).status, 204);
    const gone = await h.call("GET", `/webhooks/${hook.id}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, { error: { code: "NotFound", message: "Requested Webhook is not available." } });
  });

  it("refuses what the cloud refuses, and callbacks into private networks, with the API's error body", async () => {
    const base = { callbackUrl: CALLBACK, scope: "iTwin", scopeId: ITWIN, eventTypes: ["iModels.iModelCreated.v1"] };
    const refused = async (body: Json, target: string) => {
      const r = await create(body);
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.error.code, "InvalidiModelsRequest", r.text);
      assert.equal(r.body.error.details[0].target, target, r.text);
      return r.body.error.details[0].message as string;
    };
    await refused({ ...base, secret: "short" }, "secret");
    await refused({ ...base, eventTypes: ["iModels.nothing.v1"] }, "eventTypes");
    await refused({ ...base, eventTypes: [] }, "eventTypes");
    await refused({ ...base, expirationDateTime: "2001-01-01T00:00:00Z" }, "expirationDateTime");
    await refused({ ...base, scopeId: undefined }, "scopeId");
    // SSRF: http: only to allow-listed hosts (loopback by default), never a private address, never credentials.
    for (const url of [
      "http://example.com/in",
      "https://10.0.0.1/in",
      "https://169.254.169.254/latest",
      "https://u:p@example.com/",
      "file:///etc/passwd",
    ])
      await refused({ ...base, callbackUrl: url }, "callbackUrl");
    const ok = await create({ ...base, secret: "x".repeat(32), callbackUrl: "https://example.com/in" });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.body.webhook.secret, "x".repeat(32));
    await h.call("DELETE", `/webhooks/${ok.body.webhook.id}`);
  });

  it("queues the change's event for matching webhooks only, with the cloud's envelope; lists and redelivers it", async () => {
    const hook = (
      await create({
        callbackUrl: CALLBACK,
        scope: "iTwin",
        scopeId: ITWIN,
        eventTypes: ["iModels.iModelCreated.v1", "iModels.iModelDeleted.v1"],
      })
    ).body.webhook;
    const account = (
      await create({ callbackUrl: CALLBACK, scope: "Account", eventTypes: ["iModels.iModelCreated.v1"] })
    ).body.webhook;
    assert.equal(account.scopeId, undefined);
    const inactive = (
      await create({
        callbackUrl: CALLBACK,
        scope: "iTwin",
        scopeId: ITWIN,
        eventTypes: ["iModels.iModelCreated.v1"],
        active: false,
      })
    ).body.webhook;
    const other = (
      await create({
        callbackUrl: CALLBACK,
        scope: "iTwin",
        scopeId: "0b1e0b1e-0000-4000-8000-000000000001",
        eventTypes: ["iModels.iModelCreated.v1"],
      })
    ).body.webhook;

    const iModelId = await h.createIModel();
    assert.equal((await h.call("DELETE", `/imodels/${iModelId}`)).status, 204);
    // Fan the events out into deliveries (as the deliverer would, after the commits).
    assert.deepEqual(await h.webhookStore.fanOut(), { events: 2, deliveries: 3, more: false });
    const log = await h.call("GET", `/webhooks/${hook.id}/deliveries`);
    assert.equal(log.status, 200, log.text);
    const [deleted, created] = log.body.deliveries as Json[];
    assert.deepEqual(
      [created!.eventType, deleted!.eventType],
      ["iModels.iModelCreated.v1", "iModels.iModelDeleted.v1"],
    );
    assert.equal(created!.status, "pending");
    assert.deepEqual(created!.envelope, {
      content: { imodelId: iModelId, userId: "alice" },
      eventType: "iModels.iModelCreated.v1",
      iTwinId: ITWIN,
      messageId: created!.id,
      webhookId: hook.id,
      enqueuedDateTime: created!.enqueuedDateTime,
    });
    assert.equal((await h.call("GET", `/webhooks/${account.id}/deliveries`)).body.deliveries.length, 1);
    assert.equal((await h.call("GET", `/webhooks/${inactive.id}/deliveries`)).body.deliveries.length, 0);
    assert.equal((await h.call("GET", `/webhooks/${other.id}/deliveries`)).body.deliveries.length, 0);

    // Deliver it (as the deliverer would), then ask for it again.
    const [claimed] = await h.webhookStore.claimMany("test", Date.now(), 60_000, 1);
    assert.ok(claimed);
    const outcome = {
      state: "failed" as const,
      nextAttemptMs: Date.now(),
      lastStatus: 500,
      lastAnswer: "boom",
      durationMs: 4,
      at: new Date().toISOString(),
    };
    assert.deepEqual(await h.webhookStore.finishMany([{ id: claimed.id, owner: "test", outcome }]), [true]);
    const failed = (await h.call("GET", `/webhooks/${claimed.webhookId}/deliveries`)).body.deliveries.find(
      (d: Json) => d.id === claimed.id,
    );
    assert.deepEqual(
      [failed.status, failed.lastStatus, failed.lastAnswer, failed.attempts],
      ["failed", 500, "boom", 1],
    );
    const again = await h.call("POST", `/webhooks/${claimed.webhookId}/deliveries/${claimed.id}/redeliver`);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.delivery.status, "pending");
    const missing = await h.call("POST", `/webhooks/${claimed.webhookId}/deliveries/nope/redeliver`);
    assert.equal(missing.status, 404, missing.text);
  });

  it("queues the cloud's Access Control events in the transaction that changes a membership", async () => {
    const hook = (
      await create({
        callbackUrl: CALLBACK,
        scope: "iTwin",
        scopeId: ITWIN,
        eventTypes: ["accessControl.memberAdded.v1", "accessControl.roleAssigned.v1", "accessControl.memberRemoved.v1"],
      })
    ).body.webhook;
    const role = async (displayName: string) => {
      const r = await h.call("POST", `/accesscontrol/itwins/${ITWIN}/roles`, {
        body: { displayName, permissions: ["imodels_read"] },
      });
      assert.equal(r.status, 201, r.text);
      return r.body.role.id as string;
    };
    const [reader, other] = [await role("Hook reader"), await role("Hook other")];
    const added = await h.call("POST", `/accesscontrol/itwins/${ITWIN}/members/users`, {
      body: { members: [{ userId: "carol", roleIds: [reader] }] },
    });
    assert.equal(added.status, 201, added.text);
    const set = await h.call("PATCH", `/accesscontrol/itwins/${ITWIN}/members/users/carol`, {
      body: { roleIds: [reader, other] },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal((await h.call("DELETE", `/accesscontrol/itwins/${ITWIN}/members/users/carol`)).status, 204);
    await h.webhookStore.fanOut();
    const log = (await h.call("GET", `/webhooks/${hook.id}/deliveries`)).body.deliveries as Json[];
    assert.deepEqual(
      log.reverse().map((d) => [d.eventType, d.envelope.content]),
      [
        [
          "accessControl.memberAdded.v1",
          { memberId: "carol", memberType: "User", roleId: reader, roleName: "Hook reader", eventCreatedBy: "alice" },
        ],
        [
          "accessControl.roleAssigned.v1",
          { memberId: "carol", memberType: "User", roleId: other, roleName: "Hook other", eventCreatedBy: "alice" },
        ],
        ["accessControl.memberRemoved.v1", { memberId: "carol", memberType: "User", eventCreatedBy: "alice" }],
      ],
    );
    assert.equal(log[0]!.envelope.iTwinId, ITWIN);
  });
});
