// routes/access-control.ts through inject: roles and members of an iTwin in the Access Control API's shapes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/access-control.ts", () => {
  let h: InjectHub;
  let iTwinId: string;
  before(async () => {
    h = await injectHub();
    iTwinId = (await h.call("POST", "/itwins", { body: { displayName: "Roles" } })).body.iTwin.id as string;
  });
  after(() => h.close());

  it("creates a role, adds a member with it (v2 and v1 paths), and records who was added", async () => {
    const role = await h.call("POST", `/accesscontrol/itwins/${iTwinId}/roles`, {
      body: { displayName: "Readers", permissions: ["imodels_read"] },
    });
    assert.equal(role.status, 201, role.text);
    const roleId = role.body.role.id as string;
    const added = await h.call("POST", `/accesscontrol/itwins/${iTwinId}/members/users`, {
      body: { members: [{ userId: "bob", roleIds: [roleId] }] },
    });
    assert.equal(added.status, 201, added.text);
    const v1 = await h.call("GET", `/accesscontrol/itwins/${iTwinId}/members/bob`);
    assert.deepEqual(
      v1.body.member.roles.map((r: { id: string }) => r.id),
      [roleId],
    );
    assert.deepEqual(
      (await h.call("GET", `/accesscontrol/itwins/${iTwinId}/permissions`, { user: "bob" })).body.permissions.length,
      5,
    ); // open mode
    const log = await h.call("GET", `/auditlog?iTwinId=${iTwinId}&action=access.member.add`);
    assert.deepEqual(
      log.body.auditEntries.map((e: { target: string }) => e.target),
      ["bob"],
    );
    const empty = await h.call("POST", `/accesscontrol/itwins/${iTwinId}/members`, { body: { members: [] } });
    assert.equal(empty.status, 422);
    const unknown = await h.call("GET", `/accesscontrol/itwins/${iTwinId}/nothing`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "NotFound");
  });
});
