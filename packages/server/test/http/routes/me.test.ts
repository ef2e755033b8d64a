// routes/me.ts through inject.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/me.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("says who the caller is, and asks for a token", async () => {
    const me = await h.call("GET", "/me", { user: "carol" });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.user.id, "carol");
    assert.equal(me.body.authMode, "open");
    assert.equal((await h.call("GET", "/me", { user: null })).status, 401);
  });
});
