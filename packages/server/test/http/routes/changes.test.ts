// routes/changes.ts through inject: the element-level changes extension's rules and errors (the summaries themselves
// are made by the iTwin.js worker: backend-access/test/changes.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/changes.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("answers 404 for an unknown iModel and for a changeset the iModel does not have", async () => {
    const unknown = await h.call("GET", "/imodels/00000000-0000-4000-8000-000000000000/changes?from=0&to=1");
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.body.error.code, "iModelNotFound", unknown.text);
    const id = await h.createIModel();
    const missing = await h.call("GET", `/imodels/${id}/changesets/7/changes`);
    assert.equal(missing.status, 404, missing.text);
    assert.equal(missing.body.error.code, "ChangesetNotFound", missing.text);
  });

  it("refuses a compare without both points, with unknown points or a huge page, in the API's error shape", async () => {
    const id = await h.createIModel();
    const expected: [string, number, string][] = [
      ["", 422, "InvalidiModelsRequest"],
      ["?from=0", 422, "InvalidiModelsRequest"],
      // Points the iModel does not have (it has only its baseline, index 0).
      ["?from=3&to=1", 404, "ChangesetNotFound"],
      ["?from=0&to=0&$top=100000", 422, "InvalidiModelsRequest"],
    ];
    for (const [query, status, code] of expected) {
      const r = await h.call("GET", `/imodels/${id}/changes${query}`);
      assert.equal(r.status, status, `${query}: ${r.text}`);
      assert.equal(r.body.error?.code, code, `${query}: ${r.text}`);
    }
    const same = await h.call("GET", `/imodels/${id}/changes?from=0&to=0`);
    assert.equal(same.status, 200, same.text);
    assert.equal(same.body.comparison.from.changesetIndex, 0, same.text);
  });

  it("is refused without a token", async () => {
    const id = await h.createIModel();
    const r = await h.call("GET", `/imodels/${id}/changes?from=0&to=0`, { user: null });
    assert.equal(r.status, 401, r.text);
  });
});
