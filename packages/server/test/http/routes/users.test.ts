// routes/users.ts through inject.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/users.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("lists the iModel's users with links the official client parses, and one by id", async () => {
    const list = await h.call("GET", `/imodels/${id}/users`);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.body.users.map((u: { id: string }) => u.id),
      ["alice"],
    );
    assert.equal(list.body.users[0]._links.self.href, `http://127.0.0.1/imodels/${id}/users/alice`);
    const one = await h.call("GET", `/imodels/${id}/users/alice`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.body.user.id, "alice");
    const badOrder = await h.call("GET", `/imodels/${id}/users?$orderBy=age`);
    assert.equal(badOrder.status, 422);
  });
});
