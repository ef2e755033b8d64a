// routes/admin.ts through inject (open mode: everyone is an administrator).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/admin.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("answers the hub's version, its jobs and storage use; refuses hub tokens in open mode, and records the refusal", async () => {
    assert.equal((await h.call("GET", "/admin/about")).body.hub.version, "inject");
    const jobs = await h.call("GET", "/admin/jobs");
    assert.equal(jobs.status, 200, jobs.text);
    assert.ok(Array.isArray(jobs.body.jobs));
    assert.equal((await h.call("GET", "/admin/storage")).status, 200);
    const token = await h.call("POST", "/admin/tokens", { body: { userId: "dave" } });
    assert.equal(token.status, 400, token.text);
    assert.match(token.body.error.message, /--auth tokens/);
    const log = await h.call("GET", "/auditlog?action=token.create");
    assert.deepEqual(
      log.body.auditEntries.map((e: { status: number }) => e.status),
      [400],
      log.text,
    );
  });
});
