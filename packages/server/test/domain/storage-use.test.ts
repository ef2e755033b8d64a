// Storage use (GET /admin/storage) as measured in a real file blob store: every file of each iModel counted once, in
// the category its key names, and files outside any iModel in the total only.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { FsBlobStore } from "../../src/adapters/blob/fs-blob-store.js";
import { blobKeys } from "../../src/domain/blob-keys.js";
import { measureStorage } from "../../src/domain/usage/storage-use.js";

const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";
const CS = "a".repeat(40);

describe("measureStorage", () => {
  let dir: string;
  let blobs: FsBlobStore;
  const put = (key: string, bytes: number) => blobs.put(key, Readable.from([Buffer.alloc(bytes, 1)]));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-storage-use-"));
    blobs = new FsBlobStore(dir);
    await put(blobKeys.checkpoint(A, 0), 1000);
    await put(blobKeys.checkpoint(A, 5, "n1"), 1500);
    await put(blobKeys.changeset(A, CS), 200);
    await put(blobKeys.changeset(A, "b".repeat(40)), 300);
    await put(blobKeys.changesetUpload(A, "c".repeat(40), 2), 50);
    await put(blobKeys.thumbnail(A), 7);
    await put(blobKeys.baselineReceived(B), 4000);
    await put(blobKeys.baselineUpload(B), 10);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("sums each iModel's files by kind, biggest iModel first, and the hub's total", async () => {
    const use = await measureStorage(blobs, new Date("2026-12-07T00:00:00Z"));
    assert.deepEqual(
      use.iModels.map((u) => [u.iModelId, u.baseline, u.changesets, u.checkpoints, u.uploads, u.other, u.total]),
      [
        [
          B,
          { bytes: 4000, files: 1 },
          { bytes: 0, files: 0 },
          { bytes: 0, files: 0 },
          { bytes: 10, files: 1 },
          { bytes: 0, files: 0 },
          { bytes: 4010, files: 2 },
        ],
        [
          A,
          { bytes: 0, files: 0 },
          { bytes: 500, files: 2 },
          { bytes: 2500, files: 2 },
          { bytes: 50, files: 1 },
          { bytes: 7, files: 1 },
          { bytes: 3057, files: 6 },
        ],
      ],
    );
    assert.deepEqual(use.total, { bytes: 7067, files: 8 });
    assert.equal(use.measuredAt, "2026-12-07T00:00:00.000Z");
  });

  it("an empty store is 0 bytes in 0 files, with no iModel", async () => {
    const empty = await mkdtemp(join(tmpdir(), "modelhub-storage-use-empty-"));
    try {
      const use = await measureStorage(new FsBlobStore(empty));
      assert.deepEqual([use.iModels, use.total], [[], { bytes: 0, files: 0 }]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
