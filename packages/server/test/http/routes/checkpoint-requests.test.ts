// routes/checkpoint-requests.ts through inject.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/checkpoint-requests.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("refuses a checkpoint of a changeset the iModel does not have, and is audited", async () => {
    const id = await h.createIModel();
    const r = await h.call("PUT", `/imodels/${id}/changesets/5/checkpoint`);
    assert.ok(r.status === 404 || r.status === 409, r.text);
    const log = await h.call("GET", `/imodels/${id}/auditlog?action=checkpoint.request`);
    assert.equal(log.body.auditEntries.length, 1, log.text);
  });
});
