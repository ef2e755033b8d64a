// routes/auditlog.ts through inject: a write is in the log as soon as it is answered.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { ITWIN, injectHub } from "../support/inject-hub.js";

describe("routes/auditlog.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("answers an iModel's log and an iTwin's, filtered, with the actions the routes name", async () => {
    const id = await h.createIModel("audited");
    await h.call("PATCH", `/imodels/${id}`, { body: { description: "changed" } });
    const mine = await h.call("GET", `/imodels/${id}/auditlog`);
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(
      mine.body.auditEntries.map((e: { action: string; userId: string }) => [e.action, e.userId]),
      [
        ["imodel.create", "alice"],
        ["imodel.update", "alice"],
      ],
    );
    const iTwin = await h.call("GET", `/auditlog?iTwinId=${ITWIN}&action=imodel.update`);
    assert.deepEqual(
      iTwin.body.auditEntries.map((e: { iModelId: string }) => e.iModelId),
      [id],
    );
    const bad = await h.call("GET", `/auditlog?since=yesterday`);
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.details[0].target, "since");
  });
});
