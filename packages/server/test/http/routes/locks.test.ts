// routes/locks.ts through inject.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/locks.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("lists no locks as an empty page (BackendIModelsAccess loops on anything else) and validates lock requests", async () => {
    const list = await h.call("GET", `/imodels/${id}/locks?briefcaseId=2`);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.locks, []);
    assert.ok("_links" in list.body);
    const bad = await h.call("PATCH", `/imodels/${id}/locks`, { body: { briefcaseId: "two", lockedObjects: [] } });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.details[0].target, "briefcaseId");
    const release = await h.call("POST", `/imodels/${id}/locks/release-chunk`, { body: {} });
    assert.equal(release.status, 422);
    assert.equal(release.body.error.code, "InvalidiModelsRequest");
  });
});
