// routes/named-versions.ts through inject.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/named-versions.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("lists none, refuses a version without a name and answers NamedVersionNotFound", async () => {
    assert.deepEqual((await h.call("GET", `/imodels/${id}/namedversions`)).body.namedVersions, []);
    const nameless = await h.call("POST", `/imodels/${id}/namedversions`, { body: { changesetId: "" } });
    assert.equal(nameless.status, 422);
    assert.deepEqual(
      nameless.body.error.details.map((d: { code: string; target: string }) => [d.code, d.target]),
      [["MissingRequiredProperty", "name"]],
    );
    const missing = await h.call("GET", `/imodels/${id}/namedversions/00000000-0000-4000-8000-000000000000`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "NamedVersionNotFound");
  });
});
