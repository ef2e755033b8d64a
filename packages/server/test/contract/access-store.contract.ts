import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { AccessStore, RoleRecord } from "../../src/ports/access-store.js";

/**
 * A fresh store; `addIModel` makes an iModel exist (grants refer to iModels); `second` opens another store on the
 * same data (another connection or process), for races; `cleanup` closes everything.
 */
export type AccessStoreFactory = () => Promise<{
  store: AccessStore;
  second(): Promise<AccessStore>;
  addIModel(iModelId: string, iTwinId: string): Promise<void>;
  cleanup(): Promise<void>;
}>;

const T1 = "11111111-1111-4111-8111-111111111111";
const T2 = "22222222-2222-4222-8222-222222222222";
const AT = "2026-01-01T00:00:00.000Z";

function role(iTwinId: string, displayName: string, permissions: RoleRecord["permissions"]): RoleRecord {
  return { iTwinId, id: randomUUID(), displayName, description: null, permissions };
}

/** The AccessStore contract: every adapter must pass it unchanged. */
export function accessStoreContract(name: string, factory: AccessStoreFactory): void {
  describe(`AccessStore contract: ${name}`, () => {
    let store: AccessStore;
    let ctx: Awaited<ReturnType<AccessStoreFactory>>;
    beforeEach(async () => {
      ctx = await factory();
      store = ctx.store;
    });
    afterEach(() => ctx.cleanup());

    it("roles: created, read back with canonical permissions, names unique per iTwin only", async () => {
      const reader = role(T1, "Reader", ["imodels_read", "imodels_webview", "imodels_read"]);
      assert.equal(await store.createRole(reader), true);
      assert.deepEqual(await store.getRole(T1, reader.id), { ...reader, permissions: ["imodels_webview", "imodels_read"] });
      assert.equal(await store.createRole(role(T1, "Reader", ["imodels_write"])), false, "same name on the same iTwin");
      assert.equal(await store.createRole(role(T2, "Reader", ["imodels_write"])), true, "same name on another iTwin");
      assert.deepEqual((await store.listRoles(T1)).map((r) => r.displayName), ["Reader"]);
      assert.equal(await store.getRole(T2, reader.id), undefined, "a role id belongs to one iTwin");
    });

    it("updateRole renames and changes permissions; refuses a taken name; false for an unknown role", async () => {
      const a = role(T1, "A", ["imodels_read"]);
      const b = role(T1, "B", ["imodels_read"]);
      await store.createRole(a);
      await store.createRole(b);
      assert.equal(await store.updateRole({ ...a, displayName: "B" }), "nameTaken");
      assert.equal(await store.updateRole({ ...a, displayName: "A2", permissions: ["imodels_manage"] }), true);
      assert.deepEqual((await store.getRole(T1, a.id))?.permissions, ["imodels_manage"]);
      assert.equal(await store.updateRole(role(T1, "C", [])), false);
    });

    it("members: roles given and taken; rolesOf joins the role definitions", async () => {
      const r1 = role(T1, "Reader", ["imodels_read"]);
      const r2 = role(T1, "Writer", ["imodels_write"]);
      await store.createRole(r1);
      await store.createRole(r2);
      assert.equal(await store.hasMembers(T1), false);
      await store.addMemberRoles(T1, "alice", [r1.id, r2.id], AT);
      await store.addMemberRoles(T1, "alice", [r1.id], AT); // kept once
      await store.addMemberRoles(T1, "bob", [r1.id], AT);
      assert.equal(await store.hasMembers(T1), true);
      assert.equal(await store.hasMembers(T2), false);
      assert.deepEqual((await store.rolesOf(T1, "alice")).map((r) => r.displayName), ["Reader", "Writer"]);
      assert.deepEqual((await store.rolesOf(T2, "alice")), []);
      assert.deepEqual((await store.listMembers(T1)).map((m) => [m.userId, m.roleIds.length]), [["alice", 2], ["bob", 1]]);
      assert.equal(await store.removeMemberRoles(T1, "alice", [r2.id]), 1);
      assert.deepEqual((await store.getMember(T1, "alice"))?.roleIds, [r1.id]);
      assert.equal(await store.removeMemberRoles(T1, "bob"), 1);
      assert.equal(await store.getMember(T1, "bob"), undefined);
      assert.equal(await store.removeMemberRoles(T1, "nobody"), 0);
    });

    it("addMemberRoles refuses a role of another iTwin and writes nothing", async () => {
      const own = role(T1, "Reader", ["imodels_read"]);
      const foreign = role(T2, "Reader", ["imodels_read"]);
      await store.createRole(own);
      await store.createRole(foreign);
      await assert.rejects(store.addMemberRoles(T1, "alice", [own.id, foreign.id], AT));
      assert.equal(await store.getMember(T1, "alice"), undefined, "all or nothing");
    });

    it("deleteRole takes it from members and from iModel grants", async () => {
      const r = role(T1, "Reader", ["imodels_read"]);
      await store.createRole(r);
      await ctx.addIModel("m1", T1);
      await store.addMemberRoles(T1, "alice", [r.id], AT);
      await store.setIModelRolePermissions("m1", r.id, ["imodels_read"]);
      assert.equal(await store.deleteRole(T1, r.id), true);
      assert.deepEqual(await store.rolesOf(T1, "alice"), []);
      assert.equal(await store.hasMembers(T1), false);
      assert.deepEqual((await store.iModelOverrides("m1")).roles, []);
      assert.equal(await store.deleteRole(T1, r.id), false);
    });

    it("iModel grants: set, replaced, removed by an empty list; listed per iTwin", async () => {
      await ctx.addIModel("m1", T1);
      await ctx.addIModel("m2", T1);
      await ctx.addIModel("m3", T2);
      assert.deepEqual(await store.iModelOverrides("m1"), { roles: [], users: [] });
      await store.setIModelUserPermissions("m1", "bob", ["imodels_read"]);
      await store.setIModelUserPermissions("m1", "bob", ["imodels_write", "imodels_webview"]);
      await store.setIModelRolePermissions("m2", "role-x", ["imodels_webview"]);
      await store.setIModelUserPermissions("m3", "bob", ["imodels_read"]);
      assert.deepEqual((await store.iModelOverrides("m1")).users, [{ iModelId: "m1", userId: "bob", permissions: ["imodels_webview", "imodels_write"] }]);
      const inT1 = await store.iModelOverridesInITwin(T1);
      assert.deepEqual([...inT1.keys()].sort(), ["m1", "m2"]);
      assert.deepEqual(inT1.get("m2")?.roles.map((r) => r.roleId), ["role-x"]);
      await store.setIModelUserPermissions("m1", "bob", []);
      assert.deepEqual(await store.iModelOverrides("m1"), { roles: [], users: [] });
      assert.deepEqual([...(await store.iModelOverridesInITwin(T1)).keys()], ["m2"]);
    });

    it("claimITwin: the first claim of an unclaimed iTwin makes its claimer Owner; later ones are refused", async () => {
      assert.equal(await store.claimITwin(T1, "alice", role(T1, "Owner", ["imodels_manage"]), AT), true);
      assert.equal(await store.claimITwin(T1, "bob", role(T1, "Owner", ["imodels_manage"]), AT), false);
      assert.deepEqual((await store.rolesOf(T1, "alice")).map((r) => [r.displayName, r.permissions]), [["Owner", ["imodels_manage"]]]);
      assert.deepEqual(await store.rolesOf(T1, "bob"), []);
    });

    it("claimITwin reuses an existing role of that name (an iTwin whose members were all removed)", async () => {
      const owner = role(T1, "Owner", ["imodels_read"]);
      await store.createRole(owner);
      assert.equal(await store.claimITwin(T1, "carol", role(T1, "Owner", ["imodels_manage"]), AT), true);
      assert.deepEqual((await store.getMember(T1, "carol"))?.roleIds, [owner.id]);
      assert.equal((await store.listRoles(T1)).length, 1);
    });

    it("race: many users claiming the same iTwin at once, from two connections: exactly one becomes Owner", async () => {
      const other = await ctx.second();
      try {
        for (let round = 0; round < 5; round++) {
          const iTwinId = randomUUID();
          const users = Array.from({ length: 8 }, (_, i) => `user-${round}-${i}`);
          const results = await Promise.all(users.map((u, i) => (i % 2 === 0 ? store : other).claimITwin(iTwinId, u, role(iTwinId, "Owner", ["imodels_manage"]), AT)));
          assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results.join(",")}`);
          const members = await store.listMembers(iTwinId);
          assert.equal(members.length, 1);
          assert.equal(members[0]!.userId, users[results.indexOf(true)]);
          assert.equal((await store.listRoles(iTwinId)).length, 1, "one Owner role");
        }
      } finally {
        await other.close();
      }
    });
  });
}
