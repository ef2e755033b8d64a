import { createHash, randomUUID } from "node:crypto";
import type { BigIntStats, Dirent } from "node:fs";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
} from "node:fs";
import { copyFile, link, open, readFile, readdir, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo, BlobStore, ByteRange, StagedBlocks } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import { isProcessAlive } from "../../util/process-alive.js";
import { exists } from "../../util/fs.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * A temp file of a writer that is still alive but has not touched it for this long is a left-over too (no upload
 * stays idle that long: the HTTP layer ends idle uploads much sooner).
 */
const STALE_TEMP_MS = 3600_000;
/** Blocks staged but never committed are dropped after a week, as Azure does with uncommitted blocks. */
const STALE_BLOCKS_MS = 7 * 24 * 3600_000;
/** Most blocks staged for one key: Azure's most blocks per committed blob (more could never be committed). */
const MAX_STAGED_BLOCKS = 50_000;
/** In each staged-blocks folder, the key the blocks are for (the folder's name is its hash). */
const KEY_FILE = "key";

/** The blocks staged for one key, as this process knows them: their sizes, and bytes arriving right now. */
interface StagedTally {
  blocks: Map<string, number>;
  bytes: number;
  inFlight: number;
}
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
  /** Names of this process's temp files still being written (the sweep leaves those alone). */
  readonly #activeTemps = new Set<string>();
  /** Staged blocks per key folder, read from disk on first use (blocks staged before a restart count too). */
  readonly #staged = new Map<string, Promise<StagedTally>>();

  /** `sweepOnOpen: false` leaves left-overs for an explicit `sweepLeftovers` (e.g. a report that changes nothing). */
  constructor(
    private readonly root: string,
    options: { sweepOnOpen?: boolean } = {},
  ) {
    this.#tmp = join(root, ".tmp");
    this.#blocks = join(root, ".blocks");
    mkdirSync(this.#tmp, { recursive: true });
    mkdirSync(this.#blocks, { recursive: true });
    if (options.sweepOnOpen !== false) this.#sweep(false);
  }

  async sweepLeftovers(options: { dryRun?: boolean } = {}): Promise<{ files: number; bytes: number }> {
    return this.#sweep(options.dryRun ?? false);
  }

  async put(key: string, data: Readable, options: { signal?: AbortSignal } = {}): Promise<BlobInfo> {
    const path = this.#path(key);
    const temp = await this.#writeTemp(data, options.signal);
    return this.#promote(temp, path);
  }

  async stageBlock(
    key: string,
    blockId: string,
    data: Readable,
    options: { signal?: AbortSignal; maxStagedBytes?: number } = {},
  ): Promise<void> {
    this.#validate(key);
    if (blockId.length === 0 || blockId.length > 1024)
      throw new BlobStoreError("InvalidBlockId", "A block id must be 1 to 1024 characters.");
    const folder = sha(key);
    const dir = join(this.#blocks, folder);
    const name = sha(blockId);
    const tally = await this.#tally(folder);
    if (!tally.blocks.has(name) && tally.blocks.size >= MAX_STAGED_BLOCKS) {
      throw new BlobStoreError(
        "TooManyBlocks",
        `${MAX_STAGED_BLOCKS} blocks are staged for this blob already: commit them or start over.`,
      );
    }
    // Every byte of every block staged for the key counts, those still arriving too (blocks come in parallel); a
    // block staged again under its id replaces the old one, which counts until then.
    const max = options.maxStagedBytes ?? Number.POSITIVE_INFINITY;
    let arrived = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        arrived += chunk.length;
        tally.inFlight += chunk.length;
        if (tally.bytes - (tally.blocks.get(name) ?? 0) + tally.inFlight > max) {
          // Refused: its bytes no longer count against the blocks still arriving beside it.
          tally.inFlight -= arrived;
          arrived = 0;
          return done(
            new BlobStoreError(
              "TooLarge",
              `The blocks staged for this blob would be larger than the ${max} bytes declared for it.`,
            ),
          );
        }
        done(null, chunk);
      },
    });
    let temp: string;
    try {
      temp = await this.#writeTemp(data, options.signal, counter);
    } finally {
      tally.inFlight -= arrived;
    }
    try {
      mkdirSync(dir, { recursive: true });
      // The key beside its blocks: doctor and the orphan scan tell whose they are, deletePrefix finds them.
      await writeFile(join(dir, KEY_FILE), key, { flag: "wx" }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      });
      await rename(temp, join(dir, name));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    tally.bytes += arrived - (tally.blocks.get(name) ?? 0);
    tally.blocks.set(name, arrived);
  }

  /** What is staged for the key folder `folder`: from this process's tally, or from disk the first time. */
  #tally(folder: string): Promise<StagedTally> {
    let tally = this.#staged.get(folder);
    if (!tally) {
      tally = (async () => {
        const known: StagedTally = { blocks: new Map(), bytes: 0, inFlight: 0 };
        for (const block of await blockFiles(join(this.#blocks, folder))) {
          known.blocks.set(block.name, block.size);
          known.bytes += block.size;
        }
        return known;
      })();
      this.#staged.set(folder, tally);
      tally.catch(() => this.#staged.delete(folder));
    }
    return tally;
  }

  /** Drops the blocks staged for one key (committed, moved, deleted: nothing can use them any more). */
  async #dropStaged(folder: string): Promise<void> {
    this.#staged.delete(folder);
    await rm(join(this.#blocks, folder), { recursive: true, force: true });
  }

  /**
   * Every set of blocks staged and not committed whose key starts with `prefix`; a set staged by a hub that did not
   * yet record keys beside blocks has `key` undefined (listed whatever the prefix).
   */
  async *listStaged(prefix: string): AsyncIterable<StagedBlocks> {
    for (const folder of await readdir(this.#blocks).catch(() => [] as string[])) {
      const dir = join(this.#blocks, folder);
      const key = await readFile(join(dir, KEY_FILE), "utf8").catch(() => undefined);
      if (key !== undefined && !key.startsWith(prefix)) continue;
      const blocks = await blockFiles(dir);
      if (blocks.length === 0 && key === undefined) continue;
      const lastModified = new Date(Math.max(0, ...blocks.map((b) => b.mtimeMs)));
      yield { key, blocks: blocks.length, bytes: blocks.reduce((n, b) => n + b.size, 0), lastModified, id: folder };
    }
  }

  async deleteStaged(staged: Pick<StagedBlocks, "id">): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(staged.id)) throw new Error(`Invalid staged-blocks id '${staged.id}'.`);
    await this.#dropStaged(staged.id);
  }

  async commitBlocks(key: string, blockIds: readonly string[]): Promise<BlobInfo> {
    const path = this.#path(key);
    const dir = join(this.#blocks, sha(key));
    const parts = blockIds.map((id) => join(dir, sha(id)));
    for (const [i, part] of parts.entries()) {
      if (!(await isFile(part)))
        throw new BlobStoreError("InvalidBlockList", `Block '${blockIds[i]}' was not staged for this blob.`);
    }
    const name = this.#tempName();
    const temp = join(this.#tmp, name);
    this.#activeTemps.add(name);
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
    } finally {
      this.#activeTemps.delete(name);
    }
    await this.#dropStaged(sha(key));
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
    if (await isFile(path)) {
      await rm(path, { force: true });
      await this.#removeEmptyParents(path);
    }
    await this.#dropStaged(sha(key));
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
    for await (const staged of this.listStaged(prefix)) if (staged.key !== undefined) await this.#dropStaged(staged.id);
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
    const name = this.#tempName();
    const temp = join(this.#tmp, name);
    this.#activeTemps.add(name);
    try {
      await copyFile(localPath, temp);
      await fsync(temp);
      return await this.#promote(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    } finally {
      this.#activeTemps.delete(name);
    }
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
    await this.#dropStaged(sha(from));
    // A rename keeps the inode and modification time: the etag stays what it was under `from`.
    return infoOf(await stat(target, { bigint: true }));
  }

  /**
   * A hard link under a temp name, renamed over `to`: no bytes copied, and safe because every write here makes a new
   * file and renames it over the name (a blob's file is never changed in place). Where links are not possible (another
   * filesystem, a filesystem without them), the bytes are copied.
   */
  async copy(from: string, to: string): Promise<BlobInfo | undefined> {
    const source = this.#path(from);
    const target = this.#path(to);
    const name = this.#tempName();
    const temp = join(this.#tmp, name);
    this.#activeTemps.add(name);
    try {
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
      return await this.#promote(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    } finally {
      this.#activeTemps.delete(name);
    }
  }

  async *list(prefix: string): AsyncIterable<{ key: string; info: BlobInfo }> {
    const slash = prefix.lastIndexOf("/");
    const folder = slash >= 0 ? prefix.slice(0, slash) : "";
    if (folder !== "") this.#validate(folder);
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

  async #writeTemp(data: Readable, signal: AbortSignal | undefined, through?: Transform): Promise<string> {
    const name = this.#tempName();
    const temp = join(this.#tmp, name);
    this.#activeTemps.add(name);
    try {
      if (signal?.aborted) throw signal.reason;
      // flush: the stream fsyncs its own descriptor before closing it (no second open just to sync).
      const file = createWriteStream(temp, { flush: true });
      await (through
        ? pipeline(data, through, file, signal ? { signal } : {})
        : pipeline(data, file, signal ? { signal } : {}));
      return temp;
    } catch (err) {
      await rm(temp, { force: true });
      if (signal?.aborted) {
        data.destroy();
        throw new BlobStoreError("Aborted", "The write was aborted.");
      }
      throw err;
    } finally {
      // Once written, the temp is renamed at once by the caller (or removed): the sweep may no longer find it.
      this.#activeTemps.delete(name);
    }
  }

  /** `<pid>-<uuid>`: the sweep can tell a temp file of a process that is gone from one still being written. */
  #tempName(): string {
    return `${process.pid}-${randomUUID()}`;
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
    if (key.length === 0 || key.startsWith("/") || key.includes("\\") || key.includes("\0"))
      throw new Error(`Invalid blob key '${key}'.`);
    const segments = key.split("/");
    if (segments.some((s) => s === "" || s === "." || s === "..") || isReserved(segments[0]!))
      throw new Error(`Invalid blob key '${key}'.`);
  }

  /**
   * Removes left-overs of crashes and aborted writes: temp files whose writer is gone (a process that no longer
   * runs, or this process when it no longer writes them), or that nobody touched for an hour; staged blocks never
   * committed within a week (as Azure drops uncommitted blocks).
   */
  #sweep(dryRun: boolean): { files: number; bytes: number } {
    const now = Date.now();
    const removed = { files: 0, bytes: 0 };
    const remove = (path: string, size: number) => {
      if (!dryRun) rmSync(path, { recursive: true, force: true });
      removed.files++;
      removed.bytes += size;
    };
    for (const name of readdirSync(this.#tmp)) {
      try {
        const s = statSync(join(this.#tmp, name));
        const pid = /^(\d+)-/.exec(name)?.[1];
        const writerGone =
          pid === undefined ||
          (Number(pid) === process.pid ? !this.#activeTemps.has(name) : !isProcessAlive(Number(pid)));
        if (writerGone || s.mtimeMs < now - STALE_TEMP_MS) remove(join(this.#tmp, name), s.size);
      } catch {
        // Gone meanwhile, or not ours to remove: not worth failing for.
      }
    }
    for (const name of readdirSync(this.#blocks)) {
      const path = join(this.#blocks, name);
      try {
        if (statSync(path).mtimeMs < now - STALE_BLOCKS_MS) {
          if (!dryRun) this.#staged.delete(name);
          remove(path, 0);
        }
      } catch {
        // as above
      }
    }
    return removed;
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

/** The block files of a staged-blocks folder (none when it does not exist). */
async function blockFiles(dir: string): Promise<{ name: string; size: number; mtimeMs: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const blocks: { name: string; size: number; mtimeMs: number }[] = [];
  for (const name of names) {
    if (name === KEY_FILE) continue;
    try {
      const s = await stat(join(dir, name));
      if (s.isFile()) blocks.push({ name, size: s.size, mtimeMs: s.mtimeMs });
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
  return blocks;
}
