// routes/itwins.ts through inject: the iTwins API v1's shapes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/itwins.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("creates, lists, renames and deletes an iTwin, and refuses a duplicate name", async () => {
    const made = await h.call("POST", "/itwins", { body: { displayName: "Site A" } });
    assert.equal(made.status, 201, made.text);
    const id = made.body.iTwin.id as string;
    assert.equal((await h.call("POST", "/itwins", { body: { displayName: "site a" } })).body.error.code, "iTwinExists");
    assert.deepEqual(
      (await h.call("GET", "/itwins")).body.iTwins.map((t: { id: string }) => t.id),
      [id],
    );
    assert.equal(
      (await h.call("GET", "/itwins/00000000-0000-4000-8000-000000000000")).body.error.code,
      "iTwinNotFound",
    );
    assert.equal(
      (await h.call("PATCH", `/itwins/${id}`, { body: { displayName: "Site B" } })).body.iTwin.displayName,
      "Site B",
    );
    assert.equal((await h.call("DELETE", `/itwins/${id}`)).status, 204);
    const log = await h.call("GET", `/auditlog?iTwinId=${id}`);
    assert.deepEqual(
      log.body.auditEntries.map((e: { action: string }) => e.action),
      ["itwin.create", "itwin.update", "itwin.delete"],
    );
  });
});
