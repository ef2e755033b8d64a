// routes/briefcases.ts through inject.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/briefcases.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("lists no briefcases, refuses one before the iModel has a baseline, and is audited", async () => {
    assert.deepEqual((await h.call("GET", `/imodels/${id}/briefcases`)).body.briefcases, []);
    const early = await h.call("POST", `/imodels/${id}/briefcases`, { body: { deviceName: "laptop" } });
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, "iModelNotInitialized");
    const missing = await h.call("GET", `/imodels/${id}/briefcases/7`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "BriefcaseNotFound");
    const log = await h.call("GET", `/imodels/${id}/auditlog?action=briefcase.acquire`);
    assert.deepEqual(
      log.body.auditEntries.map((e: { status: number; outcome: string }) => [e.status, e.outcome]),
      [[409, "refused"]],
    );
  });
});
