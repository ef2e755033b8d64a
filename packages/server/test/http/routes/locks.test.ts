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

  it("answers no body to `x-modelhub-lock-answer: none` (204), and the locks are taken all the same", async () => {
    // No worker runs here to make the baseline: the iModel is marked initialized by hand.
    await h.store.transaction(async (tx) => {
      const record = (await tx.getIModel(id))!;
      await tx.updateIModel({ ...record, state: "initialized", baselineState: "initialized" });
    });
    const briefcase = await h.call("POST", `/imodels/${id}/briefcases`, { body: {} });
    assert.equal(briefcase.status, 201, briefcase.text);
    const briefcaseId = briefcase.body.briefcase.briefcaseId as number;
    const request = (objectIds: string[], headers: Record<string, string> = {}) =>
      h.call("PATCH", `/imodels/${id}/locks`, {
        body: { briefcaseId, changesetId: "", lockedObjects: [{ lockLevel: "exclusive", objectIds }] },
        headers,
      });
    const silent = await request(["0x20000001", "0x20000002"], { "x-modelhub-lock-answer": "none" });
    assert.equal(silent.status, 204, silent.text);
    assert.equal(silent.text, "");
    // Without the header: the cloud's answer, the briefcase's whole set (the silent request's locks included).
    const answered = await request(["0x20000003"]);
    assert.equal(answered.status, 200, answered.text);
    assert.deepEqual(answered.body.lock, {
      briefcaseId,
      lockedObjects: [{ lockLevel: "exclusive", objectIds: ["0x20000001", "0x20000002", "0x20000003"] }],
    });
    // A refusal is the API's error either way.
    const bad = await request(["not an id"], { "x-modelhub-lock-answer": "none" });
    assert.equal(bad.status, 422, bad.text);
  });
});
