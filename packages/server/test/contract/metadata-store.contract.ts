import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type {
  BriefcaseLocks,
  BriefcaseRecord,
  ChangesetFilter,
  ChangesetGroupRecord,
  ChangesetRecord,
  CheckpointRecord,
  IModelFilter,
  IModelRecord,
  MetadataReader,
  MetadataStore,
  MetadataTx,
  NamedVersionFilter,
  NamedVersionRecord,
  Page,
} from "../../src/ports/metadata-store.js";
import { UniqueViolation } from "../../src/ports/metadata-store.js";

export interface MetadataStoreHandles {
  store: MetadataStore;
  /**
   * Opens another handle on the same backend (its own connections), as a second hub node would: the concurrency
   * cases race transactions through both. The suite closes what it opens.
   */
  openAnother(): Promise<MetadataStore>;
  /** Jobs queued in the backend's job table by `tx.enqueueJob`: kind and dedupe key of each, in any order. */
  queuedJobs(): Promise<{ kind: string; dedupeKey: string | null }[]>;
  /** The backend runs one write transaction at a time whatever the scope (SQLite): scopes cannot run side by side. */
  serializesAllWriters?: boolean;
  cleanup(): Promise<void>;
}

export type MetadataStoreFactory = () => Promise<MetadataStoreHandles>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString();
const ALL: Page = { limit: 1_000_000, offset: 0 };

export function iModel(id: string, extra: Partial<IModelRecord> = {}): IModelRecord {
  return {
    id,
    iTwinId: "tw",
    name: `name-${id}`,
    description: null,
    extent: null,
    containersEnabled: 0,
    creatorId: "alice",
    createdAt: at(Number(id.replace(/\D/g, "") || 0)),
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
    pushedAt: at(index),
    state: "fileUploaded",
    groupId: null,
    synchronizationInfo: null,
    ...extra,
  };
}

export function briefcase(
  iModelId: string,
  briefcaseId: number,
  extra: Partial<BriefcaseRecord> = {},
): BriefcaseRecord {
  return { iModelId, briefcaseId, ownerId: "alice", acquiredAt: at(briefcaseId), deviceName: null, ...extra };
}

export function namedVersion(
  iModelId: string,
  id: string,
  changesetIndex: number,
  extra: Partial<NamedVersionRecord> = {},
): NamedVersionRecord {
  return {
    iModelId,
    id,
    name: `v-${id}`,
    description: null,
    changesetIndex,
    changesetId: changesetIndex === 0 ? null : changeset(iModelId, changesetIndex).id,
    state: "visible",
    creatorId: "alice",
    createdAt: at(changesetIndex),
    ...extra,
  };
}

export function group(iModelId: string, id: string, extra: Partial<ChangesetGroupRecord> = {}): ChangesetGroupRecord {
  return {
    iModelId,
    id,
    description: `group ${id}`,
    state: "inProgress",
    creatorId: "alice",
    createdAt: at(1),
    ...extra,
  };
}

export function checkpoint(
  iModelId: string,
  changesetIndex: number,
  state: CheckpointRecord["state"],
  extra: Partial<CheckpointRecord> = {},
): CheckpointRecord {
  return {
    iModelId,
    changesetIndex,
    changesetId: changesetIndex === 0 ? "" : changeset(iModelId, changesetIndex).id,
    state,
    blobKey: state === "successful" ? `checkpoints/${changesetIndex}` : null,
    size: state === "successful" ? 1000 + changesetIndex : 0,
    failureReason: state === "failed" ? "boom" : null,
    updatedAt: at(changesetIndex),
    ...extra,
  };
}

/** `listLocks` output flattened to the row stream it pages over: (briefcase, level, object), exclusive first. */
function flatten(groups: BriefcaseLocks[]): string[] {
  return groups.flatMap((g) => [
    ...g.exclusive.map((o) => `${g.briefcaseId}:x:${o}`),
    ...g.shared.map((o) => `${g.briefcaseId}:s:${o}`),
  ]);
}

/**
 * The MetadataStore contract: every adapter must pass it unchanged. `makeStore` returns a fresh, empty store;
 * the suite closes it and then calls `cleanup`.
 */
export function metadataStoreContract(name: string, makeStore: MetadataStoreFactory): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let store: MetadataStore;
    let cleanup: () => Promise<void>;
    let handles: MetadataStoreHandles;
    const read = <T>(fn: (tx: MetadataReader) => Promise<T>) => store.read(fn);

    beforeEach(async () => {
      handles = await makeStore();
      ({ store, cleanup } = handles);
      await store.transaction(async (tx) => {
        await tx.insertIModel(iModel("m1"));
        await tx.insertIModel(iModel("m2"));
      });
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    describe("transactions", () => {
      it("commit returns fn's value; lookups of missing rows are undefined", async () => {
        assert.equal(await store.transaction(async (tx) => (await tx.getIModel("m1"))?.name), "name-m1");
        assert.equal(await read((tx) => tx.getIModel("nope")), undefined);
        assert.equal(await read((tx) => tx.getChangesetByIndex("m1", 1)), undefined);
        assert.equal(await read((tx) => tx.getChangesetById("nope", "x")), undefined);
        assert.equal(await read((tx) => tx.getBriefcase("m1", 2)), undefined);
        assert.equal(await read((tx) => tx.getNamedVersion("m1", "x")), undefined);
        assert.equal(await read((tx) => tx.getChangesetGroup("m1", "x")), undefined);
        assert.equal(await read((tx) => tx.getExtendedData("m1", 1)), undefined);
        assert.equal(await read((tx) => tx.getCheckpoint("m1", 0)), undefined);
      });

      it("keeps nothing a failed transaction wrote, in any table, and stays usable", async () => {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.insertIModel(iModel("m3"));
            await tx.insertChangeset(changeset("m1", 1));
            await tx.insertBriefcase(briefcase("m1", 2));
            await tx.grantLocks("m1", 2, "exclusive", ["0x1"]);
            await tx.grantLocks("m1", 2, "shared", ["0x2"]);
            await tx.updateIModel({ ...iModel("m1"), name: "renamed" });
            await tx.deleteIModel("m2");
            await sleep(5);
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.equal(await read((tx) => tx.getIModel("m3")), undefined);
        assert.equal(await read((tx) => tx.getChangesetByIndex("m1", 1)), undefined);
        assert.equal(await read((tx) => tx.getBriefcase("m1", 2)), undefined);
        assert.equal((await read((tx) => tx.getObjectLocks("m1", ["0x1", "0x2"]))).size, 0);
        assert.equal((await read((tx) => tx.getIModel("m1")))?.name, "name-m1");
        assert.ok(await read((tx) => tx.getIModel("m2")));
        await store.transaction((tx) => tx.insertIModel(iModel("m3")));
        assert.ok(await read((tx) => tx.getIModel("m3")));
      });

      it("a UniqueViolation thrown out of fn undoes the transaction's earlier writes", async () => {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.insertChangeset(changeset("m1", 1));
            await tx.insertIModel(iModel("m1"));
          }),
          UniqueViolation,
        );
        assert.equal(await read((tx) => tx.getChangesetByIndex("m1", 1)), undefined);
      });

      it("reads see only committed data, and one read sees one snapshot", async () => {
        await store.transaction(async (tx) => {
          await tx.insertIModel(iModel("m3"));
          assert.equal(await read((r) => r.getIModel("m3")), undefined, "uncommitted rows are invisible to reads");
        });
        const seen = await read(async (r) => {
          const before = await r.getIModel("m1");
          await store.transaction(async (tx) => {
            await tx.updateIModel({ ...iModel("m1"), name: "renamed" });
            await tx.insertChangeset(changeset("m1", 1));
          });
          const after = await r.getIModel("m1");
          const changesets = await r.listChangesets("m1", { direction: "asc", onlyUploaded: false }, ALL);
          return { before: before?.name, after: after?.name, changesets: changesets.length };
        });
        assert.deepEqual(seen, { before: "name-m1", after: "name-m1", changesets: 0 });
        assert.equal((await read((r) => r.getIModel("m1")))?.name, "renamed");
      });

      it("after-commit effects run after COMMIT, in order, once each; never after a rollback", async () => {
        const ran: string[] = [];
        // What a read started by the effect sees: the transaction's write is committed by the time the effect runs.
        let seenByEffect: Promise<string | undefined> | undefined;
        const value = await store.transaction({ iModelId: "m1" }, async (tx) => {
          await tx.updateIModel({ ...iModel("m1"), name: "committed" });
          tx.afterCommit(() => {
            ran.push("first");
            seenByEffect = read(async (r) => (await r.getIModel("m1"))?.name);
          });
          tx.afterCommit(() => ran.push("second"));
          await sleep(5);
          assert.deepEqual(ran, [], "no effect runs while fn is still running");
          return "value";
        });
        assert.equal(value, "value");
        assert.deepEqual(ran, ["first", "second"], "effects ran before transaction() resolved, in registration order");
        assert.equal(await seenByEffect, "committed");

        ran.length = 0;
        await assert.rejects(
          store.transaction({ iModelId: "m1" }, async (tx) => {
            await tx.updateIModel({ ...iModel("m1"), name: "rolled back" });
            tx.afterCommit(() => ran.push("rolled back"));
            throw new Error("boom");
          }),
          /boom/,
        );
        // A failed statement after the registration rolls back too.
        await assert.rejects(
          store.transaction(async (tx) => {
            tx.afterCommit(() => ran.push("unique violation"));
            await tx.insertIModel(iModel("m1"));
          }),
          UniqueViolation,
        );
        // The next transaction does not inherit the dropped effects.
        await store.transaction(async (tx) => tx.afterCommit(() => ran.push("next")));
        assert.deepEqual(ran, ["next"]);
        assert.equal((await read((r) => r.getIModel("m1")))?.name, "committed");
      });

      it("an effect that throws fails neither the commit nor the effects after it; a tx kept past its callback refuses effects", async () => {
        const ran: string[] = [];
        const warnings: Error[] = [];
        const onWarning = (w: Error) => warnings.push(w);
        process.on("warning", onWarning);
        let kept: MetadataTx | undefined;
        try {
          const result = await store.transaction(async (tx) => {
            kept = tx;
            await tx.insertIModel(iModel("m3"));
            tx.afterCommit(() => {
              throw new Error("effect bug");
            });
            tx.afterCommit(() => ran.push("after the bug"));
            return 3;
          });
          assert.equal(result, 3);
          await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
        } finally {
          process.off("warning", onWarning);
        }
        assert.deepEqual(ran, ["after the bug"]);
        assert.ok(await read((r) => r.getIModel("m3")), "the write committed");
        assert.ok(
          warnings.some((w) => /effect bug/.test(w.message)),
          "the throwing effect is reported as a process warning",
        );
        assert.throws(() => kept!.afterCommit(() => ran.push("late")));
        assert.deepEqual(ran, ["after the bug"]);
      });

      it("runs transactions of one scope one at a time (read-modify-write across awaits loses no update)", async () => {
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.transaction(i % 2 === 0 ? { iModelId: "m1" } : { iTwinId: "tw", iModelId: "m1" }, async (tx) => {
              const record = (await tx.getIModel("m1"))!;
              await sleep(2);
              await tx.updateIModel({ ...record, nextBriefcaseId: record.nextBriefcaseId + 1 });
            }),
          ),
        );
        assert.equal((await read((tx) => tx.getIModel("m1")))?.nextBriefcaseId, 10);
      });
    });

    describe("iModels", () => {
      it("round-trips every field, JSON extent included; a duplicate id is a UniqueViolation", async () => {
        const record = iModel("m3", {
          description: "a description",
          extent: { southWest: { latitude: 1.5, longitude: -2 }, northEast: { latitude: 3, longitude: 4.25 } },
          containersEnabled: 3,
          state: "notInitialized",
          creationMode: "empty",
          baselineState: "initializationScheduled",
          baselineSize: null,
          nextBriefcaseId: 7,
        });
        await store.transaction((tx) => tx.insertIModel(record));
        assert.deepEqual(await read((tx) => tx.getIModel("m3")), record);
        await assert.rejects(
          store.transaction((tx) => tx.insertIModel(iModel("m3", { name: "other" }))),
          UniqueViolation,
        );
      });

      it("round-trips a fork's creation source (JSON) and an update that keeps it", async () => {
        const creationSource = {
          kind: "fork" as const,
          iModelId: "m1",
          changesetId: "a".repeat(40),
          changesetIndex: 2,
          preserveHistory: true,
          relationshipId: "r1",
        };
        const record = iModel("m-fork", {
          creationMode: "fork",
          baselineState: "initializationScheduled",
          state: "notInitialized",
          creationSource,
        });
        await store.transaction((tx) => tx.insertIModel(record));
        assert.deepEqual(await read((tx) => tx.getIModel("m-fork")), record);
        await store.transaction((tx) =>
          tx.updateIModel({ ...record, state: "initialized", baselineState: "initialized" }),
        );
        assert.deepEqual((await read((tx) => tx.getIModel("m-fork")))?.creationSource, creationSource);
      });

      it("update rewrites every field but the id", async () => {
        const updated = iModel("m1", {
          name: "new name",
          description: "d",
          extent: { southWest: { latitude: 0, longitude: 0 }, northEast: { latitude: 1, longitude: 1 } },
          state: "notInitialized",
          baselineState: "initializationFailed",
          baselineSize: 42,
          baselineFailure: "bad file",
          nextBriefcaseId: 12,
          containersEnabled: 1,
        });
        await store.transaction((tx) => tx.updateIModel(updated));
        assert.deepEqual(await read((tx) => tx.getIModel("m1")), updated);
        await store.transaction((tx) => tx.updateIModel({ ...updated, extent: null, description: null }));
        const back = await read((tx) => tx.getIModel("m1"));
        assert.equal(back?.extent, null);
        assert.equal(back?.description, null);
      });

      it("lists by iTwin: default order createdDateTime then id; name/createdDateTime orders both ways; exact paging", async () => {
        await store.transaction(async (tx) => {
          await tx.deleteIModel("m1");
          await tx.deleteIModel("m2");
          await tx.insertIModel(iModel("b", { name: "Alpha", createdAt: at(10) }));
          await tx.insertIModel(iModel("a", { name: "Charlie", createdAt: at(10) }));
          await tx.insertIModel(iModel("c", { name: "Delta", createdAt: at(5) }));
          await tx.insertIModel(iModel("d", { name: "Bravo", createdAt: at(20) }));
          await tx.insertIModel(iModel("x", { iTwinId: "other", createdAt: at(1) }));
        });
        const ids = async (filter: Partial<IModelFilter> = {}, page: Page = ALL) =>
          (await read((tx) => tx.listIModels({ iTwinId: "tw", ...filter }, page))).map((m) => m.id);
        assert.deepEqual(await ids(), ["c", "a", "b", "d"]);
        assert.deepEqual(await ids({ orderBy: { field: "createdDateTime", direction: "asc" } }), ["c", "a", "b", "d"]);
        assert.deepEqual(await ids({ orderBy: { field: "createdDateTime", direction: "desc" } }), ["d", "b", "a", "c"]);
        assert.deepEqual(await ids({ orderBy: { field: "name", direction: "asc" } }), ["b", "d", "a", "c"]);
        assert.deepEqual(await ids({ orderBy: { field: "name", direction: "desc" } }), ["c", "a", "d", "b"]);
        assert.deepEqual(await ids({}, { limit: 2, offset: 0 }), ["c", "a"]);
        assert.deepEqual(await ids({}, { limit: 2, offset: 1 }), ["a", "b"]);
        assert.deepEqual(await ids({}, { limit: 10, offset: 3 }), ["d"]);
        assert.deepEqual(await ids({}, { limit: 10, offset: 4 }), []);
        assert.deepEqual(await ids({}, { limit: 0, offset: 0 }), []);
        assert.deepEqual(await ids({ iTwinId: "other" }), ["x"]);
        assert.deepEqual(await ids({ iTwinId: "nobody" }), []);
      });

      it("filters: name is exact, search is a case-insensitive substring of name or description, state", async () => {
        await store.transaction(async (tx) => {
          await tx.insertIModel(iModel("m3", { name: "Bridge", description: "Steel structure" }));
          await tx.insertIModel(
            iModel("m4", { name: "Ärger Straße", state: "notInitialized", baselineState: "waitingForFile" }),
          );
          await tx.insertIModel(iModel("m5", { name: "bridge" }));
        });
        const ids = async (filter: Partial<IModelFilter>) =>
          (await read((tx) => tx.listIModels({ iTwinId: "tw", ...filter }, ALL))).map((m) => m.id);
        assert.deepEqual(await ids({ name: "Bridge" }), ["m3"]);
        assert.deepEqual(await ids({ name: "Brid" }), []);
        assert.deepEqual(await ids({ search: "BRIDGE" }), ["m3", "m5"]);
        assert.deepEqual(await ids({ search: "steel STRUCT" }), ["m3"]);
        assert.deepEqual(await ids({ search: "ärger" }), ["m4"]);
        assert.deepEqual(await ids({ search: "name-m" }), ["m1", "m2"]);
        assert.deepEqual(await ids({ search: "zzz" }), []);
        assert.deepEqual(await ids({ state: "notInitialized" }), ["m4"]);
        assert.deepEqual(await ids({ state: "initialized", search: "bridge" }), ["m3", "m5"]);
        assert.deepEqual(await ids({ name: "bridge", search: "bridge" }), ["m5"]);
      });

      it("failed creations are hidden from lists and name lookups, not from getIModel", async () => {
        await store.transaction(async (tx) => {
          await tx.insertIModel(
            iModel("m3", {
              name: "Broken",
              state: "notInitialized",
              baselineState: "initializationFailed",
              baselineFailure: "bad",
            }),
          );
        });
        const ids = async (filter: Partial<IModelFilter>) =>
          (await read((tx) => tx.listIModels({ iTwinId: "tw", ...filter }, ALL))).map((m) => m.id);
        assert.deepEqual(await ids({}), ["m1", "m2"]);
        assert.deepEqual(await ids({ name: "Broken" }), []);
        assert.deepEqual(await ids({ state: "notInitialized" }), []);
        assert.equal(await read((tx) => tx.findIModelByName("tw", "Broken")), undefined);
        assert.equal((await read((tx) => tx.getIModel("m3")))?.baselineFailure, "bad");
        // The name is free again: a new iModel may take it and is the one found.
        await store.transaction((tx) => tx.insertIModel(iModel("m4", { name: "Broken" })));
        assert.equal((await read((tx) => tx.findIModelByName("tw", "Broken")))?.id, "m4");
      });

      it("findIModelByName matches the exact name within the iTwin", async () => {
        assert.equal((await read((tx) => tx.findIModelByName("tw", "name-m2")))?.id, "m2");
        assert.equal(await read((tx) => tx.findIModelByName("tw", "NAME-M2")), undefined);
        assert.equal(await read((tx) => tx.findIModelByName("tw", "name-m")), undefined);
        assert.equal(await read((tx) => tx.findIModelByName("other", "name-m2")), undefined);
      });
    });

    describe("changesets", () => {
      beforeEach(async () => {
        await store.transaction(async (tx) => {
          for (let i = 1; i <= 5; i++) await tx.insertChangeset(changeset("m1", i));
          await tx.insertChangeset(changeset("m1", 6, { state: "waitingForFile" }));
          await tx.insertChangeset(changeset("m2", 1, { creatorId: "zed" }));
        });
      });
      const list = (filter: Partial<ChangesetFilter>, page: Page = ALL) =>
        read(async (tx) =>
          (await tx.listChangesets("m1", { direction: "asc", onlyUploaded: true, ...filter }, page)).map(
            (c) => c.index,
          ),
        );

      it("round-trip every field, JSON synchronizationInfo included", async () => {
        const record = changeset("m1", 7, {
          description: null,
          containingChanges: 6,
          groupId: "g1",
          synchronizationInfo: { taskId: "t-1", changedFiles: ["a.dgn", "b.dwg"] },
          state: "waitingForFile",
        });
        await store.transaction((tx) => tx.insertChangeset(record));
        assert.deepEqual(await read((tx) => tx.getChangesetByIndex("m1", 7)), record);
        assert.deepEqual(await read((tx) => tx.getChangesetById("m1", record.id)), record);
        const noFiles = { ...record, synchronizationInfo: { taskId: "t-2", changedFiles: null } };
        await store.transaction((tx) => tx.updateChangeset(noFiles));
        assert.deepEqual(await read((tx) => tx.getChangesetByIndex("m1", 7)), noFiles);
      });

      it("the same index or the same id twice in one iModel is a UniqueViolation; other iModels are separate", async () => {
        await assert.rejects(
          store.transaction((tx) => tx.insertChangeset(changeset("m1", 3, { id: "f".repeat(40) }))),
          UniqueViolation,
        );
        await assert.rejects(
          store.transaction((tx) => tx.insertChangeset(changeset("m1", 7, { id: changeset("m1", 2).id }))),
          UniqueViolation,
        );
        await store.transaction((tx) => tx.insertChangeset(changeset("m2", 2)));
        assert.equal((await read((tx) => tx.getChangesetById("m2", changeset("m1", 2).id)))?.iModelId, "m2");
        assert.equal(await read((tx) => tx.getChangesetById("m2", changeset("m1", 3).id)), undefined);
      });

      it("lists: afterIndex exclusive, lastIndex inclusive, onlyUploaded, direction, exact paging", async () => {
        assert.deepEqual(await list({}), [1, 2, 3, 4, 5]);
        assert.deepEqual(await list({ onlyUploaded: false }), [1, 2, 3, 4, 5, 6]);
        assert.deepEqual(await list({ direction: "desc", onlyUploaded: false }), [6, 5, 4, 3, 2, 1]);
        assert.deepEqual(await list({ afterIndex: 0 }), [1, 2, 3, 4, 5]);
        assert.deepEqual(await list({ afterIndex: 2 }), [3, 4, 5]);
        assert.deepEqual(await list({ lastIndex: 2 }), [1, 2]);
        assert.deepEqual(await list({ afterIndex: 2, lastIndex: 4 }), [3, 4]);
        assert.deepEqual(await list({ afterIndex: 2, lastIndex: 4, direction: "desc" }), [4, 3]);
        assert.deepEqual(await list({ afterIndex: 4, lastIndex: 6, onlyUploaded: false }), [5, 6]);
        assert.deepEqual(await list({ afterIndex: 4, lastIndex: 4 }), []);
        assert.deepEqual(await list({}, { limit: 2, offset: 0 }), [1, 2]);
        assert.deepEqual(await list({}, { limit: 2, offset: 2 }), [3, 4]);
        assert.deepEqual(await list({}, { limit: 2, offset: 4 }), [5]);
        assert.deepEqual(await list({ direction: "desc" }, { limit: 2, offset: 1 }), [4, 3]);
        assert.deepEqual(await list({}, { limit: 0, offset: 0 }), []);
        assert.deepEqual(
          await read(async (tx) =>
            (await tx.listChangesets("m2", { direction: "asc", onlyUploaded: true }, ALL)).map((c) => c.creatorId),
          ),
          ["zed"],
        );
      });

      it("a page of 1,000 out of 3,000 is exactly the asked window", async () => {
        await store.transaction(async (tx) => {
          await tx.deleteChangeset("m1", 6);
          for (let i = 6; i <= 3000; i++) await tx.insertChangeset(changeset("m1", i));
        });
        const page = await list({ afterIndex: 1500 }, { limit: 1000, offset: 0 });
        assert.deepEqual(
          page,
          Array.from({ length: 1000 }, (_, i) => 1501 + i),
        );
        const last = await list({ direction: "desc" }, { limit: 1000, offset: 2500 });
        assert.deepEqual(
          last,
          Array.from({ length: 500 }, (_, i) => 500 - i),
        );
      });

      it("latest = newest uploaded; pending = the one waiting for its file; update and delete", async () => {
        assert.equal((await read((tx) => tx.getLatestChangeset("m1")))?.index, 5);
        assert.equal((await read((tx) => tx.getPendingChangeset("m1")))?.index, 6);
        assert.equal(await read((tx) => tx.getPendingChangeset("m2")), undefined);
        await store.transaction(async (tx) => {
          await tx.updateChangeset({ ...changeset("m1", 6), state: "fileUploaded", fileSize: 999, pushedAt: at(100) });
          await tx.deleteChangeset("m1", 1);
        });
        const latest = await read((tx) => tx.getLatestChangeset("m1"));
        assert.deepEqual([latest?.index, latest?.fileSize, latest?.pushedAt], [6, 999, at(100)]);
        assert.equal(await read((tx) => tx.getPendingChangeset("m1")), undefined);
        assert.equal(await read((tx) => tx.getChangesetByIndex("m1", 1)), undefined);
        await store.transaction(async (tx) => {
          await tx.insertIModel(iModel("m3"));
        });
        assert.equal(await read((tx) => tx.getLatestChangeset("m3")), undefined);
      });

      it("the reads of a push's create in one: by id, pending and latest, as their own lookups answer them", async () => {
        const separately = (iModelId: string, id: string) =>
          read(async (tx) => {
            const [byId, pending, latest] = [
              await tx.getChangesetById(iModelId, id),
              await tx.getPendingChangeset(iModelId),
              await tx.getLatestChangeset(iModelId),
            ];
            return {
              ...(byId ? { byId } : {}),
              ...(pending ? { pending } : {}),
              ...(latest ? { latest } : {}),
            };
          });
        const third = (await read((tx) => tx.getChangesetByIndex("m1", 3)))!;
        const sixth = (await read((tx) => tx.getChangesetByIndex("m1", 6)))!;
        for (const [iModelId, id] of [
          ["m1", third.id],
          ["m1", sixth.id],
          ["m1", "f".repeat(40)],
          ["m2", third.id],
          ["m3", third.id],
        ] as const) {
          const together = await read((tx) => tx.getChangesetsForPush(iModelId, id));
          assert.deepEqual(together, await separately(iModelId, id), `${iModelId} ${id}`);
        }
        assert.equal((await read((tx) => tx.getChangesetsForPush("m1", third.id))).byId?.index, 3);
        assert.equal((await read((tx) => tx.getChangesetsForPush("m1", third.id))).pending?.index, 6);
        assert.equal((await read((tx) => tx.getChangesetsForPush("m1", third.id))).latest?.index, 5);
      });
    });

    describe("briefcases", () => {
      beforeEach(async () => {
        await store.transaction(async (tx) => {
          await tx.insertBriefcase(briefcase("m1", 2, { acquiredAt: at(1) }));
          await tx.insertBriefcase(briefcase("m1", 5, { ownerId: "bob", acquiredAt: at(2), deviceName: "pc" }));
          await tx.insertBriefcase(briefcase("m1", 3, { acquiredAt: at(2) }));
          await tx.insertBriefcase(briefcase("m1", 4, { acquiredAt: at(3) }));
          await tx.insertBriefcase(briefcase("m2", 2, { ownerId: "zed" }));
        });
      });
      const ids = (filter: { ownerId?: string; direction: "asc" | "desc" }, page: Page = ALL) =>
        read(async (tx) => (await tx.listBriefcases("m1", filter, page)).map((b) => b.briefcaseId));

      it("round-trips; the same id twice in one iModel is a UniqueViolation", async () => {
        assert.deepEqual(
          await read((tx) => tx.getBriefcase("m1", 5)),
          briefcase("m1", 5, { ownerId: "bob", acquiredAt: at(2), deviceName: "pc" }),
        );
        await assert.rejects(
          store.transaction((tx) => tx.insertBriefcase(briefcase("m1", 2, { ownerId: "x" }))),
          UniqueViolation,
        );
      });

      it("lists by acquiredAt then briefcase id in the asked direction, by owner, with exact paging", async () => {
        assert.deepEqual(await ids({ direction: "asc" }), [2, 3, 5, 4]);
        assert.deepEqual(await ids({ direction: "desc" }), [4, 5, 3, 2]);
        assert.deepEqual(await ids({ direction: "asc", ownerId: "alice" }), [2, 3, 4]);
        assert.deepEqual(await ids({ direction: "desc", ownerId: "alice" }), [4, 3, 2]);
        assert.deepEqual(await ids({ direction: "asc", ownerId: "nobody" }), []);
        assert.deepEqual(await ids({ direction: "asc" }, { limit: 2, offset: 1 }), [3, 5]);
        assert.deepEqual(await ids({ direction: "asc" }, { limit: 5, offset: 3 }), [4]);
      });

      it("counts all or one owner's; delete removes one", async () => {
        assert.equal(await read((tx) => tx.countBriefcases("m1")), 4);
        assert.equal(await read((tx) => tx.countBriefcases("m1", "alice")), 3);
        assert.equal(await read((tx) => tx.countBriefcases("m1", "zed")), 0);
        assert.equal(await read((tx) => tx.countBriefcases("m2")), 1);
        await store.transaction((tx) => tx.deleteBriefcase("m1", 3));
        assert.equal(await read((tx) => tx.getBriefcase("m1", 3)), undefined);
        assert.equal(await read((tx) => tx.countBriefcases("m1")), 3);
        assert.ok(await read((tx) => tx.getBriefcase("m2", 2)));
      });
    });

    describe("named versions", () => {
      beforeEach(async () => {
        await store.transaction(async (tx) => {
          await tx.insertNamedVersion(
            namedVersion("m1", "b", 2, { name: "Second", createdAt: at(50), description: "Steel beams" }),
          );
          await tx.insertNamedVersion(namedVersion("m1", "a", 4, { name: "Third", createdAt: at(10) }));
          await tx.insertNamedVersion(
            namedVersion("m1", "c", 0, { name: "Baseline", createdAt: at(30), state: "hidden" }),
          );
          await tx.insertNamedVersion(namedVersion("m2", "a", 2, { name: "Second" }));
        });
      });
      const ids = (filter: NamedVersionFilter = {}, page: Page = ALL) =>
        read(async (tx) => (await tx.listNamedVersions("m1", filter, page)).map((v) => v.id));

      it("round-trips; id, name and changeset are each unique within an iModel", async () => {
        assert.deepEqual(
          await read((tx) => tx.getNamedVersion("m1", "c")),
          namedVersion("m1", "c", 0, { name: "Baseline", createdAt: at(30), state: "hidden" }),
        );
        await assert.rejects(
          store.transaction((tx) => tx.insertNamedVersion(namedVersion("m1", "b", 5))),
          UniqueViolation,
        );
        await assert.rejects(
          store.transaction((tx) => tx.insertNamedVersion(namedVersion("m1", "d", 5, { name: "Second" }))),
          UniqueViolation,
        );
        await assert.rejects(
          store.transaction((tx) => tx.insertNamedVersion(namedVersion("m1", "d", 2))),
          UniqueViolation,
        );
      });

      it("update changes name, description and state; renaming onto a taken name is a UniqueViolation", async () => {
        const current = (await read((tx) => tx.getNamedVersion("m1", "a")))!;
        const updated = { ...current, name: "Renamed", description: "now described", state: "hidden" as const };
        await store.transaction((tx) => tx.updateNamedVersion(updated));
        assert.deepEqual(await read((tx) => tx.getNamedVersion("m1", "a")), updated);
        assert.equal((await read((tx) => tx.getNamedVersionByName("m1", "Renamed")))?.id, "a");
        assert.equal(await read((tx) => tx.getNamedVersionByName("m1", "Third")), undefined);
        await assert.rejects(
          store.transaction((tx) => tx.updateNamedVersion({ ...updated, name: "Second" })),
          UniqueViolation,
        );
      });

      it("lookups by name and by changeset are per iModel", async () => {
        assert.equal((await read((tx) => tx.getNamedVersionByName("m1", "Second")))?.changesetIndex, 2);
        assert.equal(await read((tx) => tx.getNamedVersionByName("m1", "second")), undefined);
        assert.equal((await read((tx) => tx.getNamedVersionByChangeset("m1", 4)))?.id, "a");
        assert.equal((await read((tx) => tx.getNamedVersionByChangeset("m1", 0)))?.id, "c");
        assert.equal(await read((tx) => tx.getNamedVersionByChangeset("m1", 3)), undefined);
        assert.equal(await read((tx) => tx.getNamedVersionByChangeset("m2", 4)), undefined);
      });

      it("lists by changeset index by default; createdDateTime and index orders both ways; filters; exact paging", async () => {
        assert.deepEqual(await ids(), ["c", "b", "a"]);
        assert.deepEqual(await ids({ orderBy: { field: "changesetIndex", direction: "desc" } }), ["a", "b", "c"]);
        assert.deepEqual(await ids({ orderBy: { field: "createdDateTime", direction: "asc" } }), ["a", "c", "b"]);
        assert.deepEqual(await ids({ orderBy: { field: "createdDateTime", direction: "desc" } }), ["b", "c", "a"]);
        assert.deepEqual(await ids({ name: "Second" }), ["b"]);
        assert.deepEqual(await ids({ name: "second" }), []);
        assert.deepEqual(await ids({ search: "STEEL" }), ["b"]);
        assert.deepEqual(await ids({ search: "ir" }), ["a"]);
        assert.deepEqual(await ids({ search: "e" }), ["c", "b"]);
        assert.deepEqual(await ids({ state: "hidden" }), ["c"]);
        assert.deepEqual(await ids({ state: "visible", search: "d" }), ["b", "a"]);
        assert.deepEqual(await ids({}, { limit: 1, offset: 1 }), ["b"]);
        assert.deepEqual(await ids({}, { limit: 5, offset: 2 }), ["a"]);
        assert.deepEqual(await ids({}, { limit: 5, offset: 3 }), []);
      });

      it("range lookup includes both ends", async () => {
        const range = async (from: number, to: number) =>
          (await read((tx) => tx.listNamedVersionsInRange("m1", from, to))).map((v) => v.changesetIndex);
        assert.deepEqual(await range(0, 10), [0, 2, 4]);
        assert.deepEqual(await range(2, 4), [2, 4]);
        assert.deepEqual(await range(3, 3), []);
        assert.deepEqual(await range(1, 3), [2]);
      });
    });

    describe("changeset groups and extended data", () => {
      it("groups: round-trip, unique id, update, list by creation then id with exact paging", async () => {
        await store.transaction(async (tx) => {
          await tx.insertChangesetGroup(group("m1", "g2", { createdAt: at(5) }));
          await tx.insertChangesetGroup(group("m1", "g3", { createdAt: at(1) }));
          await tx.insertChangesetGroup(group("m1", "g1", { createdAt: at(5), description: null }));
          await tx.insertChangesetGroup(group("m2", "g1"));
        });
        assert.deepEqual(
          await read((tx) => tx.getChangesetGroup("m1", "g1")),
          group("m1", "g1", { createdAt: at(5), description: null }),
        );
        await assert.rejects(
          store.transaction((tx) => tx.insertChangesetGroup(group("m1", "g2"))),
          UniqueViolation,
        );
        const ids = async (page: Page = ALL) =>
          (await read((tx) => tx.listChangesetGroups("m1", page))).map((g) => g.id);
        assert.deepEqual(await ids(), ["g3", "g1", "g2"]);
        assert.deepEqual(await ids({ limit: 1, offset: 1 }), ["g1"]);
        assert.deepEqual(await ids({ limit: 9, offset: 3 }), []);
        const completed = {
          ...group("m1", "g2", { createdAt: at(5) }),
          state: "completed" as const,
          description: "done",
        };
        await store.transaction((tx) => tx.updateChangesetGroup(completed));
        assert.deepEqual(await read((tx) => tx.getChangesetGroup("m1", "g2")), completed);
        assert.equal((await read((tx) => tx.getChangesetGroup("m2", "g1")))?.state, "inProgress");
      });

      it("extended data: put inserts or replaces; list by changeset index with exact paging", async () => {
        await store.transaction(async (tx) => {
          await tx.putExtendedData("m1", 3, "three");
          await tx.putExtendedData("m1", 1, "one");
          await tx.putExtendedData("m1", 2, "two");
          await tx.putExtendedData("m1", 1, "ONE");
          await tx.putExtendedData("m2", 1, "other");
        });
        assert.equal(await read((tx) => tx.getExtendedData("m1", 1)), "ONE");
        assert.equal(await read((tx) => tx.getExtendedData("m1", 4)), undefined);
        assert.deepEqual(await read((tx) => tx.listExtendedData("m1", ALL)), [
          { changesetIndex: 1, data: "ONE" },
          { changesetIndex: 2, data: "two" },
          { changesetIndex: 3, data: "three" },
        ]);
        assert.deepEqual(await read((tx) => tx.listExtendedData("m1", { limit: 1, offset: 2 })), [
          { changesetIndex: 3, data: "three" },
        ]);
      });
    });

    describe("checkpoints", () => {
      beforeEach(async () => {
        await store.transaction(async (tx) => {
          await tx.upsertCheckpoint(checkpoint("m1", 0, "successful"));
          await tx.upsertCheckpoint(checkpoint("m1", 5, "successful"));
          await tx.upsertCheckpoint(checkpoint("m1", 7, "failed"));
          await tx.upsertCheckpoint(checkpoint("m1", 8, "scheduled"));
          await tx.upsertCheckpoint(checkpoint("m2", 9, "successful"));
        });
      });

      it("upsert inserts then replaces; delete removes", async () => {
        assert.deepEqual(await read((tx) => tx.getCheckpoint("m1", 7)), checkpoint("m1", 7, "failed"));
        const done = checkpoint("m1", 8, "successful", { updatedAt: at(99) });
        await store.transaction((tx) => tx.upsertCheckpoint(done));
        assert.deepEqual(await read((tx) => tx.getCheckpoint("m1", 8)), done);
        await store.transaction((tx) => tx.deleteCheckpoint("m1", 7));
        assert.equal(await read((tx) => tx.getCheckpoint("m1", 7)), undefined);
        assert.deepEqual(
          (await read((tx) => tx.listCheckpoints("m1"))).map((c) => c.changesetIndex),
          [0, 5, 8],
        );
      });

      it("preceding = newest successful at or before the index; latest = newest successful", async () => {
        const preceding = async (index: number) =>
          (await read((tx) => tx.getPrecedingCheckpoint("m1", index)))?.changesetIndex;
        assert.equal(await preceding(0), 0);
        assert.equal(await preceding(4), 0);
        assert.equal(await preceding(5), 5);
        assert.equal(await preceding(7), 5);
        assert.equal(await preceding(100), 5);
        assert.equal(await preceding(-1), undefined);
        assert.equal((await read((tx) => tx.getLatestCheckpoint("m1")))?.changesetIndex, 5);
        assert.equal((await read((tx) => tx.getLatestCheckpoint("m2")))?.changesetIndex, 9);
        await store.transaction((tx) => tx.deleteCheckpoint("m1", 0));
        assert.equal(await preceding(4), undefined);
        await store.transaction(async (tx) => {
          await tx.insertIModel(iModel("m3"));
          await tx.upsertCheckpoint(checkpoint("m3", 0, "notGenerated"));
        });
        assert.equal(await read((tx) => tx.getLatestCheckpoint("m3")), undefined);
      });

      it("a changeset's links in one read: its named version and the preceding successful checkpoint", async () => {
        await store.transaction((tx) => tx.insertNamedVersion(namedVersion("m1", "v6", 6)));
        const links = (iModelId: string, index: number) => read((tx) => tx.getChangesetLinks(iModelId, index));
        assert.deepEqual(await links("m1", 6), { namedVersionId: "v6", precedingCheckpointIndex: 5 });
        assert.deepEqual(await links("m1", 4), { precedingCheckpointIndex: 0 });
        assert.deepEqual(await links("m1", 8), { precedingCheckpointIndex: 5 });
        assert.deepEqual(await links("m2", 6), {});
        assert.deepEqual(await links("m2", 9), { precedingCheckpointIndex: 9 });
        assert.deepEqual(await links("m3", 1), {});
      });

      it("progress since the last checkpoint that did not fail: its index and the uploaded bytes after it", async () => {
        await store.transaction(async (tx) => {
          for (let i = 1; i <= 12; i++)
            await tx.insertChangeset(
              changeset("m1", i, { fileSize: 100 * i, state: i === 12 ? "waitingForFile" : "fileUploaded" }),
            );
          await tx.insertChangeset(changeset("m2", 10, { fileSize: 5 }));
        });
        const progress = (iModelId: string, index: number) => read((tx) => tx.getCheckpointProgress(iModelId, index));
        // m1: checkpoints at 0, 5 (successful), 7 (failed: not counted), 8 (scheduled).
        assert.deepEqual(await progress("m1", 11), { lastIndex: 8, bytesSince: 900 + 1000 + 1100 });
        assert.deepEqual(await progress("m1", 12), { lastIndex: 8, bytesSince: 900 + 1000 + 1100 });
        assert.deepEqual(await progress("m1", 8), { lastIndex: 8, bytesSince: 0 });
        await store.transaction((tx) => tx.deleteCheckpoint("m1", 8));
        assert.deepEqual(await progress("m1", 9), { lastIndex: 5, bytesSince: 600 + 700 + 800 + 900 });
        assert.deepEqual(await progress("m2", 10), { lastIndex: 9, bytesSince: 5 });
        assert.deepEqual(await progress("m3", 4), { lastIndex: 0, bytesSince: 0 });
      });

      it("lists every checkpoint of the iModel, any state, by changeset index", async () => {
        const all = await read((tx) => tx.listCheckpoints("m1"));
        assert.deepEqual(
          all.map((c) => [c.changesetIndex, c.state]),
          [
            [0, "successful"],
            [5, "successful"],
            [7, "failed"],
            [8, "scheduled"],
          ],
        );
      });
    });

    describe("locks", () => {
      // briefcase 2: exclusive 0x3, 0xa; shared 0x1, 0x2 — briefcase 3: shared 0x1, 0x2 — briefcase 5: exclusive 0x5
      beforeEach(async () => {
        await store.transaction(async (tx) => {
          await tx.grantLocks("m1", 5, "exclusive", ["0x5"]);
          await tx.grantLocks("m1", 2, "shared", ["0x2", "0x1", "0x3"]);
          await tx.grantLocks("m1", 3, "shared", ["0x1", "0x2"]);
          await tx.grantLocks("m1", 2, "exclusive", ["0xa", "0x3"]);
          await tx.grantLocks("m2", 2, "exclusive", ["0x1"]);
        });
      });
      const locks = (ids: string[], iModelId = "m1") => read((tx) => tx.getObjectLocks(iModelId, ids));
      const list = (filter: { briefcaseId?: number; level?: "shared" | "exclusive" } = {}, page: Page = ALL) =>
        read((tx) => tx.listLocks("m1", filter, page));
      const FULL = ["2:x:0x3", "2:x:0xa", "2:s:0x1", "2:s:0x2", "3:s:0x1", "3:s:0x2", "5:x:0x5"];

      it("reads the lock state of objects; never-locked objects are absent", async () => {
        const map = await locks(["0x1", "0x3", "0x5", "0x99"]);
        assert.deepEqual(map.get("0x1"), {
          objectId: "0x1",
          exclusiveBriefcaseId: null,
          sharedBriefcaseIds: [2, 3],
          lastExclusiveReleaseIndex: null,
        });
        assert.deepEqual(map.get("0x3"), {
          objectId: "0x3",
          exclusiveBriefcaseId: 2,
          sharedBriefcaseIds: [],
          lastExclusiveReleaseIndex: null,
        });
        assert.deepEqual(map.get("0x5"), {
          objectId: "0x5",
          exclusiveBriefcaseId: 5,
          sharedBriefcaseIds: [],
          lastExclusiveReleaseIndex: null,
        });
        assert.equal(map.has("0x99"), false);
        assert.equal(map.size, 3);
        assert.equal((await locks([])).size, 0);
        assert.deepEqual((await locks(["0x1"], "m2")).get("0x1")?.exclusiveBriefcaseId, 2);
        assert.equal((await locks(["0x5"], "m2")).size, 0);
      });

      it("exclusive replaces the briefcase's own shared lock; granting again changes nothing", async () => {
        assert.deepEqual((await locks(["0x3"])).get("0x3")?.sharedBriefcaseIds, []);
        await store.transaction(async (tx) => {
          await tx.grantLocks("m1", 2, "shared", ["0x1"]);
          await tx.grantLocks("m1", 2, "exclusive", ["0x3"]);
        });
        assert.deepEqual(flatten(await list()), FULL);
      });

      it("lists per briefcase in id order, exclusive then shared, each by object id", async () => {
        assert.deepEqual(await list(), [
          { briefcaseId: 2, exclusive: ["0x3", "0xa"], shared: ["0x1", "0x2"] },
          { briefcaseId: 3, exclusive: [], shared: ["0x1", "0x2"] },
          { briefcaseId: 5, exclusive: ["0x5"], shared: [] },
        ]);
        assert.deepEqual(await list({ level: "exclusive" }), [
          { briefcaseId: 2, exclusive: ["0x3", "0xa"], shared: [] },
          { briefcaseId: 5, exclusive: ["0x5"], shared: [] },
        ]);
        assert.deepEqual(await list({ level: "shared" }), [
          { briefcaseId: 2, exclusive: [], shared: ["0x1", "0x2"] },
          { briefcaseId: 3, exclusive: [], shared: ["0x1", "0x2"] },
        ]);
        assert.deepEqual(await list({ briefcaseId: 3 }), [{ briefcaseId: 3, exclusive: [], shared: ["0x1", "0x2"] }]);
        assert.deepEqual(await list({ briefcaseId: 3, level: "exclusive" }), []);
        assert.deepEqual(await list({ briefcaseId: 4 }), []);
      });

      it("offset and limit count object ids, for every window and filter", async () => {
        const filters = [
          {},
          { level: "shared" as const },
          { level: "exclusive" as const },
          { briefcaseId: 2 },
          { briefcaseId: 2, level: "shared" as const },
        ];
        for (const filter of filters) {
          const stream = flatten(await list(filter));
          for (let offset = 0; offset <= stream.length; offset++) {
            for (let limit = 0; limit <= stream.length + 1 - offset; limit++) {
              const page = await list(filter, { limit, offset });
              assert.deepEqual(
                flatten(page),
                stream.slice(offset, offset + limit),
                `${JSON.stringify(filter)} offset ${offset} limit ${limit}`,
              );
              assert.equal(
                new Set(page.map((g) => g.briefcaseId)).size,
                page.length,
                "one entity per briefcase in a page",
              );
            }
          }
        }
      });

      it("release removes only the briefcase's own locks and counts them; exclusive releases remember a positive index", async () => {
        const released = await store.transaction((tx) => tx.releaseLocks("m1", 2, ["0x3", "0x1", "0x5", "0x99"], 7));
        assert.equal(released, 2);
        const map = await locks(["0x1", "0x3", "0x5"]);
        assert.deepEqual(map.get("0x3"), {
          objectId: "0x3",
          exclusiveBriefcaseId: null,
          sharedBriefcaseIds: [],
          lastExclusiveReleaseIndex: 7,
        });
        assert.deepEqual(map.get("0x1")?.sharedBriefcaseIds, [3]);
        assert.equal(map.get("0x1")?.lastExclusiveReleaseIndex ?? null, null, "shared releases record nothing");
        assert.equal(map.get("0x5")?.exclusiveBriefcaseId, 5);
        assert.deepEqual(flatten(await list()), ["2:x:0xa", "2:s:0x2", "3:s:0x1", "3:s:0x2", "5:x:0x5"]);
        assert.equal(await store.transaction((tx) => tx.releaseLocks("m1", 2, ["0x3", "0x1"], 9)), 0);
        assert.equal((await locks(["0x3"])).get("0x3")?.lastExclusiveReleaseIndex, 7, "nothing held, nothing stamped");
      });

      it("releasedAfter leaves out objects nobody holds that were released at or before that index", async () => {
        await store.transaction((tx) => tx.releaseLocks("m1", 2, ["0x3"], 7));
        const at = (index: number) =>
          read((tx) => tx.getObjectLocks("m1", ["0x1", "0x3", "0x5", "0x99"], { releasedAfter: index }));
        assert.deepEqual(
          [...(await at(7)).keys()].sort(),
          ["0x1", "0x5"],
          "released at 7: nothing to tell a briefcase at 7",
        );
        assert.deepEqual((await at(6)).get("0x3"), {
          objectId: "0x3",
          exclusiveBriefcaseId: null,
          sharedBriefcaseIds: [],
          lastExclusiveReleaseIndex: 7,
        });
        assert.deepEqual((await at(7)).get("0x1")?.sharedBriefcaseIds, [2, 3], "shared holders are always there");
        await store.transaction((tx) => tx.grantLocks("m1", 4, "exclusive", ["0x3"]));
        assert.equal((await at(9)).get("0x3")?.exclusiveBriefcaseId, 4, "held objects are always there");
      });

      it("an exclusive release with index 0 keeps the earlier index; a new holder does not erase it", async () => {
        await store.transaction((tx) => tx.releaseLocks("m1", 2, ["0x3"], 4));
        await store.transaction((tx) => tx.grantLocks("m1", 3, "exclusive", ["0x3"]));
        assert.deepEqual((await locks(["0x3"])).get("0x3"), {
          objectId: "0x3",
          exclusiveBriefcaseId: 3,
          sharedBriefcaseIds: [],
          lastExclusiveReleaseIndex: 4,
        });
        assert.equal(await store.transaction((tx) => tx.releaseLocks("m1", 3, ["0x3"], 0)), 1);
        assert.equal((await locks(["0x3"])).get("0x3")?.lastExclusiveReleaseIndex, 4);
        assert.equal(await store.transaction((tx) => tx.releaseLocks("m1", 2, ["0xa"], 0)), 1);
        const a = (await locks(["0xa"])).get("0xa");
        assert.equal(a?.exclusiveBriefcaseId ?? null, null);
        assert.equal(a?.lastExclusiveReleaseIndex ?? null, null);
      });

      it("release all: every lock of the briefcase, or the first `limit` in list order, chunk after chunk", async () => {
        assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 2, 6, 3)), 3);
        assert.deepEqual(flatten(await list({ briefcaseId: 2 })), ["2:s:0x2"]);
        assert.equal((await locks(["0xa"])).get("0xa")?.lastExclusiveReleaseIndex, 6);
        assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 2, 6, 3)), 1);
        assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 2, 6, 3)), 0);
        assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 3, 0, 0)), 0);
        assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 3, 0)), 2);
        assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 3, 0)), 0);
        assert.deepEqual(flatten(await list()), ["5:x:0x5"]);
        assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 5, 8)), 1);
        assert.equal((await locks(["0x5"])).get("0x5")?.lastExclusiveReleaseIndex, 8);
        assert.deepEqual(await list(), []);
        assert.equal((await locks(["0x1"], "m2")).get("0x1")?.exclusiveBriefcaseId, 2, "other iModels keep theirs");
      });

      it("grants, lists, upgrades and releases 10,000 locks in single transactions", async () => {
        const ids = Array.from({ length: 10_000 }, (_, i) => `0x${(0x1000 + i).toString(16)}`);
        await store.transaction((tx) => tx.grantLocks("m1", 7, "shared", ids));
        await store.transaction((tx) => tx.grantLocks("m1", 8, "shared", ids.slice(0, 10)));
        const before = await locks(ids);
        assert.equal(before.size, 10_000);
        assert.deepEqual(before.get(ids[5]!)?.sharedBriefcaseIds, [7, 8]);
        await store.transaction((tx) => tx.grantLocks("m1", 7, "exclusive", ids.slice(10)));
        const after = await locks(ids);
        assert.equal(
          [...after.values()].filter((l) => l.exclusiveBriefcaseId === 7 && l.sharedBriefcaseIds.length === 0).length,
          9_990,
        );
        const page = await list({ briefcaseId: 7 }, { limit: 1000, offset: 9_500 });
        assert.deepEqual(
          page.map((g) => [g.exclusive.length, g.shared.length]),
          [[490, 10]],
        );
        let released = 0;
        for (let chunk = 0; chunk < 11; chunk++)
          released += await store.transaction((tx) => tx.releaseAllLocks("m1", 7, 2, 1000));
        assert.equal(released, 10_000);
        assert.deepEqual(flatten(await list({ briefcaseId: 7 })), []);
        assert.equal((await locks([ids[9_999]!])).get(ids[9_999]!)?.lastExclusiveReleaseIndex, 2);
      });

      it("one briefcase takes 3 × 10,000 exclusive and 10,000 shared locks in successive transactions, beside another's", async () => {
        const range = (from: number, n = 10_000) => Array.from({ length: n }, (_, i) => `0x${(from + i).toString(16)}`);
        const sorted = (ids: Iterable<string>) => [...ids].sort();
        // Briefcase 8 holds 10,000 exclusive locks of its own, and shares the last 100 ids of each of 7's shared batches.
        const others = range(0x900000);
        await store.transaction((tx) => tx.grantLocks("m1", 8, "exclusive", others));
        const exclusive: string[] = [];
        const shared = new Set<string>();
        const sharedWith8 = new Set<string>();
        for (let round = 0; round < 3; round++) {
          const x = range(0x100000 + round * 0x10000);
          const s = range(0x500000 + round * 0x10000);
          // From the second round on, 1,000 of the previous round's shared locks (none of them shared by 8) are upgraded.
          const upgrades = round === 0 ? [] : range(0x500000 + (round - 1) * 0x10000, 1000);
          await store.transaction(async (tx) => {
            await tx.grantLocks("m1", 8, "shared", s.slice(-100));
            await tx.grantLocks("m1", 7, "exclusive", [...x, ...upgrades]);
            await tx.grantLocks("m1", 7, "shared", s);
          });
          exclusive.push(...x, ...upgrades);
          for (const id of upgrades) shared.delete(id);
          for (const id of s) shared.add(id);
          for (const id of s.slice(-100)) sharedWith8.add(id);

          assert.deepEqual(
            await list({ briefcaseId: 7 }),
            [{ briefcaseId: 7, exclusive: sorted(exclusive), shared: sorted(shared) }],
            `round ${round}`,
          );
          const all = [...exclusive, ...shared, ...others];
          const map = await locks(all);
          assert.equal(map.size, all.length, `round ${round}: every object held has a record`);
          for (const id of exclusive)
            assert.deepEqual(map.get(id), {
              objectId: id,
              exclusiveBriefcaseId: 7,
              sharedBriefcaseIds: [],
              lastExclusiveReleaseIndex: null,
            });
          for (const id of shared) {
            const record = map.get(id);
            assert.equal(record?.exclusiveBriefcaseId ?? null, null, id);
            assert.deepEqual(record?.sharedBriefcaseIds, sharedWith8.has(id) ? [7, 8] : [7], id);
          }
          for (const id of others) assert.equal(map.get(id)?.exclusiveBriefcaseId, 8);
        }
        assert.equal(exclusive.length, 32_000);
        assert.equal(shared.size, 28_000);

        // Releasing by id the first round's locks, then all the rest, touches only briefcase 7's.
        const firstRound = [...range(0x100000), ...range(0x500000 + 1000, 9_000)];
        assert.equal(await store.transaction((tx) => tx.releaseLocks("m1", 7, firstRound, 3)), 19_000);
        const released = await locks(firstRound);
        assert.deepEqual(released.get("0x100000"), {
          objectId: "0x100000",
          exclusiveBriefcaseId: null,
          sharedBriefcaseIds: [],
          lastExclusiveReleaseIndex: 3,
        });
        assert.equal(released.has("0x501000"), false, "a released shared lock leaves nothing");
        assert.deepEqual(released.get(firstRound.at(-1)!)?.sharedBriefcaseIds, [8]);
        assert.equal(await store.transaction((tx) => tx.releaseAllLocks("m1", 7, 4)), 41_000);
        assert.deepEqual(await list({ briefcaseId: 7 }), []);
        assert.equal((await locks(["0x110000"])).get("0x110000")?.lastExclusiveReleaseIndex, 4);
        assert.deepEqual(
          (await list({ briefcaseId: 8 })).map((g) => [g.exclusive.length, g.shared.length]),
          [[10_000, 300]],
          "the other briefcase keeps all of its locks",
        );
      });
    });

    describe("blob deletion outbox", () => {
      it("requests are kept once each, oldest first, survive the iModel's deletion, and are forgotten one by one", async () => {
        await store.transaction(async (tx) => {
          await tx.requestBlobDeletion("files/m1/", 20);
          await tx.requestBlobDeletion("files/m2/checkpoints/3.bim", 10);
          await tx.requestBlobDeletion("files/m1/", 30); // again: still one entry, still the first time
          await tx.deleteIModel("m1");
        });
        assert.deepEqual(await read((tx) => tx.listBlobDeletions(10)), ["files/m2/checkpoints/3.bim", "files/m1/"]);
        assert.deepEqual(await read((tx) => tx.listBlobDeletions(1)), ["files/m2/checkpoints/3.bim"]);
        await store.transaction((tx) => tx.forgetBlobDeletion("files/m2/checkpoints/3.bim"));
        assert.deepEqual(await read((tx) => tx.listBlobDeletions(10)), ["files/m1/"]);
      });

      it("a request made in a failed transaction is not kept", async () => {
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.requestBlobDeletion("files/m1/", 1);
            throw new Error("boom");
          }),
        );
        assert.deepEqual(await read((tx) => tx.listBlobDeletions(10)), []);
      });

      it("holds are live until they expire or are removed; renewing moves the expiry", async () => {
        assert.equal(await read((tx) => tx.hasLiveDeletionHold(1_000)), false);
        await store.transaction((tx) => tx.putDeletionHold("backup:a", 2_000));
        assert.equal(await read((tx) => tx.hasLiveDeletionHold(1_000)), true);
        assert.equal(await read((tx) => tx.hasLiveDeletionHold(2_000)), false);
        await store.transaction((tx) => tx.putDeletionHold("backup:a", 5_000));
        await store.transaction((tx) => tx.putDeletionHold("backup:b", 3_000));
        assert.equal(await read((tx) => tx.hasLiveDeletionHold(4_000)), true);
        await store.transaction((tx) => tx.removeDeletionHold("backup:a"));
        assert.equal(await read((tx) => tx.hasLiveDeletionHold(4_000)), false);
        assert.equal(await read((tx) => tx.hasLiveDeletionHold(2_500)), true);
      });
    });

    it("deleting an iModel removes every row that belongs to it, and only those", async () => {
      const fill = (id: string) =>
        store.transaction(async (tx) => {
          await tx.insertChangeset(changeset(id, 1));
          await tx.insertBriefcase(briefcase(id, 2));
          await tx.insertNamedVersion(namedVersion(id, "v", 1));
          await tx.insertChangesetGroup(group(id, "g"));
          await tx.putExtendedData(id, 1, "data");
          await tx.upsertCheckpoint(checkpoint(id, 1, "successful"));
          await tx.grantLocks(id, 2, "exclusive", ["0x1"]);
          await tx.grantLocks(id, 2, "shared", ["0x2"]);
          await tx.releaseLocks(id, 2, ["0x1"], 1);
          await tx.grantLocks(id, 2, "exclusive", ["0x3"]);
        });
      await fill("m1");
      await fill("m2");
      const contents = (id: string) =>
        read(async (tx) => ({
          iModel: (await tx.getIModel(id)) !== undefined,
          changesets: (await tx.listChangesets(id, { direction: "asc", onlyUploaded: false }, ALL)).length,
          briefcases: await tx.countBriefcases(id),
          versions: (await tx.listNamedVersions(id, {}, ALL)).length,
          groups: (await tx.listChangesetGroups(id, ALL)).length,
          extendedData: (await tx.listExtendedData(id, ALL)).length,
          checkpoints: (await tx.listCheckpoints(id)).length,
          lockedObjects: (await tx.getObjectLocks(id, ["0x1", "0x2", "0x3"])).size,
          listedLocks: flatten(await tx.listLocks(id, {}, ALL)).length,
          users: (await tx.listUserIds(id)).length,
        }));
      const full = {
        iModel: true,
        changesets: 1,
        briefcases: 1,
        versions: 1,
        groups: 1,
        extendedData: 1,
        checkpoints: 1,
        lockedObjects: 3,
        listedLocks: 2,
        users: 1,
      };
      assert.deepEqual(await contents("m1"), full);
      await store.transaction((tx) => tx.deleteIModel("m1"));
      assert.deepEqual(await contents("m1"), {
        iModel: false,
        changesets: 0,
        briefcases: 0,
        versions: 0,
        groups: 0,
        extendedData: 0,
        checkpoints: 0,
        lockedObjects: 0,
        listedLocks: 0,
        users: 0,
      });
      assert.deepEqual(await contents("m2"), full);
      // The id can be used again, from a clean slate.
      await store.transaction((tx) => tx.insertIModel(iModel("m1")));
      assert.deepEqual(await contents("m1"), {
        ...full,
        changesets: 0,
        briefcases: 0,
        versions: 0,
        groups: 0,
        extendedData: 0,
        checkpoints: 0,
        lockedObjects: 0,
        listedLocks: 0,
      });
    });

    describe("users", () => {
      beforeEach(async () => {
        await store.transaction(async (tx) => {
          await tx.insertChangeset(changeset("m1", 1, { creatorId: "bob", pushedAt: at(10) }));
          await tx.insertChangeset(changeset("m1", 2, { creatorId: "bob", pushedAt: at(20) }));
          await tx.insertChangeset(changeset("m1", 3, { creatorId: "alice", pushedAt: at(30) }));
          await tx.insertChangeset(
            changeset("m1", 4, { creatorId: "pending-pete", state: "waitingForFile", pushedAt: at(40) }),
          );
          await tx.insertBriefcase(briefcase("m1", 2, { ownerId: "carol" }));
          await tx.insertBriefcase(briefcase("m1", 3, { ownerId: "bob" }));
          await tx.insertBriefcase(briefcase("m1", 4, { ownerId: "bob" }));
          await tx.insertNamedVersion(namedVersion("m1", "v", 1, { creatorId: "dave" }));
          await tx.insertNamedVersion(namedVersion("m1", "w", 2, { creatorId: "bob" }));
          await tx.insertChangeset(changeset("m2", 1, { creatorId: "zed" }));
          await tx.insertBriefcase(briefcase("m2", 2, { ownerId: "bob" }));
        });
      });

      it("lists each user appearing in the iModel once: creator, uploaded changesets, briefcases, versions", async () => {
        assert.deepEqual((await read((tx) => tx.listUserIds("m1"))).sort(), ["alice", "bob", "carol", "dave"]);
        assert.deepEqual((await read((tx) => tx.listUserIds("m2"))).sort(), ["alice", "bob", "zed"]);
      });

      it("keeps listing a user whose only briefcase was released (users who ever connected, as the cloud lists them)", async () => {
        await store.transaction({ iModelId: "m1" }, async (tx) => {
          await tx.insertBriefcase(briefcase("m1", 9, { ownerId: "erin" }));
          await tx.deleteBriefcase("m1", 9);
        });
        assert.deepEqual((await read((tx) => tx.listUserIds("m1"))).sort(), ["alice", "bob", "carol", "dave", "erin"]);
        assert.deepEqual((await read((tx) => tx.listUserIds("m2"))).sort(), ["alice", "bob", "zed"]);
      });

      it("statistics count the user's uploaded changesets, last push, versions and briefcases in this iModel", async () => {
        assert.deepEqual(await read((tx) => tx.userStatistics("m1", "bob")), {
          pushedChangesetsCount: 2,
          lastChangesetPushDate: at(20),
          createdVersionsCount: 1,
          briefcasesCount: 2,
        });
        assert.deepEqual(await read((tx) => tx.userStatistics("m1", "pending-pete")), {
          pushedChangesetsCount: 0,
          lastChangesetPushDate: null,
          createdVersionsCount: 0,
          briefcasesCount: 0,
        });
        assert.deepEqual(await read((tx) => tx.userStatistics("m2", "bob")), {
          pushedChangesetsCount: 0,
          lastChangesetPushDate: null,
          createdVersionsCount: 0,
          briefcasesCount: 1,
        });
      });
    });

    describe("concurrency (two handles on one backend, as two hub nodes)", () => {
      let other: MetadataStore;
      beforeEach(async () => {
        other = await handles.openAnother();
        // Connections are opened ahead (reads held open side by side), so that the racers below start together
        // instead of one by one as each new connection is set up.
        await Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            via(i).read(async (tx) => void (await tx.getIModel("m1"), await sleep(50))),
          ),
        );
      });
      afterEach(async () => {
        await other.close();
      });
      /** Alternates between the two handles, so every race crosses "nodes". */
      const via = (i: number) => (i % 2 === 0 ? store : other);

      it("briefcase ids handed out by racing scoped transactions are distinct and none is skipped", async () => {
        const ids = await Promise.all(
          Array.from({ length: 24 }, (_, i) =>
            via(i).transaction({ iModelId: "m1" }, async (tx) => {
              const m = (await tx.getIModel("m1"))!;
              await sleep(2); // read, wait, write: what interleaves if the scope does not serialize
              await tx.updateIModel({ ...m, nextBriefcaseId: m.nextBriefcaseId + 1 });
              await tx.insertBriefcase(briefcase("m1", m.nextBriefcaseId));
              return m.nextBriefcaseId;
            }),
          ),
        );
        assert.deepEqual(
          [...ids].sort((a, b) => a - b),
          Array.from({ length: 24 }, (_, i) => i + 2),
        );
        assert.equal((await read((tx) => tx.getIModel("m1")))!.nextBriefcaseId, 26);
      });

      it("racing pushes on the same parent: exactly one becomes the tip, history stays linear", async () => {
        for (let round = 1; round <= 3; round++) {
          const results = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              via(i).transaction({ iModelId: "m1" }, async (tx) => {
                const tip = (await tx.getLatestChangeset("m1"))?.index ?? 0;
                await sleep(1);
                if (tip !== round - 1) return false; // "parent must be the tip": this pusher lost
                await tx.insertChangeset(changeset("m1", round, { briefcaseId: 2 + i, description: `winner ${i}` }));
                return true;
              }),
            ),
          );
          assert.equal(results.filter(Boolean).length, 1, `round ${round}: exactly one winner`);
        }
        const history = await read((tx) => tx.listChangesets("m1", { direction: "asc", onlyUploaded: true }, ALL));
        assert.deepEqual(
          history.map((c) => c.index),
          [1, 2, 3],
        );
      });

      it("an exclusive lock requested by racing briefcases is granted once", async () => {
        const granted = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            via(i).transaction({ iModelId: "m1" }, async (tx) => {
              const held = (await tx.getObjectLocks("m1", ["0x20"])).get("0x20");
              await sleep(20); // long enough for every racer to have read before the first one writes
              if (held?.exclusiveBriefcaseId != null || (held?.sharedBriefcaseIds.length ?? 0) > 0) return false;
              await tx.grantLocks("m1", 100 + i, "exclusive", ["0x20"]);
              return true;
            }),
          ),
        );
        assert.equal(granted.filter(Boolean).length, 1);
        const locks = await read((tx) => tx.listLocks("m1", { level: "exclusive" }, ALL));
        assert.equal(locks.length, 1);
        assert.deepEqual(locks[0]!.exclusive, ["0x20"]);
      });

      it("transactions on different iModels do not wait for each other's scope", async () => {
        let releaseFirst!: () => void;
        const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
        let firstStarted!: () => void;
        const started = new Promise<void>((resolve) => (firstStarted = resolve));
        const first = store.transaction({ iModelId: "m1" }, async (tx) => {
          await tx.putExtendedData("m1", 1, "a");
          firstStarted();
          await firstHolds;
        });
        await started;
        // SQLite serializes every writer (documented): only where the backend allows concurrent writers is this checked.
        const secondDone = other
          .transaction({ iModelId: "m2" }, async (tx) => tx.putExtendedData("m2", 1, "b"))
          .then(() => true);
        const finishedWhileFirstHeld = await Promise.race([secondDone, sleep(1500).then(() => false)]);
        releaseFirst();
        await first;
        await secondDone;
        if (!handles.serializesAllWriters)
          assert.equal(finishedWhileFirstHeld, true, "m2's transaction waited for m1's scope");
      });

      it("jobs queued in a transaction exist only if it commits, once per dedupe key while queued", async () => {
        await assert.rejects(
          store.transaction({ iModelId: "m1" }, async (tx) => {
            await tx.enqueueJob({ kind: "k", payload: { iModelId: "m1" }, dedupeKey: "k:rolled-back" });
            throw new Error("roll back");
          }),
        );
        await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            via(i).transaction({ iModelId: "m1" }, (tx) =>
              tx.enqueueJob({ kind: "k", payload: { n: i }, dedupeKey: "k:once" }),
            ),
          ),
        );
        const jobs = await handles.queuedJobs();
        assert.deepEqual(jobs, [{ kind: "k", dedupeKey: "k:once" }]);
      });
    });
  });
}
