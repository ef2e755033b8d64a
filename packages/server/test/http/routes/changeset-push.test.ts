// routes/changeset-push.ts through inject: the push in one request's validation and answers (no worker: the iModel
// stays empty). Pushes that land are tested with iTwin.js in backend-access (request-count, transfers,
// lost-push-answer) and in test/e2e/one-request-push.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

const properties = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

describe("routes/changeset-push.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  const push = (headers: Record<string, string>, body: Buffer = Buffer.from("changeset bytes")) =>
    h.call("POST", `/imodels/${id}/changesets/push`, {
      rawBody: body,
      headers: { "content-type": "application/octet-stream", ...headers },
    });
  const valid = { id: "a".repeat(40), parentId: "", briefcaseId: 2, fileSize: 15 };

  it("refuses a push without its properties, or with properties that are not base64url JSON, naming the header", async () => {
    for (const headers of [{}, { "x-modelhub-changeset": "not base64 json!" }] as Record<string, string>[]) {
      const bad = await push(headers);
      assert.equal(bad.status, 422, bad.text);
      assert.equal(bad.body.error.code, "InvalidiModelsRequest");
      assert.deepEqual(
        bad.body.error.details.map((d: { target: string }) => d.target),
        ["x-modelhub-changeset"],
      );
    }
  });

  it("refuses malformed properties as a create does, with the property named", async () => {
    const bad = await push({ "x-modelhub-changeset": properties({ ...valid, id: "x" }) });
    assert.equal(bad.status, 422, bad.text);
    assert.deepEqual(
      bad.body.error.details.map((d: { target: string }) => d.target),
      ["id"],
    );
  });

  it("refuses a file whose size is not the declared one, and an empty body", async () => {
    const short = await push({ "x-modelhub-changeset": properties({ ...valid, fileSize: 99 }) });
    assert.equal(short.status, 409, short.text);
    assert.equal(short.body.error.code, "DataConflict");
    assert.match(short.body.error.message, /declared 99 bytes, uploaded 15 bytes/);
    const empty = await push({ "x-modelhub-changeset": properties(valid) }, Buffer.alloc(0));
    assert.equal(empty.status, 422, empty.text);
    assert.deepEqual(
      empty.body.error.details.map((d: { target: string }) => d.target),
      ["body"],
    );
  });

  it("answers what a create answers where the iModel cannot take a changeset (here: no baseline yet)", async () => {
    const created = await h.call("POST", `/imodels/${id}/changesets`, { body: valid });
    const pushed = await push({ "x-modelhub-changeset": properties(valid) });
    assert.equal(pushed.status, created.status, pushed.text);
    assert.deepEqual(pushed.body, created.body);
    assert.equal((await h.call("GET", `/imodels/${id}/changesets`)).body.changesets.length, 0);
  });

  it("takes only the changeset file's media type, and at most 8 MiB in one request", async () => {
    const json = await h.call("POST", `/imodels/${id}/changesets/push`, { body: valid });
    assert.equal(json.status, 422, json.text);
    assert.match(json.body.error.details[0].message, /must be the changeset file \(application\/octet-stream\)/);
    const large = await push(
      { "x-modelhub-changeset": properties({ ...valid, fileSize: 8 * 1024 * 1024 + 1 }) },
      Buffer.alloc(8 * 1024 * 1024 + 1),
    );
    assert.equal(large.status, 413, large.text);
    assert.ok(large.body.error.code, large.text);
  });
});
