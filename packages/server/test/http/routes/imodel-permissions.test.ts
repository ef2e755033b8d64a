// routes/imodel-permissions.ts through inject: grants at both paths, the open-mode warning, the audit actions.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OPEN_MODE_WARNING } from "../../../src/http/routes/access-control.js";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/imodel-permissions.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("grants a user permissions on an iModel at the cloud's path, lists and removes them at modelhub's", async () => {
    const set = await h.call("PATCH", `/imodels/${id}/userpermissions`, {
      body: { userId: "bob", permissions: ["imodels_read"] },
    });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.body, { userPermission: { userId: "bob", permissions: ["imodels_read"] } });
    assert.equal(set.headers.warning, OPEN_MODE_WARNING);
    assert.deepEqual((await h.call("GET", `/imodels/${id}/permissions/users`)).body.userPermissions, [
      { userId: "bob", permissions: ["imodels_read"] },
    ]);
    assert.equal((await h.call("DELETE", `/imodels/${id}/permissions/users/bob`)).status, 204);
    assert.deepEqual((await h.call("GET", `/imodels/${id}/userpermissions`)).body.userPermissions, []);
    const log = await h.call("GET", `/imodels/${id}/auditlog?action=imodel.permissions.user.set`);
    assert.deepEqual(
      log.body.auditEntries.map((e: { target: string }) => e.target),
      ["bob"],
    );
    const noBody = await h.call("PATCH", `/imodels/${id}/rolepermissions`, { body: { permissions: [] } });
    assert.equal(noBody.status, 422);
  });
});
