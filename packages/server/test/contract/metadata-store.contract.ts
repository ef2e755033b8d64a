import assert from "node:assert/strict";
import { describe, it, beforeEach, afterEach } from "node:test";
import type { ChangesetRecord, IModelRecord, MetadataStore } from "../../src/ports/metadata-store.js";
import { UniqueViolation } from "../../src/ports/metadata-store.js";

export type MetadataStoreFactory = () => Promise<{ store: MetadataStore; cleanup(): Promise<void> }>;

export function iModel(id: string, extra: Partial<IModelRecord> = {}): IModelRecord {
  return {
    id,
    iTwinId: "tw",
    name: `name-${id}`,
    description: null,
    extent: null,
    containersEnabled: 0,
    creatorId: "alice",
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, Number(id.replace(/\D/g, "") || 0))).toISOString(),
    state: "initialized",
    creationMode: "fromBaseline",
    baselineState: "initialized",
    baselineSize: 10,
    baselineFailure: null,
    nextBriefcaseId: 2,
    ...extra,
  };
}

export function changeset(iModelId: string, index: number, extra: Partial<ChangesetRecord> = {}): ChangesetRecord {
  return {
    iModelId,
    index,
    id: index.toString(16).padStart(40, "0"),
    parentId: index === 1 ? "" : (index - 1).toString(16).padStart(40, "0"),
    description: `cs ${index}`,
    briefcaseId: 2,
    containingChanges: 0,
    fileSize: 100 + index,
    creatorId: "alice",
    pushedAt: new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString(),
    state: "fileUploaded",
    groupId: null,
    synchronizationInfo: null,
    ...extra,
  };
}

/** The MetadataStore contract: every adapter must pass it unchanged. */
export function metadataStoreContract(name: string, factory: MetadataStoreFactory): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let store: MetadataStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      await store.transaction(async (tx) => {
        await tx.insertIModel(iModel("m1"));
      });
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it("inserts and reads iModels; a duplicate id is a UniqueViolation; missing rows are undefined", async () => {
      assert.equal((await store.read((tx) => tx.getIModel("m1")))?.name, "name-m1");
      assert.equal(await store.read((tx) => tx.getIModel("nope")), undefined);
      await assert.rejects(store.transaction((tx) => tx.insertIModel(iModel("m1"))), UniqueViolation);
    });

    it("rolls back everything a failed transaction wrote", async () => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertIModel(iModel("m2"));
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal(await store.read((tx) => tx.getIModel("m2")), undefined);
    });

    it("lists iModels by iTwin with name, search, state, order and paging; failed ones are hidden", async () => {
      await store.transaction(async (tx) => {
        await tx.insertIModel(iModel("m2", { name: "Bridge", description: "steel" }));
        await tx.insertIModel(iModel("m3", { name: "Alpha", state: "notInitialized", baselineState: "waitingForFile" }));
        await tx.insertIModel(iModel("m4", { name: "Broken", baselineState: "initializationFailed", state: "notInitialized" }));
        await tx.insertIModel(iModel("m5", { iTwinId: "other" }));
      });
      const ids = async (filter: Parameters<MetadataStore["read"]>[0] extends never ? never : Record<string, unknown>, page = { limit: 100, offset: 0 }) =>
        (await store.read((tx) => tx.listIModels({ iTwinId: "tw", ...filter }, page))).map((m) => m.id);
      assert.deepEqual(await ids({}), ["m1", "m2", "m3"]);
      assert.deepEqual(await ids({ name: "Bridge" }), ["m2"]);
      assert.deepEqual(await ids({ search: "STEEL" }), ["m2"]);
      assert.deepEqual(await ids({ state: "notInitialized" }), ["m3"]);
      assert.deepEqual(await ids({ orderBy: { field: "name", direction: "asc" } }), ["m3", "m2", "m1"]);
      assert.deepEqual(await ids({}, { limit: 1, offset: 1 }), ["m2"]);
      assert.equal(await store.read((tx) => tx.findIModelByName("tw", "Broken")), undefined);
      assert.equal((await store.read((tx) => tx.getIModel("m4")))?.baselineState, "initializationFailed");
    });

    it("changesets: by id and index, latest and pending, ranges, order, paging", async () => {
      await store.transaction(async (tx) => {
        for (let i = 1; i <= 5; i++) await tx.insertChangeset(changeset("m1", i));
        await tx.insertChangeset(changeset("m1", 6, { state: "waitingForFile" }));
      });
      const list = (f: { afterIndex?: number; lastIndex?: number; direction: "asc" | "desc"; onlyUploaded: boolean }, page = { limit: 100, offset: 0 }) =>
        store.read(async (tx) => (await tx.listChangesets("m1", f, page)).map((c) => c.index));
      assert.deepEqual(await list({ direction: "asc", onlyUploaded: true }), [1, 2, 3, 4, 5]);
      assert.deepEqual(await list({ direction: "asc", onlyUploaded: false }), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(await list({ afterIndex: 2, lastIndex: 4, direction: "desc", onlyUploaded: true }), [4, 3]);
      assert.deepEqual(await list({ direction: "asc", onlyUploaded: true }, { limit: 2, offset: 2 }), [3, 4]);
      assert.equal((await store.read((tx) => tx.getLatestChangeset("m1")))?.index, 5);
      assert.equal((await store.read((tx) => tx.getPendingChangeset("m1")))?.index, 6);
      assert.equal((await store.read((tx) => tx.getChangesetById("m1", changeset("m1", 3).id)))?.index, 3);
      assert.equal((await store.read((tx) => tx.getChangesetByIndex("m1", 2)))?.parentId, changeset("m1", 1).id);
      await assert.rejects(store.transaction((tx) => tx.insertChangeset(changeset("m1", 7, { id: changeset("m1", 1).id }))), UniqueViolation);
      await store.transaction(async (tx) => {
        await tx.updateChangeset({ ...changeset("m1", 6), state: "fileUploaded" });
        await tx.deleteChangeset("m1", 1);
      });
      assert.equal((await store.read((tx) => tx.getLatestChangeset("m1")))?.index, 6);
      assert.equal(await store.read((tx) => tx.getChangesetByIndex("m1", 1)), undefined);
    });

    it("briefcases: insert, list by owner and direction, count, delete", async () => {
      await store.transaction(async (tx) => {
        await tx.insertBriefcase({ iModelId: "m1", briefcaseId: 2, ownerId: "alice", acquiredAt: "2026-01-01T00:00:01.000Z", deviceName: null });
        await tx.insertBriefcase({ iModelId: "m1", briefcaseId: 3, ownerId: "bob", acquiredAt: "2026-01-01T00:00:02.000Z", deviceName: "pc" });
        await tx.insertBriefcase({ iModelId: "m1", briefcaseId: 4, ownerId: "alice", acquiredAt: "2026-01-01T00:00:03.000Z", deviceName: null });
      });
      const ids = (f: { ownerId?: string; direction: "asc" | "desc" }) => store.read(async (tx) => (await tx.listBriefcases("m1", f, { limit: 10, offset: 0 })).map((b) => b.briefcaseId));
      assert.deepEqual(await ids({ direction: "asc" }), [2, 3, 4]);
      assert.deepEqual(await ids({ direction: "desc", ownerId: "alice" }), [4, 2]);
      assert.equal(await store.read((tx) => tx.countBriefcases("m1", "alice")), 2);
      await store.transaction((tx) => tx.deleteBriefcase("m1", 3));
      assert.equal(await store.read((tx) => tx.getBriefcase("m1", 3)), undefined);
    });

    it("named versions: unique name and changeset, filters and order", async () => {
      const nv = (id: string, name: string, changesetIndex: number) => ({
        iModelId: "m1", id, name, description: null, changesetIndex, changesetId: null, state: "visible" as const, creatorId: "alice", createdAt: `2026-01-0${changesetIndex + 1}T00:00:00.000Z`,
      });
      await store.transaction(async (tx) => {
        await tx.insertNamedVersion(nv("a", "second", 2));
        await tx.insertNamedVersion(nv("b", "first", 1));
      });
      await assert.rejects(store.transaction((tx) => tx.insertNamedVersion(nv("c", "first", 3))), UniqueViolation);
      await assert.rejects(store.transaction((tx) => tx.insertNamedVersion(nv("d", "third", 2))), UniqueViolation);
      const names = (f: object) => store.read(async (tx) => (await tx.listNamedVersions("m1", f, { limit: 10, offset: 0 })).map((v) => v.name));
      assert.deepEqual(await names({}), ["first", "second"]);
      assert.deepEqual(await names({ orderBy: { field: "changesetIndex", direction: "desc" } }), ["second", "first"]);
      assert.deepEqual(await names({ name: "second" }), ["second"]);
      assert.equal((await store.read((tx) => tx.getNamedVersionByChangeset("m1", 1)))?.id, "b");
      assert.deepEqual((await store.read((tx) => tx.listNamedVersionsInRange("m1", 2, 5))).map((v) => v.id), ["a"]);
    });

    it("checkpoints: preceding and latest successful ones only", async () => {
      const cp = (changesetIndex: number, state: "successful" | "scheduled") => ({
        iModelId: "m1", changesetIndex, changesetId: "", state, blobKey: state === "successful" ? `k${changesetIndex}` : null, size: 1, failureReason: null, updatedAt: "2026-01-01T00:00:00.000Z",
      });
      await store.transaction(async (tx) => {
        await tx.upsertCheckpoint(cp(0, "successful"));
        await tx.upsertCheckpoint(cp(5, "successful"));
        await tx.upsertCheckpoint(cp(8, "scheduled"));
      });
      assert.equal((await store.read((tx) => tx.getPrecedingCheckpoint("m1", 4)))?.changesetIndex, 0);
      assert.equal((await store.read((tx) => tx.getPrecedingCheckpoint("m1", 9)))?.changesetIndex, 5);
      assert.equal((await store.read((tx) => tx.getLatestCheckpoint("m1")))?.changesetIndex, 5);
      assert.deepEqual((await store.read((tx) => tx.listCheckpoints("m1"))).map((c) => c.changesetIndex), [0, 5, 8]);
    });

    it("locks: grant, upgrade, pages counted in object ids, release with the pull-required index, release all", async () => {
      await store.transaction(async (tx) => {
        await tx.grantLocks("m1", 2, "shared", ["0x1", "0x2"]);
        await tx.grantLocks("m1", 3, "shared", ["0x1"]);
        await tx.grantLocks("m1", 2, "exclusive", ["0x2", "0x3"]);
      });
      const locks = await store.read((tx) => tx.getObjectLocks("m1", ["0x1", "0x2", "0x3", "0x9"]));
      assert.deepEqual(locks.get("0x1")?.sharedBriefcaseIds, [2, 3]);
      assert.equal(locks.get("0x2")?.exclusiveBriefcaseId, 2);
      assert.deepEqual(locks.get("0x2")?.sharedBriefcaseIds, []);
      assert.equal(locks.has("0x9"), false);
      assert.deepEqual(await store.read((tx) => tx.listLocks("m1", {}, { limit: 100, offset: 0 })), [
        { briefcaseId: 2, exclusive: ["0x2", "0x3"], shared: ["0x1"] },
        { briefcaseId: 3, exclusive: [], shared: ["0x1"] },
      ]);
      assert.deepEqual(await store.read((tx) => tx.listLocks("m1", {}, { limit: 2, offset: 2 })), [
        { briefcaseId: 2, exclusive: [], shared: ["0x1"] },
        { briefcaseId: 3, exclusive: [], shared: ["0x1"] },
      ]);
      assert.deepEqual(await store.read((tx) => tx.listLocks("m1", { level: "shared", briefcaseId: 2 }, { limit: 100, offset: 0 })), [
        { briefcaseId: 2, exclusive: [], shared: ["0x1"] },
      ]);
      const released = await store.transaction((tx) => tx.releaseLocks("m1", 2, ["0x2", "0x1"], 7));
      assert.equal(released, 2);
      const after = await store.read((tx) => tx.getObjectLocks("m1", ["0x2"]));
      assert.deepEqual(after.get("0x2"), { objectId: "0x2", exclusiveBriefcaseId: null, sharedBriefcaseIds: [], lastExclusiveReleaseIndex: 7 });
      assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 3, 0, 1)), 1);
      assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 2, 0)), 1);
      assert.deepEqual(await store.read((tx) => tx.listLocks("m1", {}, { limit: 100, offset: 0 })), []);
    });

    it("grants and releases 10,000 locks in one transaction", async () => {
      const ids = Array.from({ length: 10_000 }, (_, i) => `0x${(i + 1).toString(16)}`);
      await store.transaction((tx) => tx.grantLocks("m1", 2, "exclusive", ids));
      assert.equal((await store.read((tx) => tx.getObjectLocks("m1", ids))).size, 10_000);
      assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 2, 3)), 10_000);
    });

    it("deleting an iModel removes every row that belongs to it", async () => {
      await store.transaction(async (tx) => {
        await tx.insertChangeset(changeset("m1", 1));
        await tx.insertBriefcase({ iModelId: "m1", briefcaseId: 2, ownerId: "a", acquiredAt: "x", deviceName: null });
        await tx.grantLocks("m1", 2, "exclusive", ["0x1"]);
        await tx.deleteIModel("m1");
        await tx.insertIModel(iModel("m1"));
      });
      assert.equal(await store.read((tx) => tx.getChangesetByIndex("m1", 1)), undefined);
      assert.equal(await store.read((tx) => tx.getBriefcase("m1", 2)), undefined);
      assert.equal((await store.read((tx) => tx.getObjectLocks("m1", ["0x1"]))).size, 0);
    });

    it("users: ids that appear in the iModel and their statistics", async () => {
      await store.transaction(async (tx) => {
        await tx.insertChangeset(changeset("m1", 1, { creatorId: "bob" }));
        await tx.insertBriefcase({ iModelId: "m1", briefcaseId: 2, ownerId: "carol", acquiredAt: "x", deviceName: null });
      });
      assert.deepEqual(await store.read((tx) => tx.listUserIds("m1")), ["alice", "bob", "carol"]);
      const stats = await store.read((tx) => tx.userStatistics("m1", "bob"));
      assert.equal(stats.pushedChangesetsCount, 1);
      assert.equal(stats.briefcasesCount, 0);
    });
  });
}
