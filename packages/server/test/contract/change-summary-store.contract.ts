import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { ChangeSummaryStore, ChangedElementRow, ChangesetSummary } from "../../src/ports/change-summary-store.js";
import type { MetadataStore } from "../../src/ports/metadata-store.js";
import type { WebhookEvent, WebhookStore } from "../../src/ports/webhook-store.js";
import { changeset, iModel } from "./metadata-store.contract.js";

/**
 * A fresh database: the summary store and the metadata store on it (for the iModels and changesets it refers to),
 * and the webhook store on it (for the outbox a stored summary writes to).
 */
export type ChangeSummaryStoreFactory = () => Promise<{
  summaries: ChangeSummaryStore;
  store: MetadataStore;
  webhooks: WebhookStore;
  cleanup(): Promise<void>;
}>;

function summary(iModelId: string, index: number, extra: Partial<ChangesetSummary> = {}): ChangesetSummary {
  return {
    iModelId,
    changesetIndex: index,
    changesetId: index.toString(16).padStart(40, "0"),
    inserted: 1,
    updated: 1,
    deleted: 0,
    schemaChanged: false,
    schemas: [],
    counts: [{ modelId: "0x10", classFullName: "Generic:PhysicalObject", inserted: 1, updated: 1, deleted: 0 }],
    createdAt: "2026-12-07T00:00:00.000Z",
    failure: null,
    ...extra,
  };
}

function row(
  index: number,
  id: string,
  op: ChangedElementRow["op"],
  extra: Partial<ChangedElementRow> = {},
): ChangedElementRow {
  return {
    changesetIndex: index,
    id,
    op,
    classFullName: "Generic:PhysicalObject",
    modelId: "0x10",
    previousModelId: null,
    parentId: null,
    label: `label ${id}`,
    properties: op === "updated" ? ["UserLabel"] : null,
    ...extra,
  };
}

/** The ChangeSummaryStore contract: every adapter must pass it unchanged. */
export function changeSummaryStoreContract(name: string, factory: ChangeSummaryStoreFactory): void {
  describe(`ChangeSummaryStore contract: ${name}`, () => {
    let summaries: ChangeSummaryStore;
    let store: MetadataStore;
    let webhooks: WebhookStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ summaries, store, webhooks, cleanup } = await factory());
      await store.transaction(async (tx) => {
        await tx.insertIModel(iModel("m1"));
        for (let i = 1; i <= 3; i++) await tx.insertChangeset(changeset("m1", i));
      });
    });
    afterEach(() => cleanup());

    it("stores a summary with its elements once; a second put keeps the first", async () => {
      const elements = [
        row(1, "0x20000000002", "inserted"),
        row(1, "0x20000000001", "updated", { properties: ["CodeValue", "UserLabel"], previousModelId: "0x11" }),
      ];
      assert.equal(
        await summaries.putSummary(
          summary("m1", 1, { schemaChanged: true, schemas: [{ name: "Fire", op: "inserted" }] }),
          elements,
        ),
        true,
      );
      assert.equal(await summaries.putSummary(summary("m1", 1, { inserted: 99 }), [row(1, "0x99", "deleted")]), false);
      assert.deepEqual(
        await summaries.getSummary("m1", 1),
        summary("m1", 1, { schemaChanged: true, schemas: [{ name: "Fire", op: "inserted" }] }),
      );
      assert.deepEqual(await summaries.listElements("m1", 1, {}, { limit: 10, offset: 0 }), [elements[1], elements[0]]);
      assert.equal(await summaries.getSummary("m1", 2), undefined);
    });

    it("gives back every field of every element as stored (compressed ids, labels and names round-trip)", async () => {
      const elements = [
        // Ids of other briefcases (far apart), a non-canonical id, neighbours sharing a label's prefix.
        row(1, "0xffffff0000000001", "deleted", { label: null, parentId: "0x20000000001", parentClassId: "0x4b" }),
        row(1, "0x10000000002", "updated", {
          properties: [],
          checksums: { old: [], new: [] },
          previousModelId: "0x11",
          modelId: "0x12",
        }),
        row(1, "0x10000000001", "updated", {
          label: "Wall 1.10",
          properties: ["Origin", "Yaw", "BBoxLow"],
          checksums: { old: [0, 4294967295, 17], new: [1, 2, 17] },
        }),
        row(1, "0x10000000003", "inserted", { label: "Wall 1.1", classFullName: "Fire:Säule ∆", classId: "0x5a" }),
        row(1, "0X0A", "inserted", { label: "", modelId: "0x10" }),
        row(1, "0x20000000001", "inserted", { label: "Wall 1.10 — β", classId: "0x10f" }),
      ];
      assert.equal(await summaries.putSummary(summary("m1", 1), elements), true);
      const byId = [...elements].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      assert.deepEqual(await summaries.listElements("m1", 1, {}, { limit: 10, offset: 0 }), byId);
      assert.deepEqual(await summaries.rangeRows("m1", 0, 1), byId);
    });

    it("queues its webhook event in the outbox with a summary it stores, and only then", async () => {
      const hook = await webhooks.create({
        scope: "Account",
        scopeId: null,
        callbackUrl: "https://hooks.example.com/in",
        eventTypes: ["iModels.changesReady.v1"],
        secret: "s".repeat(32),
        expirationDateTime: "2999-01-01T00:00:00.000Z",
        active: true,
        createdBy: "alice",
        createdDateTime: "2026-12-07T00:00:00.000Z",
      });
      const ready = (iModelId: string, index: number): WebhookEvent => ({
        eventType: "iModels.changesReady.v1",
        iTwinId: "tw",
        iModelId,
        content: { imodelId: iModelId, changesetIndex: String(index) },
      });
      assert.equal(await summaries.putSummary(summary("m1", 1), [row(1, "0x1", "inserted")], ready("m1", 1)), true);
      // Stored already, and refused (no such changeset): no event either time.
      assert.equal(await summaries.putSummary(summary("m1", 1), [], ready("m1", 1)), false);
      assert.equal(await summaries.putSummary(summary("gone", 1), [], ready("gone", 1)), false);
      await webhooks.fanOut();
      const queued = await webhooks.deliveries(hook.id, { limit: 10, offset: 0 });
      assert.deepEqual(
        queued.map((d) => [d.eventType, d.stream, (JSON.parse(d.envelope) as { content: unknown }).content]),
        [["iModels.changesReady.v1", "m1", { imodelId: "m1", changesetIndex: "1" }]],
      );
    });

    it("keeps no checksums for a changeset where an update lacks them (summaries made before they were recorded)", async () => {
      const elements = [
        row(1, "0x1", "updated", { properties: ["UserLabel"], checksums: { old: [1], new: [2] } }),
        row(1, "0x2", "updated", { properties: ["CodeValue"] }),
      ];
      assert.equal(await summaries.putSummary(summary("m1", 1), elements), true);
      assert.deepEqual(
        (await summaries.rangeRows("m1", 0, 1)).map((e) => e.checksums),
        [undefined, undefined],
      );
    });

    it("refuses a summary of a changeset the iModel does not have (deleted meanwhile, or another id)", async () => {
      assert.equal(await summaries.putSummary(summary("gone", 1), [row(1, "0x1", "inserted")]), false);
      assert.equal(await summaries.putSummary(summary("m1", 1, { changesetId: "f".repeat(40) }), []), false);
      assert.equal(await summaries.getSummary("m1", 1), undefined);
    });

    it("filters and pages one changeset's elements by id", async () => {
      const elements = [
        row(1, "0x1", "inserted", { modelId: "0x10" }),
        row(1, "0x2", "updated", { modelId: "0x11" }),
        row(1, "0x3", "deleted", { modelId: "0x10", classFullName: "BisCore:Subject" }),
        row(1, "0x4", "inserted", { modelId: "0x11" }),
      ];
      await summaries.putSummary(summary("m1", 1), elements);
      assert.deepEqual(
        (await summaries.listElements("m1", 1, {}, { limit: 2, offset: 1 })).map((e) => e.id),
        ["0x2", "0x3"],
      );
      assert.deepEqual(
        (await summaries.listElements("m1", 1, { op: "inserted" }, { limit: 10, offset: 0 })).map((e) => e.id),
        ["0x1", "0x4"],
      );
      assert.deepEqual(
        (await summaries.listElements("m1", 1, { modelId: "0x10" }, { limit: 10, offset: 0 })).map((e) => e.id),
        ["0x1", "0x3"],
      );
      assert.deepEqual(
        (await summaries.listElements("m1", 1, { classFullName: "BisCore:Subject" }, { limit: 10, offset: 0 })).map(
          (e) => e.id,
        ),
        ["0x3"],
      );
    });

    it("reads a range by element then changeset, lists summaries and the changesets still missing one", async () => {
      await summaries.putSummary(summary("m1", 1), [row(1, "0x2", "inserted"), row(1, "0x1", "inserted")]);
      await summaries.putSummary(summary("m1", 3), [row(3, "0x1", "deleted")]);
      assert.deepEqual(
        (await summaries.rangeRows("m1", 0, 3)).map((r) => `${r.id}@${r.changesetIndex}`),
        ["0x1@1", "0x1@3", "0x2@1"],
      );
      assert.deepEqual(
        (await summaries.rangeRows("m1", 1, 3)).map((r) => `${r.id}@${r.changesetIndex}`),
        ["0x1@3"],
      );
      assert.deepEqual(
        (await summaries.listSummaries("m1", 0, 3)).map((s) => s.changesetIndex),
        [1, 3],
      );
      assert.deepEqual(await summaries.missingIndexes("m1", 0, 3), [2]);
      assert.deepEqual(await summaries.iModelsLackingSummaries(10), [{ iModelId: "m1", lastIndex: 2 }]);
    });

    it("a failed summary is kept with its reason and counts as made: not missing, not backfilled, copied", async () => {
      const failed = summary("m1", 2, {
        inserted: 0,
        updated: 0,
        counts: [],
        failure: "Changeset 2 could not be read",
      });
      await summaries.putSummary(summary("m1", 1), [row(1, "0x1", "inserted")]);
      assert.equal(await summaries.putSummary(failed, []), true);
      assert.deepEqual(await summaries.getSummary("m1", 2), failed);
      assert.deepEqual(await summaries.listElements("m1", 2, {}, { limit: 10, offset: 0 }), []);
      assert.deepEqual(
        (await summaries.listSummaries("m1", 0, 3)).map((s) => [s.changesetIndex, s.failure]),
        [
          [1, null],
          [2, "Changeset 2 could not be read"],
        ],
      );
      assert.deepEqual(await summaries.missingIndexes("m1", 0, 3), [3]);
      await summaries.putSummary(summary("m1", 3), []);
      assert.deepEqual(await summaries.iModelsLackingSummaries(10), []);
      await store.transaction(async (tx) => {
        await tx.insertIModel(iModel("m2"));
        for (let i = 1; i <= 2; i++) await tx.insertChangeset(changeset("m2", i));
      });
      assert.equal(await summaries.copySummaries("m1", "m2", 2), 2);
      assert.deepEqual({ ...(await summaries.getSummary("m2", 2))!, iModelId: "m1" }, failed);
    });

    it("a large summary (10,000 elements) is stored whole", async () => {
      const elements = Array.from({ length: 10_000 }, (_, i) => row(2, `0x${(i + 1).toString(16)}`, "inserted"));
      assert.equal(await summaries.putSummary(summary("m1", 2, { inserted: 10_000, updated: 0 }), elements), true);
      assert.equal((await summaries.rangeRows("m1", 1, 2)).length, 10_000);
    });

    it("deleting the iModel deletes its summaries", async () => {
      await summaries.putSummary(summary("m1", 1), [row(1, "0x1", "inserted")]);
      await store.transaction((tx) => tx.deleteIModel("m1"));
      assert.equal(await summaries.getSummary("m1", 1), undefined);
      assert.deepEqual(await summaries.rangeRows("m1", 0, 3), []);
    });

    it("copies a source's summaries to a copy that has the same changesets, once", async () => {
      await summaries.putSummary(summary("m1", 1), [row(1, "0x1", "inserted")]);
      await summaries.putSummary(summary("m1", 2), [row(2, "0x1", "updated")]);
      await store.transaction(async (tx) => {
        await tx.insertIModel(iModel("m2"));
        for (let i = 1; i <= 2; i++) await tx.insertChangeset(changeset("m2", i));
        await tx.insertIModel(iModel("m3"));
        await tx.insertChangeset(changeset("m3", 1, { id: "e".repeat(40) }));
      });
      assert.equal(await summaries.copySummaries("m1", "m2", 1), 1);
      assert.equal(await summaries.copySummaries("m1", "m2", 2), 1);
      assert.equal(await summaries.copySummaries("m1", "m2", 2), 0);
      assert.deepEqual(await summaries.rangeRows("m2", 0, 2), await summaries.rangeRows("m1", 0, 2));
      assert.deepEqual(
        { ...(await summaries.getSummary("m2", 2))!, iModelId: "m1" },
        await summaries.getSummary("m1", 2),
      );
      // Another history (changeset 1 has another id): nothing to copy.
      assert.equal(await summaries.copySummaries("m1", "m3", 1), 0);
    });
  });
}
