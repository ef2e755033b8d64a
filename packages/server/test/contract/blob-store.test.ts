import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { FsBlobStore } from "../../src/adapters/blob/fs-blob-store.js";
import { blobStoreContract } from "./blob-store.contract.js";

blobStoreContract("fs", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
  return { store: new FsBlobStore(join(dir, "blobs")), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe("FsBlobStore specifics", () => {
  it("leaves no temp files or staged blocks behind after failures, aborts and commits", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
    try {
      const root = join(dir, "blobs");
      const store = new FsBlobStore(root);
      const broken = new Readable({
        read() {
          this.push(Buffer.alloc(1024));
          setImmediate(() => this.destroy(new Error("boom")));
        },
      });
      await assert.rejects(store.put("files/a", broken));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 30);
      await assert.rejects(store.put("files/b", new Readable({ read() {} }), { signal: controller.signal }));
      await store.stageBlock("files/c", "b1", Readable.from([Buffer.from("x")]));
      await store.commitBlocks("files/c", ["b1"]);
      await store.stageBlock("files/d", "b1", Readable.from([Buffer.from("x")]));
      await store.delete("files/d");
      assert.deepEqual(await readdir(join(root, ".tmp")), []);
      assert.deepEqual(await readdir(join(root, ".blocks")), []);
      assert.deepEqual(await readdir(join(root, "files")), ["c"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keys cannot reach the store's own folders", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
    try {
      const store = new FsBlobStore(join(dir, "blobs"));
      await assert.rejects(store.put(".tmp/x", Readable.from([Buffer.from("x")])));
      await assert.rejects(store.put(".blocks/x", Readable.from([Buffer.from("x")])));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
