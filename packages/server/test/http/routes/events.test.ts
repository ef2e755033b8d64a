// routes/events.ts through inject (the stream itself is tested over real HTTP in test/e2e/events.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/events.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("answers a JSON client with a clear 400, an unknown iModel with 404, and HEAD with the stream's headers", async () => {
    const json = await h.call("GET", `/imodels/${id}/events`);
    assert.equal(json.status, 400);
    assert.equal(json.body.error.code, "BadRequest");
    const unknown = await h.call("GET", "/imodels/00000000-0000-4000-8000-000000000000/events", {
      headers: { accept: "text/event-stream" },
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "iModelNotFound");
    const head = await h.call("HEAD", `/imodels/${id}/events`, { headers: { accept: "text/event-stream" } });
    assert.equal(head.status, 200);
    assert.match(String(head.headers["content-type"]), /^text\/event-stream/);
  });
});
