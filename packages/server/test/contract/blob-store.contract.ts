import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { BlobStore } from "../../src/ports/blob-store.js";
import { BlobStoreError } from "../../src/ports/blob-store.js";

export type BlobStoreFactory = () => Promise<{ store: BlobStore; cleanup(): Promise<void> }>;

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function content(store: BlobStore, key: string): Promise<Buffer | undefined> {
  const blob = await store.get(key);
  return blob ? readAll(blob.stream) : undefined;
}

/** A stream that yields `first` and then fails, like a client whose connection broke mid-upload. */
function failingStream(first: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(first);
      } else {
        setImmediate(() => this.destroy(new Error("connection reset")));
      }
    },
  });
}

/** A stream that yields `first` and then never ends (until destroyed). */
function stallingStream(first: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(first);
      }
    },
  });
}

export function blobStoreContract(name: string, makeStore: BlobStoreFactory): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let cleanup: () => Promise<void>;
    let scratch: string;
    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      scratch = await mkdtemp(join(tmpdir(), "modelhub-blob-scratch-"));
    });
    afterEach(async () => {
      await cleanup();
      await rm(scratch, { recursive: true, force: true });
    });

    it("puts, stats and gets a blob; missing keys are undefined; delete is idempotent", async () => {
      const data = randomBytes(1000);
      const info = await store.put("files/a/b.cs", Readable.from([data]));
      assert.equal(info.size, 1000);
      assert.ok(info.etag.length > 0);
      assert.ok(info.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()));
      assert.deepEqual(await store.stat("files/a/b.cs"), info);
      assert.deepEqual(await content(store, "files/a/b.cs"), data);
      assert.equal(await store.get("files/a/missing"), undefined);
      assert.equal(await store.stat("files/a/missing"), undefined);
      await store.delete("files/a/b.cs");
      assert.equal(await store.stat("files/a/b.cs"), undefined);
      await store.delete("files/a/b.cs");
      await store.delete("files/never/was");
    });

    it("stores an empty blob", async () => {
      const info = await store.put("files/empty", Readable.from([]));
      assert.equal(info.size, 0);
      assert.deepEqual(await content(store, "files/empty"), Buffer.alloc(0));
    });

    it("replaces a blob whole and changes its etag", async () => {
      const first = await store.put("files/x", Readable.from([Buffer.from("old content")]));
      const second = await store.put("files/x", Readable.from([Buffer.from("new, longer content")]));
      assert.notEqual(first.etag, second.etag);
      assert.equal((await content(store, "files/x"))!.toString(), "new, longer content");
    });

    it("a replacement of the same size still changes the etag", async () => {
      const first = await store.put("files/same", Readable.from([Buffer.from("aaaa")]));
      const second = await store.put("files/same", Readable.from([Buffer.from("bbbb")]));
      assert.notEqual(first.etag, second.etag);
      assert.equal((await store.stat("files/same"))!.etag, second.etag);
    });

    it("a reader that opened the old blob reads it whole, as described, while a new one is put", async () => {
      const old = randomBytes(256 * 1024);
      const oldInfo = await store.put("files/r", Readable.from([old]));
      const reading = await store.get("files/r");
      const newInfo = await store.put("files/r", Readable.from([randomBytes(300 * 1024)]));
      assert.deepEqual(reading!.info, oldInfo);
      assert.notEqual(newInfo.etag, oldInfo.etag);
      assert.equal(sha256(await readAll(reading!.stream)), sha256(old));
    });

    it("a put whose source stream fails leaves no blob, and the previous blob untouched", async () => {
      await assert.rejects(store.put("files/fail/new", failingStream(randomBytes(64 * 1024))));
      assert.equal(await store.stat("files/fail/new"), undefined);
      const before = Buffer.from("previous");
      await store.put("files/fail/old", Readable.from([before]));
      await assert.rejects(store.put("files/fail/old", failingStream(randomBytes(64 * 1024))));
      assert.deepEqual(await content(store, "files/fail/old"), before);
    });

    it("an aborted put rejects with BlobStoreError('Aborted') and leaves the previous blob", async () => {
      await store.put("files/ab", Readable.from([Buffer.from("keep me")]));
      const controller = new AbortController();
      const source = stallingStream(randomBytes(128 * 1024));
      const putting = store.put("files/ab", source, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(putting, (err: unknown) => err instanceof BlobStoreError && err.code === "Aborted");
      assert.equal((await content(store, "files/ab"))!.toString(), "keep me");
      await assert.rejects(
        store.put("files/ab2", stallingStream(randomBytes(10)), { signal: AbortSignal.abort() }),
        (err: unknown) => err instanceof BlobStoreError && err.code === "Aborted",
      );
      assert.equal(await store.stat("files/ab2"), undefined);
    });

    it("staged blocks are invisible until committed, then concatenate in the listed order", async () => {
      const a = randomBytes(5000);
      const b = randomBytes(7000);
      const c = randomBytes(3);
      await store.stageBlock("files/blk", "YQ==", Readable.from([a]));
      await store.stageBlock("files/blk", "Yg==", Readable.from([b]));
      await store.stageBlock("files/blk", "Yw==", Readable.from([c]));
      assert.equal(await store.stat("files/blk"), undefined);
      const info = await store.commitBlocks("files/blk", ["Yw==", "YQ==", "Yg=="]);
      assert.equal(info.size, a.length + b.length + c.length);
      assert.deepEqual(await content(store, "files/blk"), Buffer.concat([c, a, b]));
      // The staged blocks were consumed by the commit.
      await assert.rejects(
        store.commitBlocks("files/blk", ["YQ=="]),
        (err: unknown) => err instanceof BlobStoreError && err.code === "InvalidBlockList",
      );
      assert.deepEqual(await content(store, "files/blk"), Buffer.concat([c, a, b]));
    });

    it("re-staging a block id replaces its data; blocks of other keys are separate", async () => {
      await store.stageBlock("files/k1", "id", Readable.from([Buffer.from("first")]));
      await store.stageBlock("files/k1", "id", Readable.from([Buffer.from("second")]));
      await store.stageBlock("files/k2", "id", Readable.from([Buffer.from("other")]));
      await store.commitBlocks("files/k1", ["id"]);
      await store.commitBlocks("files/k2", ["id"]);
      assert.equal((await content(store, "files/k1"))!.toString(), "second");
      assert.equal((await content(store, "files/k2"))!.toString(), "other");
    });

    it("committing an unknown block id throws InvalidBlockList and changes nothing", async () => {
      await store.put("files/u", Readable.from([Buffer.from("before")]));
      await store.stageBlock("files/u", "known", Readable.from([Buffer.from("block")]));
      await assert.rejects(
        store.commitBlocks("files/u", ["known", "unknown"]),
        (err: unknown) => err instanceof BlobStoreError && err.code === "InvalidBlockList",
      );
      assert.equal((await content(store, "files/u"))!.toString(), "before");
      // The known block is still staged and can be committed afterwards.
      await store.commitBlocks("files/u", ["known"]);
      assert.equal((await content(store, "files/u"))!.toString(), "block");
    });

    it("committing an empty block list makes an empty blob", async () => {
      const info = await store.commitBlocks("files/none", []);
      assert.equal(info.size, 0);
      assert.deepEqual(await content(store, "files/none"), Buffer.alloc(0));
    });

    it("maxStagedBytes bounds all the blocks staged for a key together: one that would pass it is refused (TooLarge) and kept nowhere", async () => {
      const tooLarge = (err: unknown) => err instanceof BlobStoreError && err.code === "TooLarge";
      const stage = (id: string, bytes: number) =>
        store.stageBlock("files/capped", id, Readable.from([Buffer.alloc(bytes, id.charCodeAt(0))]), {
          maxStagedBytes: 100,
        });
      await stage("a", 60);
      await assert.rejects(stage("b", 41), tooLarge);
      await stage("b", 40);
      await assert.rejects(stage("c", 1), tooLarge);
      // Staging an id again replaces its block: 60 → 10 frees room for 50 more.
      await stage("a", 10);
      await stage("c", 50);
      await assert.rejects(
        store.commitBlocks("files/capped", ["a", "b", "c", "x"]),
        (err: unknown) => err instanceof BlobStoreError && err.code === "InvalidBlockList",
      );
      assert.equal((await store.commitBlocks("files/capped", ["a", "b", "c"])).size, 100);
      // Another key has its own budget.
      await store.stageBlock("files/other", "a", Readable.from([Buffer.alloc(100)]), { maxStagedBytes: 100 });
    });

    it("a failed stageBlock stages nothing", async () => {
      await assert.rejects(store.stageBlock("files/sf", "b1", failingStream(randomBytes(1000))));
      await assert.rejects(
        store.commitBlocks("files/sf", ["b1"]),
        (err: unknown) => err instanceof BlobStoreError && err.code === "InvalidBlockList",
      );
      assert.equal(await store.stat("files/sf"), undefined);
    });

    it("reads byte ranges (inclusive ends)", async () => {
      const data = randomBytes(10_000);
      await store.put("files/range", Readable.from([data]));
      const mid = await store.get("files/range", { start: 100, end: 199 });
      assert.equal(mid!.info.size, 10_000);
      assert.deepEqual(await readAll(mid!.stream), data.subarray(100, 200));
      const one = await store.get("files/range", { start: 0, end: 0 });
      assert.deepEqual(await readAll(one!.stream), data.subarray(0, 1));
      const tail = await store.get("files/range", { start: 9_990, end: 9_999 });
      assert.deepEqual(await readAll(tail!.stream), data.subarray(9_990));
    });

    it("deletePrefix removes every blob under the prefix and nothing else", async () => {
      const put = (key: string) => store.put(key, Readable.from([Buffer.from(key)]));
      await put("files/m1/baseline.bim");
      await put("files/m1/changesets/a.cs");
      await put("files/m1/changesets/b.cs");
      await put("files/m10/changesets/a.cs");
      await put("files/m2/changesets/a.cs");
      await store.deletePrefix("files/m1/");
      assert.equal(await store.stat("files/m1/baseline.bim"), undefined);
      assert.equal(await store.stat("files/m1/changesets/a.cs"), undefined);
      assert.equal(await store.stat("files/m1/changesets/b.cs"), undefined);
      assert.ok(await store.stat("files/m10/changesets/a.cs"));
      assert.ok(await store.stat("files/m2/changesets/a.cs"));
      await store.deletePrefix("files/nothing-here/");
      await store.deletePrefix("files/nothing-here");
      await store.deletePrefix("nothing-at-all/");
      // The blob can be written again after its prefix was deleted.
      await put("files/m1/changesets/a.cs");
      assert.equal((await content(store, "files/m1/changesets/a.cs"))!.toString(), "files/m1/changesets/a.cs");
    });

    it("deletePrefix without a trailing slash is a plain starts-with", async () => {
      const put = (key: string) => store.put(key, Readable.from([Buffer.from(key)]));
      await put("files/m1/a.cs");
      await put("files/m10/a.cs");
      await put("files/m1.bim");
      await put("files/m2/a.cs");
      await store.deletePrefix("files/m1");
      assert.equal(await store.stat("files/m1/a.cs"), undefined);
      assert.equal(await store.stat("files/m10/a.cs"), undefined);
      assert.equal(await store.stat("files/m1.bim"), undefined);
      assert.ok(await store.stat("files/m2/a.cs"));
    });

    it("move renames a blob whole (replacing the target), describes it as it now is; moving a missing blob changes nothing", async () => {
      const put = async (key: string, text: string) => store.put(key, Readable.from([Buffer.from(text)]));
      const uploaded = await put("files/m/uploads/a.cs", "verified bytes");
      const older = await put("files/m/changesets/a.cs", "an older attempt");
      const moved = await store.move("files/m/uploads/a.cs", "files/m/changesets/a.cs");
      // A renaming store keeps the etag, a copying one makes a new one; either way it is `to`'s now, not the old `to`'s.
      assert.deepEqual(moved, await store.stat("files/m/changesets/a.cs"));
      assert.notEqual(moved?.etag, older.etag);
      assert.equal(moved?.size, uploaded.size);
      assert.equal((await content(store, "files/m/changesets/a.cs"))?.toString(), "verified bytes");
      assert.equal(await store.stat("files/m/uploads/a.cs"), undefined);
      assert.equal(await store.move("files/m/uploads/a.cs", "files/m/changesets/a.cs"), undefined);
      assert.equal((await content(store, "files/m/changesets/a.cs"))?.toString(), "verified bytes");
      // A write to the old key afterwards makes a new blob there; the moved one is untouched.
      await put("files/m/uploads/a.cs", "late garbage");
      assert.equal((await content(store, "files/m/changesets/a.cs"))?.toString(), "verified bytes");
      assert.equal((await store.move("files/m/uploads/a.cs", "files/n/new/folder/a.cs"))?.size, "late garbage".length);
    });

    it("copy makes an independent copy (replacing the target); copying a missing blob changes nothing", async () => {
      const put = async (key: string, text: string) => store.put(key, Readable.from([Buffer.from(text)]));
      await put("files/src/changesets/a.cs", "history");
      await put("files/dst/changesets/a.cs", "an older attempt");
      const copied = await store.copy("files/src/changesets/a.cs", "files/dst/changesets/a.cs");
      assert.equal(copied?.size, "history".length);
      assert.equal((await content(store, "files/dst/changesets/a.cs"))?.toString(), "history");
      assert.equal((await content(store, "files/src/changesets/a.cs"))?.toString(), "history");
      assert.equal((await store.copy("files/src/changesets/a.cs", "files/new/folder/a.cs"))?.size, "history".length);
      // Writes to either key afterwards never show through the other.
      await put("files/src/changesets/a.cs", "rewritten source");
      await put("files/new/folder/a.cs", "rewritten copy");
      assert.equal((await content(store, "files/dst/changesets/a.cs"))?.toString(), "history");
      assert.equal((await content(store, "files/src/changesets/a.cs"))?.toString(), "rewritten source");
      await store.delete("files/src/changesets/a.cs");
      assert.equal((await content(store, "files/dst/changesets/a.cs"))?.toString(), "history");
      assert.equal(await store.copy("files/src/changesets/a.cs", "files/dst/changesets/a.cs"), undefined);
      assert.equal((await content(store, "files/dst/changesets/a.cs"))?.toString(), "history");
    });

    it("copyToFile copies a blob (replacing the target) and writes the same bytes to a local file; a missing blob changes nothing", async (t) => {
      if (!store.copyToFile) return t.skip("this store has no copyToFile");
      const put = async (key: string, data: Buffer) => store.put(key, Readable.from([data]));
      const small = Buffer.from("pushed changeset bytes");
      await put("files/c/uploads/a.cs", small);
      await put("files/c/changesets/a.cs", Buffer.from("an older attempt"));
      const local = join(scratch, "a.cs");
      const copied = await store.copyToFile("files/c/uploads/a.cs", "files/c/changesets/a.cs", local);
      assert.deepEqual(copied, await store.stat("files/c/changesets/a.cs"));
      assert.equal(copied?.size, small.length);
      assert.deepEqual(await content(store, "files/c/changesets/a.cs"), small);
      assert.deepEqual(await readFile(local), small);
      assert.deepEqual(await content(store, "files/c/uploads/a.cs"), small);
      // Later writes to the source never show through the copy.
      await put("files/c/uploads/a.cs", Buffer.from("late garbage"));
      assert.deepEqual(await content(store, "files/c/changesets/a.cs"), small);
      // A blob larger than a block (Azure copies those server-side while downloading them): the same bytes both ways.
      const large = randomBytes(9 * 1024 * 1024 + 17);
      await put("files/c/uploads/b.cs", large);
      const bigLocal = join(scratch, "b.cs");
      const big = await store.copyToFile("files/c/uploads/b.cs", "files/c/changesets/b.cs", bigLocal);
      assert.equal(big?.size, large.length);
      assert.equal(sha256((await content(store, "files/c/changesets/b.cs"))!), sha256(large));
      assert.equal(sha256(await readFile(bigLocal)), sha256(large));
      // A missing source: nothing copied, no file.
      const none = join(scratch, "none.cs");
      assert.equal(await store.copyToFile("files/c/uploads/none.cs", "files/c/changesets/a.cs", none), undefined);
      assert.deepEqual(await content(store, "files/c/changesets/a.cs"), small);
      await assert.rejects(readFile(none), { code: "ENOENT" });
    });

    it("copyToFile refuses a blob over maxBytes (TooLarge) with nothing copied and no file; one of exactly maxBytes is copied", async (t) => {
      if (!store.copyToFile) return t.skip("this store has no copyToFile");
      await store.put("files/c/uploads/a.cs", Readable.from([Buffer.alloc(100, 7)]));
      const local = join(scratch, "a.cs");
      await assert.rejects(
        store.copyToFile("files/c/uploads/a.cs", "files/c/changesets/a.cs", local, { maxBytes: 99 }),
        (err: unknown) => err instanceof BlobStoreError && err.code === "TooLarge",
      );
      assert.equal(await store.stat("files/c/changesets/a.cs"), undefined);
      await assert.rejects(readFile(local), { code: "ENOENT" });
      const copied = await store.copyToFile("files/c/uploads/a.cs", "files/c/changesets/a.cs", local, {
        maxBytes: 100,
      });
      assert.equal(copied?.size, 100);
      assert.deepEqual(await readFile(local), Buffer.alloc(100, 7));
    });

    it("lists every blob under a prefix once, with its info, and nothing staged", async () => {
      const keys = ["files/a/changesets/1.cs", "files/a/checkpoints/0.bim", "files/a/x", "files/ab/y", "files/b/z"];
      for (const key of keys) await store.put(key, Readable.from([Buffer.from(key)]));
      await store.stageBlock("files/a/staged", "b1", Readable.from([Buffer.from("x")]));
      const list = async (prefix: string) => {
        const seen: string[] = [];
        for await (const { key, info } of store.list(prefix)) {
          assert.equal(info.size, key.length);
          seen.push(key);
        }
        return seen.sort();
      };
      assert.deepEqual(await list("files/a/"), ["files/a/changesets/1.cs", "files/a/checkpoints/0.bim", "files/a/x"]);
      assert.deepEqual(await list("files/a"), [
        "files/a/changesets/1.cs",
        "files/a/checkpoints/0.bim",
        "files/a/x",
        "files/ab/y",
      ]);
      assert.deepEqual(await list("files/"), [...keys].sort());
      assert.deepEqual(await list("files/a/check"), ["files/a/checkpoints/0.bim"]);
      assert.deepEqual(await list("files/none/"), []);
    });

    it("copies blobs to and from local files", async () => {
      const data = randomBytes(300 * 1024);
      const source = join(scratch, "in.bin");
      await writeFile(source, data);
      const info = await store.uploadFromFile("files/f/up.bim", source);
      assert.equal(info.size, data.length);
      const target = join(scratch, "out.bin");
      await store.downloadToFile("files/f/up.bim", target);
      assert.equal(sha256(await readFile(target)), sha256(data));
      await assert.rejects(store.downloadToFile("files/f/missing", join(scratch, "none.bin")));
      const local = store.localPath?.("files/f/up.bim");
      if (local !== undefined) assert.equal(sha256(await readFile(local)), sha256(data));
    });

    it("rejects keys that could escape the store", async () => {
      for (const key of [
        "",
        "../x",
        "files/../../x",
        "/etc/passwd",
        "files\\x",
        "files//x",
        "files/./x",
        "files/x/",
        "files/\0x",
      ]) {
        await assert.rejects(store.put(key, Readable.from([Buffer.from("x")])), Error, `key ${JSON.stringify(key)}`);
        await assert.rejects(store.stat(key), Error, `key ${JSON.stringify(key)}`);
      }
    });

    it("streams a 20 MB blob in and out without loss", async () => {
      const chunk = 64 * 1024;
      const total = 20 * 1024 * 1024;
      const hash = createHash("sha256");
      let produced = 0;
      let seed = 1;
      const source = new Readable({
        read() {
          if (produced >= total) return this.push(null);
          const buf = Buffer.alloc(chunk);
          for (let i = 0; i < chunk; i += 4) buf.writeUInt32LE((seed = (seed * 1103515245 + 12345) >>> 0), i);
          produced += chunk;
          hash.update(buf);
          this.push(buf);
        },
      });
      const info = await store.put("files/big/20mb.bin", source);
      assert.equal(info.size, total);
      const blob = await store.get("files/big/20mb.bin");
      const readHash = createHash("sha256");
      for await (const part of blob!.stream) readHash.update(part as Buffer);
      assert.equal(readHash.digest("hex"), hash.digest("hex"));
    });
  });
}
