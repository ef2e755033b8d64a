// routes/checkpoints.ts through inject.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/checkpoints.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("lists an iModel's checkpoints with their disk use, and answers CheckpointNotFound before the baseline is made", async () => {
    assert.deepEqual((await h.call("GET", `/imodels/${id}/checkpoints`)).body, { checkpoints: [], totalSize: 0 });
    const none = await h.call("GET", `/imodels/${id}/changesets/0/checkpoint`);
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, "CheckpointNotFound");
    const version = await h.call("GET", `/imodels/${id}/namedversions/00000000-0000-4000-8000-000000000000/checkpoint`);
    assert.equal(version.status, 404);
  });
});
