import type { Dirent } from "node:fs";
import { closeSync, createReadStream, fstatSync, mkdirSync, openSync, readSync } from "node:fs";
import { copyFile, link, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { Readable } from "node:stream";
import type { BlobInfo, BlobStore, ByteRange, StagedBlocks } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import { exists } from "../../util/fs.js";
import type { SweepTally } from "./fs-blob-files.js";
import { TempFiles, fsync, infoOf, isFile, isMissing, isReserved, promote, validateKey } from "./fs-blob-files.js";
import { FsStagedBlocks } from "./fs-staged-blocks.js";

/** Read size of blob downloads. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** Blobs up to this size are read whole, synchronously, when opened. */
const SMALL_READ_BYTES = 256 * 1024;

/**
 * Blobs as files under one directory (`<root>/<key>`). Every write goes to a temp file in `<root>/.tmp` (same
 * filesystem), is fsynced, and is renamed over the final name, so a reader (or a crash) never sees a half-written
 * blob (fs-blob-files.ts). Staged blocks live in `<root>/.blocks/<sha256(key)>/<sha256(blockId)>` until committed
 * (fs-staged-blocks.ts). Nothing is ever held in memory whole: data streams from the source to the file.
 */
export class FsBlobStore implements BlobStore {
  readonly #temps: TempFiles;
  readonly #blocks: FsStagedBlocks;

  /** `sweepOnOpen: false` leaves left-overs for an explicit `sweepLeftovers` (e.g. a report that changes nothing). */
  constructor(
    private readonly root: string,
    options: { sweepOnOpen?: boolean } = {},
  ) {
    this.#temps = new TempFiles(join(root, ".tmp"));
    this.#blocks = new FsStagedBlocks(join(root, ".blocks"), this.#temps);
    if (options.sweepOnOpen !== false) this.#sweep(false);
  }

  async sweepLeftovers(options: { dryRun?: boolean } = {}): Promise<{ files: number; bytes: number }> {
    return this.#sweep(options.dryRun ?? false);
  }

  async put(key: string, data: Readable, options: { signal?: AbortSignal } = {}): Promise<BlobInfo> {
    const path = this.#path(key);
    const temp = await this.#temps.write(data, options.signal);
    return promote(temp, path);
  }

  stageBlock(
    key: string,
    blockId: string,
    data: Readable,
    options: { signal?: AbortSignal; maxStagedBytes?: number } = {},
  ): Promise<void> {
    return this.#blocks.stage(key, blockId, data, options);
  }

  /**
   * Every set of blocks staged and not committed whose key starts with `prefix`; a set staged by a hub that did not
   * yet record keys beside blocks has `key` undefined (listed whatever the prefix).
   */
  listStaged(prefix: string): AsyncIterable<StagedBlocks> {
    return this.#blocks.list(prefix);
  }

  deleteStaged(staged: Pick<StagedBlocks, "id">): Promise<void> {
    return this.#blocks.delete(staged);
  }

  commitBlocks(key: string, blockIds: readonly string[]): Promise<BlobInfo> {
    return this.#blocks.commit(key, this.#path(key), blockIds);
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
    if (await isFile(path)) {
      await rm(path, { force: true });
      await this.#removeEmptyParents(path);
    }
    await this.#blocks.drop(key);
  }

  /**
   * Folders left empty by a delete go too (an iModel's last file gone, its folder gone). A writer racing with this
   * makes the folder again: #promote and move retry when their folder vanished.
   */
  async #removeEmptyParents(path: string): Promise<void> {
    for (let dir = dirname(path); dir.startsWith(this.root + sep) && dir !== this.root; dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty (or gone): its parents are not empty either
      }
    }
  }

  /**
   * Every blob whose key starts with `prefix`: `files/a/` removes the folder `files/a`; `files/a` also removes
   * `files/ab/…` and `files/a.bim`. Blocks staged for such keys go too (an iModel's uploads die with it).
   */
  async deletePrefix(prefix: string): Promise<void> {
    for await (const staged of this.#blocks.list(prefix))
      if (staged.key !== undefined) await this.#blocks.delete(staged);
    if (prefix.endsWith("/")) {
      const folder = prefix.replace(/\/+$/, "");
      validateKey(folder);
      await rm(join(this.root, folder), { recursive: true, force: true });
      return;
    }
    const slash = prefix.lastIndexOf("/");
    const folder = slash >= 0 ? prefix.slice(0, slash) : "";
    const start = prefix.slice(slash + 1);
    if (folder !== "") validateKey(folder);
    if (start === "" || start.includes("\\")) throw new Error(`Invalid blob key prefix '${prefix}'.`);
    let names: string[];
    try {
      names = await readdir(join(this.root, folder));
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const name of names) {
      if (name.startsWith(start) && !isReserved(name))
        await rm(join(this.root, folder, name), { recursive: true, force: true });
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
    return this.#temps.using(async (temp) => {
      await copyFile(localPath, temp);
      await fsync(temp);
      return promote(temp, path);
    });
  }

  async move(from: string, to: string): Promise<BlobInfo | undefined> {
    const source = this.#path(from);
    const target = this.#path(to);
    for (let attempt = 0; ; attempt++) {
      mkdirSync(dirname(target), { recursive: true });
      try {
        await rename(source, target);
        break;
      } catch (err) {
        if (!isMissing(err)) throw err;
        if (!(await exists(source))) return undefined;
        if (attempt >= 2) throw err; // the target folder keeps vanishing (a deletePrefix racing): give up
      }
    }
    // Blocks staged for `from` could only ever be committed to it: an upload frozen by its completion needs none.
    await this.#blocks.drop(from);
    // A rename keeps the inode and modification time: the etag stays what it was under `from`.
    return infoOf(await stat(target, { bigint: true }));
  }

  /**
   * A hard link under a temp name, renamed over `to`: no bytes copied, and safe because every write here makes a new
   * file and renames it over the name (a blob's file is never changed in place). Where links are not possible (another
   * filesystem, a filesystem without them), the bytes are copied.
   */
  async copy(from: string, to: string): Promise<BlobInfo | undefined> {
    return this.#copy(from, to);
  }

  /**
   * `copy`, with the linked file copied to `localPath` before it takes `to`'s name (the hub reads blobs here in place
   * and has no need of it; it keeps the port's contract the same on every store).
   */
  async copyToFile(
    from: string,
    to: string,
    localPath: string,
    options: { maxBytes?: number } = {},
  ): Promise<BlobInfo | undefined> {
    return this.#copy(from, to, async (temp) => {
      const { size } = await stat(temp);
      if (options.maxBytes !== undefined && size > options.maxBytes)
        throw new BlobStoreError("TooLarge", `Blob '${from}' is ${size} bytes, more than ${options.maxBytes}.`);
      try {
        await copyFile(temp, localPath);
      } catch (err) {
        await rm(localPath, { force: true });
        throw err;
      }
    });
  }

  /** `from` linked (or copied) to a temp file, `before(temp)` run, then the temp renamed over `to`. */
  async #copy(from: string, to: string, before?: (temp: string) => Promise<void>): Promise<BlobInfo | undefined> {
    const source = this.#path(from);
    const target = this.#path(to);
    return this.#temps.using(async (temp) => {
      try {
        await link(source, temp);
      } catch (err) {
        if (isMissing(err)) return undefined;
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EXDEV" && code !== "EPERM" && code !== "ENOTSUP" && code !== "EMLINK") throw err;
        try {
          await copyFile(source, temp);
        } catch (copyErr) {
          if (isMissing(copyErr)) return undefined;
          throw copyErr;
        }
        await fsync(temp);
      }
      await before?.(temp);
      return promote(temp, target);
    });
  }

  async *list(prefix: string): AsyncIterable<{ key: string; info: BlobInfo }> {
    const slash = prefix.lastIndexOf("/");
    const folder = slash >= 0 ? prefix.slice(0, slash) : "";
    if (folder !== "") validateKey(folder);
    const walk = async function* (
      this: FsBlobStore,
      relative: string,
    ): AsyncGenerator<{ key: string; info: BlobInfo }> {
      let entries: Dirent[];
      try {
        entries = await readdir(join(this.root, relative), { withFileTypes: true });
      } catch (err) {
        if (isMissing(err) || (err as NodeJS.ErrnoException).code === "ENOTDIR") return;
        throw err;
      }
      for (const entry of entries) {
        if (relative === "" && isReserved(entry.name)) continue;
        const key = relative === "" ? entry.name : `${relative}/${entry.name}`;
        if (entry.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* walk.call(this, key);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          try {
            yield { key, info: infoOf(await stat(join(this.root, key), { bigint: true })) };
          } catch (err) {
            if (!isMissing(err)) throw err; // deleted meanwhile: not listed
          }
        }
      }
    };
    yield* walk.call(this, folder);
  }

  #path(key: string): string {
    validateKey(key);
    return join(this.root, key);
  }

  /**
   * Removes left-overs of crashes and aborted writes: temp files whose writer is gone, or that nobody touched for an
   * hour; staged blocks never committed within a week (as Azure drops uncommitted blocks).
   */
  #sweep(dryRun: boolean): SweepTally {
    const removed: SweepTally = { files: 0, bytes: 0 };
    this.#temps.sweep(dryRun, removed);
    this.#blocks.sweep(dryRun, removed);
    return removed;
  }
}
