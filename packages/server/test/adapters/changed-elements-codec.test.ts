// The summary row's compact forms (changed-elements-codec.ts): counts as rows and elements as version 2 blobs, both
// read back beside the forms stored before them (the store's round trip of every field is in
// test/contract/change-summary-store.contract.ts, on both databases).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { brotliCompressSync, brotliDecompressSync } from "node:zlib";
import {
  decodeChangedElements,
  decodeCounts,
  encodeChangedElements,
  encodeCounts,
} from "../../src/adapters/sql/changed-elements-codec.js";

const counts = [
  { modelId: "0x20000000001", classFullName: "Generic:PhysicalObject", inserted: 3, updated: 1, deleted: 0 },
  { modelId: "0x10", classFullName: "BisCore:Subject", inserted: 0, updated: 0, deleted: 2 },
];

describe("summary counts in the row", () => {
  it("are written as rows, without property names, and read back", () => {
    const text = encodeCounts(counts);
    assert.equal(text, '[["0x20000000001","Generic:PhysicalObject",3,1,0],["0x10","BisCore:Subject",0,0,2]]');
    assert.deepEqual(decodeCounts(text), counts);
  });

  it("stored as objects (summaries made before the compact form) read the same", () => {
    assert.deepEqual(decodeCounts(JSON.stringify(counts)), counts);
    assert.deepEqual(decodeCounts("[]"), []);
  });
});

describe("a changeset's elements blob", () => {
  const row = {
    changesetIndex: 4,
    id: "0x20000000001",
    op: "updated" as const,
    classFullName: "Generic:PhysicalObject",
    classId: "0x53",
    modelId: "0x20000000002",
    previousModelId: null,
    parentId: null,
    label: "Wall L7-4821",
    properties: ["UserLabel"],
  };

  it("version 2: the columns as one array, no names", async () => {
    const blob = await encodeChangedElements([{ ...row, checksums: { old: [1], new: [2] } }]);
    const json = brotliDecompressSync(blob).toString("utf8");
    assert.match(json, /^\[2,\["Generic:PhysicalObject",/);
    assert.deepEqual(await decodeChangedElements(blob, 4), [{ ...row, checksums: { old: [1], new: [2] } }]);
  });

  it("version 1 blobs (an object of named columns, stored before version 2) read the same", async () => {
    const v1 = {
      v: 1,
      s: ["Generic:PhysicalObject", "0x53", "0x20000000002", "UserLabel"],
      id: [(0x20000000001).toString(36)],
      op: "u",
      c: [0],
      ci: [1],
      m: [2],
      pm: [-1],
      p: [-1],
      lp: [0],
      ls: ["Wall L7-4821"],
      pr: [3],
    };
    const blob = brotliCompressSync(Buffer.from(JSON.stringify(v1)));
    assert.deepEqual(await decodeChangedElements(blob, 4), [row]);
  });
});
