import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
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

  it("removes crash left-overs when it starts: temp files older than an hour, blocks staged over a week ago", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
    try {
      const root = join(dir, "blobs");
      new FsBlobStore(root);
      const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
      await writeFile(join(root, ".tmp", "stale"), "x");
      await utimes(join(root, ".tmp", "stale"), hoursAgo(2), hoursAgo(2));
      await writeFile(join(root, ".tmp", "fresh"), "x");
      await utimes(join(root, ".tmp", "fresh"), hoursAgo(0.5), hoursAgo(0.5));
      for (const [name, age] of [["old", 8 * 24], ["recent", 6 * 24]] as const) {
        await mkdir(join(root, ".blocks", name));
        await writeFile(join(root, ".blocks", name, "b"), "x");
        await utimes(join(root, ".blocks", name), hoursAgo(age), hoursAgo(age));
      }
      const store = new FsBlobStore(root);
      assert.deepEqual(await readdir(join(root, ".tmp")), ["fresh"]);
      assert.deepEqual(await readdir(join(root, ".blocks")), ["recent"]);
      assert.equal(await store.stat("files/anything"), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("writes while the data arrives (never holds a blob in memory whole)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
    try {
      const root = join(dir, "blobs");
      const store = new FsBlobStore(root);
      const half = 8 * 1024 * 1024;
      const chunk = 256 * 1024;
      let produced = 0;
      let sawOnDisk = false;
      // After producing half, the source waits until that half is in the temp file; a store that collected the
      // whole stream before writing would never get there.
      const onDisk = async () => {
        for (const name of await readdir(join(root, ".tmp"))) {
          if ((await stat(join(root, ".tmp", name)).catch(() => undefined))?.size === half) return true;
        }
        return false;
      };
      const source = new Readable({
        read() {
          if (produced >= 2 * half) return void this.push(null);
          const next = () => {
            produced += chunk;
            this.push(Buffer.alloc(chunk, produced));
          };
          if (produced !== half) return next();
          const deadline = Date.now() + 5000;
          const poll = async () => {
            if (await onDisk()) {
              sawOnDisk = true;
              next();
            } else if (Date.now() > deadline) this.destroy(new Error("nothing reached the disk while the source was open"));
            else setTimeout(() => void poll(), 10);
          };
          void poll();
        },
      });
      const info = await store.put("files/streamed.bin", source);
      assert.ok(sawOnDisk);
      assert.equal(info.size, 2 * half);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
