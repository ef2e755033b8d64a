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

  it("lists an iModel whose baseline failed only with $includeFailed=true (a modelhub extension), as notInitialized", async () => {
    const ok = await h.createIModel("listed");
    const failed = await h.createIModel("failed");
    await h.store.transaction(async (tx) => {
      const record = (await tx.getIModel(failed))!;
      await tx.updateIModel({ ...record, baselineState: "initializationFailed", baselineFailure: "not an iModel" });
    });
    const ids = async (query: string) =>
      (await h.call("GET", `/imodels?iTwinId=${ITWIN}${query}`)).body.iModels.map((m: { id: string }) => m.id);
    assert.equal((await ids("")).includes(failed), false);
    assert.equal((await ids("&$includeFailed=false")).includes(failed), false);
    assert.deepEqual(
      (await ids("&$includeFailed=true")).filter((id: string) => id === ok || id === failed),
      [ok, failed],
    );
    const full = await h.call("GET", `/imodels?iTwinId=${ITWIN}&$includeFailed=TRUE&name=failed`, {
      headers: { prefer: "return=representation" },
    });
    assert.equal(full.status, 200, full.text);
    assert.equal(full.body.iModels[0].state, "notInitialized");
    assert.match(full.body._links.self.href, /\$includeFailed=TRUE/);
    const op = (await h.call("GET", `/imodels/${failed}/operations/create`)).body.createOperation;
    assert.deepEqual([op.state, op.failureReason], ["failed", "not an iModel"]);
    const bad = await h.call("GET", `/imodels?iTwinId=${ITWIN}&$includeFailed=yes`);
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.body.error.details[0].code, "InvalidValue");
    assert.equal(bad.body.error.details[0].target, "$includeFailed");
  });
});
