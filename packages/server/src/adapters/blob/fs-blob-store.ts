import { createHash, randomUUID } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { closeSync, createReadStream, createWriteStream, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from "node:fs";
import { copyFile, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo, BlobStore, ByteRange } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/** A temp file this old is a left-over of a crash (no single write takes an hour without touching it). */
const STALE_TEMP_MS = 3600_000;
/** Blocks staged but never committed are dropped after a week, as Azure does with uncommitted blocks. */
const STALE_BLOCKS_MS = 7 * 24 * 3600_000;
/** Read size of blob downloads. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** Blobs up to this size are read whole, synchronously, when opened. */
const SMALL_READ_BYTES = 256 * 1024;

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === "ENOENT";

/**
 * Blobs as files under one directory (`<root>/<key>`). Every write goes to a temp file in `<root>/.tmp` (same
 * filesystem), is fsynced, and is renamed over the final name, so a reader (or a crash) never sees a half-written
 * blob. Staged blocks live in `<root>/.blocks/<sha256(key)>/<sha256(blockId)>` until committed. Nothing is ever
 * held in memory whole: data streams from the source to the file.
 */
export class FsBlobStore implements BlobStore {
  readonly #tmp: string;
  readonly #blocks: string;

  constructor(private readonly root: string) {
    this.#tmp = join(root, ".tmp");
    this.#blocks = join(root, ".blocks");
    mkdirSync(this.#tmp, { recursive: true });
    mkdirSync(this.#blocks, { recursive: true });
    this.#sweep();
  }

  async put(key: string, data: Readable, options: { signal?: AbortSignal } = {}): Promise<BlobInfo> {
    const path = this.#path(key);
    const temp = await this.#writeTemp(data, options.signal);
    return this.#promote(temp, path);
  }

  async stageBlock(key: string, blockId: string, data: Readable, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#validate(key);
    if (blockId.length === 0 || blockId.length > 1024) throw new BlobStoreError("InvalidBlockId", "A block id must be 1 to 1024 characters.");
    const dir = join(this.#blocks, sha(key));
    const temp = await this.#writeTemp(data, options.signal);
    try {
      mkdirSync(dir, { recursive: true });
      await rename(temp, join(dir, sha(blockId)));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async commitBlocks(key: string, blockIds: readonly string[]): Promise<BlobInfo> {
    const path = this.#path(key);
    const dir = join(this.#blocks, sha(key));
    const parts = blockIds.map((id) => join(dir, sha(id)));
    for (const [i, part] of parts.entries()) {
      if (!(await isFile(part))) throw new BlobStoreError("InvalidBlockList", `Block '${blockIds[i]}' was not staged for this blob.`);
    }
    const temp = join(this.#tmp, randomUUID());
    let info: BlobInfo;
    const out = createWriteStream(temp);
    try {
      for (const part of parts) await pipeline(createReadStream(part), out, { end: false });
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await fsync(temp);
      info = await this.#promote(temp, path);
    } catch (err) {
      out.destroy();
      await rm(temp, { force: true });
      throw err;
    }
    await rm(dir, { recursive: true, force: true });
    return info;
  }

  async get(key: string, range?: ByteRange): Promise<{ info: BlobInfo; stream: Readable } | undefined> {
    const path = this.#path(key);
    // Open first and describe what was opened: a put that renames a new file over the name meanwhile cannot make
    // the info and the bytes disagree. Opening and describing are synchronous (microseconds on a local disk; four
    // thread-pool round trips cost more than the whole read of a typical changeset).
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === "EISDIR") return undefined;
      throw err;
    }
    try {
      const s = fstatSync(fd, { bigint: true });
      if (!s.isFile()) {
        closeSync(fd);
        return undefined;
      }
      const size = Number(s.size);
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      const length = end - start + 1;
      if (length <= 0) {
        closeSync(fd);
        return { info: infoOf(s), stream: Readable.from([]) };
      }
      if (length <= SMALL_READ_BYTES) {
        // A small blob (most changesets) is read whole right away.
        const bytes = Buffer.allocUnsafe(length);
        let read = 0;
        while (read < length) {
          const n = readSync(fd, bytes, read, length - read, start + read);
          if (n === 0) break;
          read += n;
        }
        closeSync(fd);
        return { info: infoOf(s), stream: Readable.from([bytes.subarray(0, read)]) };
      }
      // Reads of up to 1 MiB: a large file streams at disk speed instead of paying a per-64-KiB-chunk cost.
      const stream = createReadStream("", { fd, start, end, highWaterMark: Math.min(READ_CHUNK_BYTES, length) });
      return { info: infoOf(s), stream };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.#path(key), { bigint: true });
      return s.isFile() ? infoOf(s) : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    if (await isFile(path)) await rm(path, { force: true });
    await rm(join(this.#blocks, sha(key)), { recursive: true, force: true });
  }

  /**
   * Every blob whose key starts with `prefix`: `files/a/` removes the folder `files/a`; `files/a` also removes
   * `files/ab/…` and `files/a.bim`. Blocks staged for such keys are left to the stale-block sweep.
   */
  async deletePrefix(prefix: string): Promise<void> {
    if (prefix.endsWith("/")) {
      const folder = prefix.replace(/\/+$/, "");
      this.#validate(folder);
      await rm(join(this.root, folder), { recursive: true, force: true });
      return;
    }
    const slash = prefix.lastIndexOf("/");
    const folder = slash >= 0 ? prefix.slice(0, slash) : "";
    const start = prefix.slice(slash + 1);
    if (folder !== "") this.#validate(folder);
    if (start === "" || start.includes("\\")) throw new Error(`Invalid blob key prefix '${prefix}'.`);
    let names: string[];
    try {
      names = await readdir(join(this.root, folder));
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const name of names) {
      if (name.startsWith(start) && !isReserved(name)) await rm(join(this.root, folder, name), { recursive: true, force: true });
    }
  }

  async downloadToFile(key: string, localPath: string): Promise<void> {
    try {
      await copyFile(this.#path(key), localPath);
    } catch (err) {
      if (isMissing(err)) throw new Error(`Blob '${key}' does not exist.`);
      throw err;
    }
  }

  localPath(key: string): string {
    return this.#path(key);
  }

  async uploadFromFile(key: string, localPath: string): Promise<BlobInfo> {
    const path = this.#path(key);
    const temp = join(this.#tmp, randomUUID());
    try {
      await copyFile(localPath, temp);
      await fsync(temp);
      return await this.#promote(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async #writeTemp(data: Readable, signal: AbortSignal | undefined): Promise<string> {
    const temp = join(this.#tmp, randomUUID());
    try {
      if (signal?.aborted) throw signal.reason;
      // flush: the stream fsyncs its own descriptor before closing it (no second open just to sync).
      await pipeline(data, createWriteStream(temp, { flush: true }), signal ? { signal } : {});
      return temp;
    } catch (err) {
      await rm(temp, { force: true });
      if (signal?.aborted) {
        data.destroy();
        throw new BlobStoreError("Aborted", "The write was aborted.");
      }
      throw err;
    }
  }

  /** Renames a finished temp file over the blob and describes the result (the temp is gone afterwards). */
  async #promote(temp: string, path: string): Promise<BlobInfo> {
    for (let attempt = 0; ; attempt++) {
      mkdirSync(dirname(path), { recursive: true });
      try {
        await rename(temp, path);
        break;
      } catch (err) {
        // A deletePrefix may have removed the folder between mkdir and rename; make it again.
        if (!isMissing(err) || attempt >= 2) {
          await rm(temp, { force: true });
          throw err;
        }
      }
    }
    return infoOf(await stat(path, { bigint: true }));
  }

  #path(key: string): string {
    this.#validate(key);
    return join(this.root, key);
  }

  #validate(key: string): void {
    if (key.length === 0 || key.startsWith("/") || key.includes("\\") || key.includes("\0")) throw new Error(`Invalid blob key '${key}'.`);
    const segments = key.split("/");
    if (segments.some((s) => s === "" || s === "." || s === "..") || isReserved(segments[0]!)) throw new Error(`Invalid blob key '${key}'.`);
  }

  /** Removes left-overs of crashes: temp files older than an hour, staged blocks never committed within a week. */
  #sweep(): void {
    const now = Date.now();
    for (const [dir, age] of [
      [this.#tmp, STALE_TEMP_MS],
      [this.#blocks, STALE_BLOCKS_MS],
    ] as const) {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        try {
          if (statSync(path).mtimeMs < now - age) rmSync(path, { recursive: true, force: true });
        } catch {
          // Gone meanwhile, or not ours to remove: not worth failing the start for.
        }
      }
    }
  }
}

/** The store's own folders at the root; no key may start with them. */
function isReserved(segment: string): boolean {
  return segment === ".tmp" || segment === ".blocks";
}

function infoOf(s: BigIntStats): BlobInfo {
  return {
    size: Number(s.size),
    etag: `${s.size.toString(16)}-${s.mtimeNs.toString(16)}-${s.ino.toString(16)}`,
    lastModified: new Date(Number(s.mtimeMs)),
  };
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
