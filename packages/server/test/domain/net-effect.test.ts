import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countsByModelAndClass, netChanges, totals } from "../../src/domain/changes/net-effect.js";
import type { ChangedElementRow } from "../../src/ports/change-summary-store.js";

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
    label: null,
    properties: op === "updated" ? [] : null,
    ...extra,
  };
}

/** Rows in the order the store returns a range: by element id, then changeset index. */
function sorted(rows: ChangedElementRow[]): ChangedElementRow[] {
  return [...rows].sort((a, b) => (a.id === b.id ? a.changesetIndex - b.changesetIndex : a.id < b.id ? -1 : 1));
}

describe("net effect of a range of changesets", () => {
  it("inserted then deleted is nothing; inserted then updated is inserted", () => {
    const net = netChanges(
      sorted([
        row(1, "0xa", "inserted"),
        row(2, "0xa", "deleted"),
        row(1, "0xb", "inserted"),
        row(3, "0xb", "updated", { label: "later" }),
      ]),
    );
    assert.deepEqual(
      net.map((c) => [c.id, c.op, c.label, c.properties, c.changesets]),
      [["0xb", "inserted", "later", null, [1, 3]]],
    );
  });

  it("updates are merged: the union of their properties", () => {
    const net = netChanges([
      row(1, "0xa", "updated", { properties: ["UserLabel"] }),
      row(4, "0xa", "updated", { properties: ["CodeValue", "UserLabel"] }),
    ]);
    assert.deepEqual(
      net.map((c) => [c.op, c.properties]),
      [["updated", ["CodeValue", "UserLabel"]]],
    );
  });

  it("checksums: each property's before its first update and after its last; none if an update lacks them", () => {
    const net = netChanges(
      sorted([
        row(1, "0xa", "updated", { properties: ["UserLabel"], checksums: { old: [10], new: [11] } }),
        row(2, "0xa", "updated", { properties: ["Origin", "UserLabel"], checksums: { old: [20, 11], new: [21, 10] } }),
        row(1, "0xb", "updated", { properties: ["UserLabel"], checksums: { old: [1], new: [2] } }),
        row(2, "0xb", "updated", { properties: ["UserLabel"] }),
        row(1, "0xc", "inserted", { parentId: "0x1", parentClassId: "0x4b" }),
        row(1, "0xd", "inserted", { parentClassId: "0x4b" }),
      ]),
    );
    assert.deepEqual(
      net.map((c) => [c.id, c.properties, c.checksums, c.parentClassId]),
      [
        // The label went 10 → 11 → 10: changed and changed back (equal checksums); Origin 20 → 21.
        ["0xa", ["Origin", "UserLabel"], { old: [20, 10], new: [21, 10] }, undefined],
        ["0xb", ["UserLabel"], undefined, undefined],
        ["0xc", null, undefined, "0x4b"],
        // No parent: no parent class.
        ["0xd", null, undefined, undefined],
      ],
    );
  });

  it("deleted then inserted again is reported as such; updated then deleted is deleted", () => {
    const net = netChanges(
      sorted([
        row(1, "0xa", "deleted"),
        row(2, "0xa", "inserted", { label: "new" }),
        row(1, "0xb", "updated"),
        row(2, "0xb", "deleted", { label: "old" }),
      ]),
    );
    assert.deepEqual(
      net.map((c) => [c.id, c.op, c.label]),
      [
        ["0xa", "reinserted", "new"],
        ["0xb", "deleted", "old"],
      ],
    );
  });

  it("a move between models keeps the model it started in; moving back is no move", () => {
    const moved = netChanges([
      row(1, "0xa", "updated", { modelId: "0x11", previousModelId: "0x10", properties: ["Model"] }),
      row(2, "0xa", "updated", { modelId: "0x12", previousModelId: "0x11", properties: ["Model"] }),
    ]);
    assert.deepEqual(
      moved.map((c) => [c.modelId, c.previousModelId]),
      [["0x12", "0x10"]],
    );
    const back = netChanges([
      row(1, "0xa", "updated", { modelId: "0x11", previousModelId: "0x10", properties: ["Model"] }),
      row(2, "0xa", "updated", { modelId: "0x10", previousModelId: "0x11", properties: ["Model"] }),
    ]);
    assert.deepEqual(
      back.map((c) => [c.modelId, c.previousModelId]),
      [["0x10", null]],
    );
  });

  it("counts by operation and by model and class", () => {
    const net = netChanges(
      sorted([
        row(1, "0x1", "inserted"),
        row(1, "0x2", "updated", { modelId: "0x11" }),
        row(1, "0x3", "deleted", { classFullName: "BisCore:Subject" }),
        row(1, "0x4", "deleted"),
        row(2, "0x4", "inserted"),
      ]),
    );
    assert.deepEqual(totals(net), { inserted: 1, updated: 1, deleted: 1, reinserted: 1 });
    assert.deepEqual(countsByModelAndClass(net), [
      { modelId: "0x10", classFullName: "BisCore:Subject", inserted: 0, updated: 0, deleted: 1, reinserted: 0 },
      { modelId: "0x10", classFullName: "Generic:PhysicalObject", inserted: 1, updated: 0, deleted: 0, reinserted: 1 },
      { modelId: "0x11", classFullName: "Generic:PhysicalObject", inserted: 0, updated: 1, deleted: 0, reinserted: 0 },
    ]);
  });
});
