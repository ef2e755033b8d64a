import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { AccessStore, ITwinRecord, RoleRecord } from "../../src/ports/access-store.js";

/**
 * A fresh store; `addIModel`/`deleteIModel` make an iModel exist or not (grants refer to iModels, iTwins holding one
 * cannot be deleted); `second` opens another store on the
 * same data (another connection or process), for races; `cleanup` closes everything.
 */
export type AccessStoreFactory = () => Promise<{
  store: AccessStore;
  second(): Promise<AccessStore>;
  addIModel(iModelId: string, iTwinId: string): Promise<void>;
  deleteIModel(iModelId: string): Promise<void>;
  cleanup(): Promise<void>;
}>;

const T1 = "11111111-1111-4111-8111-111111111111";
const T2 = "22222222-2222-4222-8222-222222222222";
const AT = "2026-01-01T00:00:00.000Z";

function role(iTwinId: string, displayName: string, permissions: RoleRecord["permissions"], owner = false): RoleRecord {
  return { iTwinId, id: randomUUID(), displayName, description: null, permissions, owner };
}

const ALL: RoleRecord["permissions"] = [
  "imodels_webview",
  "imodels_read",
  "imodels_write",
  "imodels_manage",
  "imodels_delete",
];

function iTwin(id: string, displayName: string, createdBy = "alice", extra: Partial<ITwinRecord> = {}): ITwinRecord {
  return {
    id,
    class: "Endeavor",
    subClass: "Project",
    type: null,
    number: id,
    displayName,
    status: "Active",
    geographicLocation: null,
    ianaTimeZone: null,
    createdAt: AT,
    createdBy,
    modifiedAt: AT,
    modifiedBy: createdBy,
    deletedAt: null,
    ...extra,
  };
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
      assert.deepEqual(await store.getRole(T1, reader.id), {
        ...reader,
        permissions: ["imodels_webview", "imodels_read"],
      });
      assert.equal(await store.createRole(role(T1, "Reader", ["imodels_write"])), false, "same name on the same iTwin");
      assert.equal(await store.createRole(role(T2, "Reader", ["imodels_write"])), true, "same name on another iTwin");
      assert.deepEqual(
        (await store.listRoles(T1)).map((r) => r.displayName),
        ["Reader"],
      );
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
      assert.deepEqual(await store.listMembers(T1), []);
      await store.addMemberRoles(T1, "alice", [r1.id, r2.id], AT);
      await store.addMemberRoles(T1, "alice", [r1.id], AT); // kept once
      await store.addMemberRoles(T1, "bob", [r1.id], AT);
      assert.deepEqual(await store.listMembers(T2), []);
      assert.deepEqual(
        (await store.rolesOf(T1, "alice")).map((r) => r.displayName),
        ["Reader", "Writer"],
      );
      assert.deepEqual(await store.rolesOf(T2, "alice"), []);
      assert.deepEqual(
        (await store.listMembers(T1)).map((m) => [m.userId, m.roleIds.length]),
        [
          ["alice", 2],
          ["bob", 1],
        ],
      );
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
      assert.deepEqual(await store.listMembers(T1), []);
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
      assert.deepEqual((await store.iModelOverrides("m1")).users, [
        { iModelId: "m1", userId: "bob", permissions: ["imodels_webview", "imodels_write"] },
      ]);
      const inT1 = await store.iModelOverridesInITwin(T1);
      assert.deepEqual([...inT1.keys()].sort(), ["m1", "m2"]);
      assert.deepEqual(
        inT1.get("m2")?.roles.map((r) => r.roleId),
        ["role-x"],
      );
      await store.setIModelUserPermissions("m1", "bob", []);
      assert.deepEqual(await store.iModelOverrides("m1"), { roles: [], users: [] });
      assert.deepEqual([...(await store.iModelOverridesInITwin(T1)).keys()], ["m2"]);
    });

    it("createITwin: the creator becomes the member holding the iTwin's Owner role; an id is taken once, also after deletion", async () => {
      const owner = role(T1, "Owner", ALL, true);
      assert.equal(await store.createITwin(iTwin(T1, "Tower"), owner), "done");
      assert.deepEqual(await store.getITwin(T1), iTwin(T1, "Tower"));
      assert.deepEqual(
        (await store.rolesOf(T1, "alice")).map((r) => [r.displayName, r.owner, r.permissions.length]),
        [["Owner", true, 5]],
      );
      assert.deepEqual(await store.owners(T1), ["alice"]);
      assert.equal(await store.createITwin(iTwin(T1, "Other", "bob"), role(T1, "Owner", ALL, true)), "exists");
      assert.deepEqual(await store.owners(T1), ["alice"], "nothing written by the refused creation");
      assert.equal(await store.getITwin(T2), undefined);
    });

    it("createITwin and updateITwin: names and numbers are unique among live iTwins, any case", async () => {
      assert.equal(
        await store.createITwin(iTwin(T1, "Tower", "alice", { number: "N-1" }), role(T1, "Owner", ALL, true)),
        "done",
      );
      assert.equal(await store.createITwin(iTwin(T2, "TOWER", "bob"), role(T2, "Owner", ALL, true)), "nameTaken");
      assert.equal(
        await store.createITwin(iTwin(T2, "Bridge", "bob", { number: "n-1" }), role(T2, "Owner", ALL, true)),
        "numberTaken",
      );
      assert.equal(await store.getITwin(T2), undefined);
      assert.equal(await store.createITwin(iTwin(T2, "Bridge", "bob"), role(T2, "Owner", ALL, true)), "done");
      const bridge = (await store.getITwin(T2))!;
      assert.equal(await store.updateITwin({ ...bridge, displayName: "tower" }), "nameTaken");
      assert.equal(await store.updateITwin({ ...bridge, number: "N-1" }), "numberTaken");
      assert.equal(
        await store.updateITwin({ ...bridge, displayName: "Bridge 2", status: "Trial", modifiedBy: "carol" }),
        "done",
      );
      assert.deepEqual(await store.getITwin(T2), {
        ...bridge,
        displayName: "Bridge 2",
        status: "Trial",
        modifiedBy: "carol",
      });
      assert.equal(await store.updateITwin(iTwin(randomUUID(), "Nowhere")), "notFound");
    });

    it("listITwins: a member's iTwins or all, filtered, ordered by name (any case), paged; Inactive ones only when asked", async () => {
      const ids = ["Charlie", "alpha", "Bravo", "delta"].map((name) => ({ id: randomUUID(), name }));
      for (const { id, name } of ids) {
        const extra: Partial<ITwinRecord> =
          name === "Bravo"
            ? { subClass: "Asset", class: "Thing", type: "bridge" }
            : name === "delta"
              ? { status: "Inactive" }
              : {};
        assert.equal(
          await store.createITwin(
            iTwin(id, name, name === "Charlie" ? "bob" : "alice", extra),
            role(id, "Owner", ALL, true),
          ),
          "done",
        );
      }
      const names = async (q: Partial<Parameters<AccessStore["listITwins"]>[0]>) =>
        (await store.listITwins({ offset: 0, limit: 100, ...q })).map((t) => t.displayName);
      assert.deepEqual(await names({}), ["alpha", "Bravo", "Charlie"]);
      assert.deepEqual(await names({ memberId: "alice" }), ["alpha", "Bravo"]);
      assert.deepEqual(await names({ memberId: "nobody" }), []);
      assert.deepEqual(await names({ statuses: ["Active", "Inactive"] }), ["alpha", "Bravo", "Charlie", "delta"]);
      assert.deepEqual(await names({ statuses: ["Inactive"] }), ["delta"]);
      assert.deepEqual(await names({ subClasses: ["Asset"] }), ["Bravo"]);
      assert.deepEqual(await names({ type: "bridge" }), ["Bravo"]);
      assert.deepEqual(await names({ search: "AR" }), ["Charlie"]);
      assert.deepEqual(await names({ search: "%" }), [], "LIKE wildcards are searched literally");
      assert.deepEqual(await names({ displayName: "BRAVO" }), ["Bravo"]);
      assert.deepEqual(await names({ number: ids[0]!.id.toUpperCase() }), ["Charlie"]);
      assert.deepEqual(await names({ offset: 1, limit: 1 }), ["Bravo"]);
    });

    it("deleteITwin: refused while it holds iModels; then its roles and members go, the id stays taken, the name is free", async () => {
      assert.equal(await store.createITwin(iTwin(T1, "Tower"), role(T1, "Owner", ALL, true)), "done");
      await ctx.addIModel("m1", T1);
      assert.deepEqual(await store.deleteITwin(T1, AT), { iModels: 1 });
      assert.equal((await store.getITwin(T1))?.deletedAt, null);
      assert.deepEqual(await store.owners(T1), ["alice"]);
      await ctx.deleteIModel("m1");
      assert.equal(await store.deleteITwin(T1, "2026-02-02T00:00:00.000Z"), "done");
      assert.equal((await store.getITwin(T1))?.deletedAt, "2026-02-02T00:00:00.000Z");
      assert.deepEqual([await store.listRoles(T1), await store.listMembers(T1)], [[], []]);
      assert.deepEqual(await store.listITwins({ offset: 0, limit: 10 }), []);
      assert.equal(await store.deleteITwin(T1, AT), "notFound");
      assert.equal(await store.updateITwin(iTwin(T1, "Back")), "notFound");
      assert.equal(await store.createITwin(iTwin(T1, "Again", "mallory"), role(T1, "Owner", ALL, true)), "exists");
      assert.equal(
        await store.createITwin(iTwin(T2, "Tower", "bob"), role(T2, "Owner", ALL, true)),
        "done",
        "a deleted iTwin's name is free",
      );
    });

    it("discardITwin undoes a creation: only its creator's, only while it holds no iModels, and the id is free again", async () => {
      assert.equal(await store.createITwin(iTwin(T1, "Tower"), role(T1, "Owner", ALL, true)), "done");
      assert.equal(await store.discardITwin(T1, "bob"), false, "not bob's");
      await ctx.addIModel("m1", T1);
      assert.equal(await store.discardITwin(T1, "alice"), false, "it holds an iModel");
      await ctx.deleteIModel("m1");
      assert.equal(await store.discardITwin(T1, "alice"), true);
      assert.deepEqual(
        [await store.getITwin(T1), await store.listRoles(T1), await store.listMembers(T1)],
        [undefined, [], []],
      );
      assert.equal(await store.createITwin(iTwin(T1, "Tower", "bob"), role(T1, "Owner", ALL, true)), "done");
      assert.equal(await store.deleteITwin(T1, AT), "done");
      assert.equal(await store.discardITwin(T1, "bob"), false, "a deleted iTwin stays deleted");
    });

    it("removeMemberRoles keeps an Owner: the last one cannot be removed or demoted; another one can", async () => {
      const owner = role(T1, "Owner", ALL, true);
      await store.createITwin(iTwin(T1, "Tower"), owner);
      const reader = role(T1, "Reader", ["imodels_read"]);
      await store.createRole(reader);
      await store.addMemberRoles(T1, "alice", [reader.id], AT);
      assert.equal(await store.removeMemberRoles(T1, "alice"), "lastOwner");
      assert.equal(await store.removeMemberRoles(T1, "alice", [owner.id]), "lastOwner");
      assert.deepEqual(
        (await store.getMember(T1, "alice"))?.roleIds.sort(),
        [owner.id, reader.id].sort(),
        "nothing taken",
      );
      assert.equal(await store.removeMemberRoles(T1, "alice", [reader.id]), 1);
      await store.addMemberRoles(T1, "bob", [owner.id], AT);
      assert.deepEqual(await store.owners(T1), ["alice", "bob"]);
      assert.equal(await store.removeMemberRoles(T1, "alice"), 1);
      assert.deepEqual(await store.owners(T1), ["bob"]);
      // An iTwin made before Owner roles existed (no Owner role at all) has nobody to keep.
      const plain = role(T2, "Reader", ["imodels_read"]);
      await store.createRole(plain);
      await store.addMemberRoles(T2, "carol", [plain.id], AT);
      assert.equal(await store.removeMemberRoles(T2, "carol"), 1);
    });

    it("race: two Owners removing each other at once, from two connections: one stays", async () => {
      const other = await ctx.second();
      try {
        for (let round = 0; round < 5; round++) {
          const id = randomUUID();
          const owner = role(id, "Owner", ALL, true);
          assert.equal(await store.createITwin(iTwin(id, `race-${round}`, "ann"), owner), "done");
          await store.addMemberRoles(id, "ben", [owner.id], AT);
          const results = await Promise.all([store.removeMemberRoles(id, "ben"), other.removeMemberRoles(id, "ann")]);
          assert.deepEqual([...results].sort(), [1, "lastOwner"].sort(), `round ${round}`);
          assert.equal((await store.owners(id)).length, 1);
        }
      } finally {
        await other.close();
      }
    });

    it("race: many users creating the same iTwin id at once, from two connections: exactly one becomes its Owner", async () => {
      const other = await ctx.second();
      try {
        for (let round = 0; round < 5; round++) {
          const iTwinId = randomUUID();
          const users = Array.from({ length: 8 }, (_, i) => `user-${round}-${i}`);
          const results = await Promise.all(
            users.map((u, i) =>
              (i % 2 === 0 ? store : other).createITwin(iTwin(iTwinId, iTwinId, u), role(iTwinId, "Owner", ALL, true)),
            ),
          );
          assert.equal(results.filter((r) => r === "done").length, 1, `round ${round}: ${results.join(",")}`);
          assert.deepEqual(
            results.filter((r) => r !== "done"),
            Array(7).fill("exists"),
          );
          assert.deepEqual(await store.owners(iTwinId), [users[results.indexOf("done")]]);
          assert.equal((await store.listRoles(iTwinId)).length, 1, "one Owner role");
        }
      } finally {
        await other.close();
      }
    });
  });
}
