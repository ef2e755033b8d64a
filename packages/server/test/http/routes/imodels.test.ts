// routes/imodels.ts through inject: create, read, list, update, delete, with the seeds' validation errors.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { ITWIN, injectHub } from "../support/inject-hub.js";

describe("routes/imodels.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("creates, reads, lists, renames and deletes an iModel, each answer in the API's media type", async () => {
    const made = await h.call("POST", "/imodels", { body: { iTwinId: ITWIN, name: "Bridge", description: "deck" } });
    assert.equal(made.status, 201, made.text);
    assert.match(String(made.headers["content-type"]), /^application\/vnd\.bentley\.itwin-platform\.v2\+json/);
    const id = made.body.iModel.id as string;
    assert.equal(made.body.iModel.state, "notInitialized");
    assert.equal((await h.call("GET", `/imodels/${id}`)).body.iModel.name, "Bridge");
    const list = await h.call("GET", `/imodels?iTwinId=${ITWIN}`, { headers: { prefer: "return=representation" } });
    assert.deepEqual(
      list.body.iModels.map((m: { id: string }) => m.id),
      [id],
    );
    const renamed = await h.call("PATCH", `/imodels/${id}`, { body: { name: "Bridge 2" } });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.iModel.name, "Bridge 2");
    assert.equal((await h.call("GET", `/imodels/${id}/operations/create`)).body.createOperation.state, "scheduled");
    assert.deepEqual((await h.call("GET", `/imodels/${id}/permissions`)).body.permissions.length, 5);
    assert.equal((await h.call("DELETE", `/imodels/${id}`)).status, 204);
    const gone = await h.call("GET", `/imodels/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, "iModelNotFound");
  });

  it("answers bad input with the seeds' codes and asks for a token", async () => {
    const noName = await h.call("POST", "/imodels", { body: { iTwinId: ITWIN } });
    assert.equal(noName.status, 422);
    assert.deepEqual(noName.body.error.details, [
      { code: "MissingRequiredProperty", message: "Required property is missing.", target: "name" },
    ]);
    const noITwin = await h.call("GET", "/imodels");
    assert.equal(noITwin.status, 422);
    assert.equal(noITwin.body.error.details[0].code, "MissingRequiredParameter");
    const anonymous = await h.call("GET", `/imodels?iTwinId=${ITWIN}`, { user: null });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, "HeaderNotFound");
    const noRoute = await h.call("POST", "/imodels/x/nothing");
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.body.error.code, "NotFound");
  });
});
