import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { AzureBlobStore } from "../../src/adapters/blob/azure-blob-store.js";
import { FsBlobStore } from "../../src/adapters/blob/fs-blob-store.js";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import { blobStoreContract } from "./blob-store.contract.js";

blobStoreContract("fs", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
  return { store: new FsBlobStore(join(dir, "blobs")), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

// Azure Blob storage, on Azurite started for this file; each test gets a container of its own.
describe("Azure (Azurite)", () => {
  let azurite: Azurite;
  let containers = 0;
  before(async () => {
    azurite = await startAzurite();
  });
  after(() => azurite.stop());
  blobStoreContract("azure", async () => {
    const name = `contract-${process.pid}-${++containers}`;
    const store = await AzureBlobStore.open(azurite.connectionString, name);
    return { store, cleanup: async () => undefined };
  });
});

describe("FsBlobStore specifics", () => {
  it("staged blocks: counted across a restart and while arriving; dropped by a move, a delete and a prefix delete; listed with their key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
    try {
      const root = join(dir, "blobs");
      const store = new FsBlobStore(root);
      const stage = (s: FsBlobStore, key: string, id: string, bytes: number) =>
        s.stageBlock(key, id, Readable.from([Buffer.alloc(bytes)]), { maxStagedBytes: 100 });
      await stage(store, "files/i1/uploads/a.cs", "a", 60);
      // A new process on the same data counts what was staged before it started.
      const restarted = new FsBlobStore(root);
      await assert.rejects(stage(restarted, "files/i1/uploads/a.cs", "b", 41), /would be larger than the 100 bytes/);
      // Two blocks arriving at once are counted together: only one fits.
      const slow = (bytes: number) =>
        Readable.from(
          (async function* () {
            for (let i = 0; i < bytes; i += 10) {
              await new Promise((r) => setTimeout(r, 5));
              yield Buffer.alloc(10);
            }
          })(),
        );
      const racing = await Promise.allSettled([
        restarted.stageBlock("files/i1/uploads/b.cs", "x", slow(60), { maxStagedBytes: 100 }),
        restarted.stageBlock("files/i1/uploads/b.cs", "y", slow(60), { maxStagedBytes: 100 }),
      ]);
      assert.deepEqual(racing.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
      await stage(restarted, "files/i2/uploads/c.cs", "a", 10);
      const listed = async () => {
        const sets: { key?: string; blocks: number; bytes: number }[] = [];
        for await (const set of restarted.listStaged("files/"))
          sets.push({ key: set.key, blocks: set.blocks, bytes: set.bytes });
        return sets.sort((p, q) => (p.key ?? "").localeCompare(q.key ?? ""));
      };
      assert.deepEqual(await listed(), [
        { key: "files/i1/uploads/a.cs", blocks: 1, bytes: 60 },
        { key: "files/i1/uploads/b.cs", blocks: 1, bytes: 60 },
        { key: "files/i2/uploads/c.cs", blocks: 1, bytes: 10 },
      ]);
      // A move (a completion) drops the blocks of its source; deleting a prefix drops those of its keys.
      await restarted.put("files/i1/uploads/a.cs", Readable.from([Buffer.from("file")]));
      await restarted.move("files/i1/uploads/a.cs", "files/i1/changesets/a.cs");
      await restarted.deletePrefix("files/i2/");
      assert.deepEqual(
        (await listed()).map((s) => s.key),
        ["files/i1/uploads/b.cs"],
      );
      await restarted.delete("files/i1/uploads/b.cs");
      assert.deepEqual(await listed(), []);
      // And what was dropped no longer counts: the whole budget is there again.
      await stage(restarted, "files/i1/uploads/a.cs", "a", 100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("copy hard-links: the copy is the same file (no bytes copied), and a later put replaces only its own key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
    try {
      const root = join(dir, "blobs");
      const store = new FsBlobStore(root);
      await store.put("files/a/changesets/x.cs", Readable.from([Buffer.from("immutable")]));
      await store.copy("files/a/changesets/x.cs", "files/b/changesets/x.cs");
      const [a, b] = await Promise.all([
        stat(join(root, "files/a/changesets/x.cs")),
        stat(join(root, "files/b/changesets/x.cs")),
      ]);
      assert.equal(a.ino, b.ino);
      assert.equal(b.nlink, 2);
      await store.put("files/a/changesets/x.cs", Readable.from([Buffer.from("new")]));
      assert.equal((await stat(join(root, "files/b/changesets/x.cs"))).nlink, 1);
      assert.deepEqual(await readdir(join(root, ".tmp")), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

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

  it("removes left-overs of writers that are gone, stale temp files, and blocks staged over a week ago", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-blobs-"));
    try {
      const root = join(dir, "blobs");
      new FsBlobStore(root);
      const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);
      // A process that has exited: its temp files go at once, however fresh.
      const exited = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
        encoding: "utf8",
      });
      const deadPid = Number(exited.stdout);
      const temp = async (name: string, ageHours: number) => {
        await writeFile(join(root, ".tmp", name), "x");
        await utimes(join(root, ".tmp", name), hoursAgo(ageHours), hoursAgo(ageHours));
      };
      await temp(`${deadPid}-crashed`, 0);
      await temp(`${process.ppid}-live-writer`, 0.5); // a live process (our parent) may still be writing it
      await temp(`${process.ppid}-live-but-stale`, 2);
      await temp("no-pid-old-format", 0);
      for (const [name, age] of [
        ["old", 8 * 24],
        ["recent", 6 * 24],
      ] as const) {
        await mkdir(join(root, ".blocks", name));
        await writeFile(join(root, ".blocks", name, "b"), "x");
        await utimes(join(root, ".blocks", name), hoursAgo(age), hoursAgo(age));
      }
      const store = new FsBlobStore(root);
      assert.deepEqual(await readdir(join(root, ".tmp")), [`${process.ppid}-live-writer`]);
      assert.deepEqual(await readdir(join(root, ".blocks")), ["recent"]);
      assert.equal(await store.stat("files/anything"), undefined);

      // This process's own temp files: kept while being written, removed by the next sweep once the write is dead.
      const stalled = new Readable({ read() {} });
      stalled.push(Buffer.alloc(1024));
      const controller = new AbortController();
      const writing = store.put("files/slow", stalled, { signal: controller.signal });
      await new Promise((r) => setTimeout(r, 50));
      await temp(`${process.pid}-left-by-an-earlier-write`, 0);
      const swept = await store.sweepLeftovers();
      assert.equal(swept.files, 1);
      const remaining = (await readdir(join(root, ".tmp"))).sort();
      assert.equal(remaining.length, 2);
      assert.ok(
        remaining.some((n) => n.startsWith(`${process.pid}-`) && n !== `${process.pid}-left-by-an-earlier-write`),
        "the write in progress keeps its temp file",
      );
      controller.abort();
      await assert.rejects(writing);
      assert.deepEqual(await readdir(join(root, ".tmp")), [`${process.ppid}-live-writer`]);
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
            } else if (Date.now() > deadline)
              this.destroy(new Error("nothing reached the disk while the source was open"));
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
