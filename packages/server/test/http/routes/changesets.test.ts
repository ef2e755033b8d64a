// routes/changesets.ts through inject: lists, lookups and the push's validation (no worker: the iModel stays empty).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/changesets.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("lists an empty history with paging links and answers ChangesetNotFound for one that does not exist", async () => {
    const list = await h.call("GET", `/imodels/${id}/changesets`);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.changesets, []);
    assert.equal(list.body._links.next, null);
    for (const path of [`/imodels/${id}/changesets/1`, `/imodels/${id}/changesets/${"a".repeat(40)}`]) {
      const missing = await h.call("GET", path);
      assert.equal(missing.status, 404, path);
      assert.equal(missing.body.error.code, "ChangesetNotFound");
    }
    assert.deepEqual((await h.call("GET", `/imodels/${id}/changesetgroups`)).body.changesetGroups, []);
  });

  it("takes x-modelhub-inline-files (files with the page, backend-access/test/request-count.test.ts) on any page", async () => {
    const list = await h.call("GET", `/imodels/${id}/changesets`, {
      headers: { prefer: "return=representation", "x-modelhub-inline-files": "1000000" },
    });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.changesets, []);
    assert.equal(list.body.inlineFiles, undefined, "nothing to carry");
  });

  it("refuses a malformed changeset with the property named", async () => {
    const bad = await h.call("POST", `/imodels/${id}/changesets`, { body: { id: "x", briefcaseId: 2, fileSize: 1 } });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.code, "InvalidiModelsRequest");
    assert.deepEqual(
      bad.body.error.details.map((d: { target: string }) => d.target),
      ["id"],
    );
  });
});
