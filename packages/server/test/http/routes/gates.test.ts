// routes/gates.ts through inject: an iTwin's gates (issue 21) created, listed, read, changed and deleted; secrets
// shown once when generated and never after; URLs the outbound rules refuse answered 422 naming `url`; each write
// audited; what the API changes is what pushes are checked against (GateService.gatesFor).
// Who may call the routes (managers only: a reader 403, a stranger 404) is proved on a hub with tokens in
// packages/backend-access/test/gates-api.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub, Json } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

const SECRET = "a-secret-of-at-least-thirty-two-characters";

describe("routes/gates.ts", () => {
  let h: InjectHub;
  let iTwinId: string;
  let otherITwinId: string;
  before(async () => {
    h = await injectHub();
    iTwinId = (await h.call("POST", "/itwins", { body: { displayName: "Gated" } })).body.iTwin.id as string;
    otherITwinId = (await h.call("POST", "/itwins", { body: { displayName: "Other" } })).body.iTwin.id as string;
  });
  after(() => h.close());

  const gates = (id = iTwinId) => `/itwins/${id}/gates`;

  it("creates gates (a generated secret shown once, a given one never), lists, reads, changes and deletes them", async () => {
    const generated = await h.call("POST", gates(), { body: { url: "http://127.0.0.1:9/check", name: "integrity" } });
    assert.equal(generated.status, 201, generated.text);
    const first = generated.body.gate as Json;
    assert.match(first.secret as string, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      { ...first, id: undefined, secret: undefined, createdDateTime: undefined },
      {
        id: undefined,
        iTwinId,
        name: "integrity",
        url: "http://127.0.0.1:9/check",
        timeoutMs: 10_000,
        failure: "closed",
        signed: true,
        createdDateTime: undefined,
        createdBy: "alice",
        secret: undefined,
      },
    );

    const given = await h.call("POST", gates(), {
      body: { url: "http://localhost:9/b", timeoutMs: 2_000, failure: "open", secret: SECRET },
    });
    assert.equal(given.status, 201, given.text);
    assert.equal(given.body.gate.secret, undefined);
    assert.equal(given.body.gate.signed, true);
    assert.equal(given.body.gate.name, "localhost:9", "the name defaults to the URL's host");
    assert.ok(!given.text.includes(SECRET));

    const unsigned = await h.call("POST", gates(), { body: { url: "http://127.0.0.1:9/c", secret: null } });
    assert.equal(unsigned.status, 201, unsigned.text);
    assert.equal(unsigned.body.gate.signed, false);
    assert.equal(unsigned.body.gate.secret, undefined);

    const list = await h.call("GET", gates());
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.body.gates.map((g: Json) => g.id),
      [first.id, given.body.gate.id, unsigned.body.gate.id],
      "registration order",
    );
    assert.ok(!list.text.includes(SECRET) && !list.text.includes(first.secret as string), "no secret is listed");
    assert.deepEqual((await h.call("GET", gates(otherITwinId))).body.gates, []);

    const one = await h.call("GET", `${gates()}/${first.id}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.body.gate.secret, undefined);
    assert.equal(one.body.gate.name, "integrity");
    // A gate is found only through its own iTwin.
    assert.equal((await h.call("GET", `${gates(otherITwinId)}/${first.id}`)).status, 404);

    const changed = await h.call("PATCH", `${gates()}/${first.id}`, { body: { failure: "open", timeoutMs: 500 } });
    assert.equal(changed.status, 200, changed.text);
    assert.deepEqual([changed.body.gate.failure, changed.body.gate.timeoutMs], ["open", 500]);
    assert.equal(changed.body.gate.secret, undefined);
    const unsign = await h.call("PATCH", `${gates()}/${first.id}`, { body: { secret: null } });
    assert.equal(unsign.body.gate.signed, false);

    // What the API set is what a push of the iTwin is checked against (the service's cache follows at once).
    const inUse = await h.hub.gates!.gatesFor(iTwinId);
    assert.deepEqual(
      inUse.map((g) => [g.name, g.failure, g.secret]),
      [
        ["integrity", "open", null],
        ["localhost:9", "open", SECRET],
        ["127.0.0.1:9", "closed", null],
      ],
    );
    assert.deepEqual(await h.hub.gates!.gatesFor(otherITwinId), []);

    const deleted = await h.call("DELETE", `${gates()}/${first.id}`);
    assert.equal(deleted.status, 204, deleted.text);
    const gone = await h.call("GET", `${gates()}/${first.id}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body.error, { code: "NotFound", message: "Requested Gate is not available." });
    assert.equal((await h.call("DELETE", `${gates()}/${first.id}`)).status, 404);
    assert.equal((await h.call("PATCH", `${gates()}/${first.id}`, { body: { name: "x" } })).status, 404);
    assert.equal((await h.hub.gates!.gatesFor(iTwinId)).length, 2);

    const log = await h.call("GET", `/auditlog?iTwinId=${iTwinId}`);
    const entries = (log.body.auditEntries as Json[]).filter((e) => String(e.action).startsWith("gate."));
    assert.deepEqual(
      entries.map((e) => [e.action, e.target]),
      [
        ["gate.create", first.id],
        ["gate.create", given.body.gate.id],
        ["gate.create", unsigned.body.gate.id],
        ["gate.update", first.id],
        ["gate.update", first.id],
        ["gate.delete", first.id],
        ["gate.delete", first.id],
        ["gate.update", first.id],
      ],
    );
    assert.ok(!log.text.includes(SECRET), "the audit log keeps no secret");
  });

  it("refuses URLs the outbound rules refuse, bad fields and unknown iTwins with the API's error bodies", async () => {
    const refused = async (body: unknown, target: string, path = gates(), method = "POST") => {
      const r = await h.call(method, path, { body });
      assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error.code, "InvalidiModelsRequest");
      assert.deepEqual(
        r.body.error.details.map((d: Json) => d.target),
        [target],
        r.text,
      );
      return r.body.error.details[0].message as string;
    };
    assert.match(await refused({ url: "http://example.com/check" }, "url"), /allow-list|http:/i);
    assert.match(await refused({ url: "https://10.1.2.3/check" }, "url"), /private|address/i);
    assert.match(await refused({ url: "https://user:pw@gate.example.com/" }, "url"), /credential/i);
    await refused({ url: "ftp://127.0.0.1/" }, "url");
    await refused({ url: "not a url" }, "url");
    await refused({ name: "no url" }, "url");
    assert.match(await refused({ url: "http://127.0.0.1:9/", secret: "short" }, "secret"), /32 characters/);
    await refused({ url: "http://127.0.0.1:9/", timeoutMs: 50 }, "timeoutMs");
    await refused({ url: "http://127.0.0.1:9/", timeoutMs: 3_600_000 }, "timeoutMs");
    await refused({ url: "http://127.0.0.1:9/", failure: "sometimes" }, "failure");
    await refused({ url: "http://127.0.0.1:9/", timeout: 5 }, "timeout");
    await refused({ url: "http://127.0.0.1:9/", name: "" }, "name");
    const notJson = await h.call("POST", gates(), { rawBody: "[]", headers: { "content-type": "application/json" } });
    assert.equal(notJson.status, 422, notJson.text);

    const created = await h.call("POST", gates(), { body: { url: "http://127.0.0.1:9/ok" } });
    assert.equal(created.status, 201, created.text);
    const path = `${gates()}/${created.body.gate.id}`;
    await refused({ url: "http://192.168.1.1/x" }, "url", path, "PATCH");
    await refused({ secret: "short" }, "secret", path, "PATCH");
    const empty = await h.call("PATCH", path, { body: {} });
    assert.equal(empty.status, 422, empty.text);
    assert.equal((await h.call("GET", path)).body.gate.url, "http://127.0.0.1:9/ok", "refused changes change nothing");

    const nowhere = await h.call("GET", gates("6b2c0e9a-1d3f-4a5b-8c7d-9e0f1a2b3c4d"));
    assert.equal(nowhere.status, 404);
    assert.equal(nowhere.body.error.code, "iTwinNotFound");
    const createNowhere = await h.call("POST", gates("6b2c0e9a-1d3f-4a5b-8c7d-9e0f1a2b3c4d"), {
      body: { url: "http://127.0.0.1:9/ok" },
    });
    assert.equal(createNowhere.status, 404, createNowhere.text);
    assert.equal((await h.call("GET", gates(), { user: null })).status, 401);
  });
});
