import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync } from "node:fs";
import { copyFile, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo, BlobStore, ByteRange } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Blobs as files under one directory. Every write goes to a temp file on the same filesystem, is fsynced, and is
 * renamed over the final name, so a reader (or a crash) never sees a half-written blob.
 */
export class FsBlobStore implements BlobStore {
  readonly #tmp: string;
  readonly #blocks: string;

  constructor(private readonly root: string) {
    this.#tmp = join(root, ".tmp");
    this.#blocks = join(root, ".blocks");
    mkdirSync(this.#tmp, { recursive: true });
    mkdirSync(this.#blocks, { recursive: true });
    void this.#sweepTemp();
  }

  async put(key: string, data: Readable, options: { signal?: AbortSignal } = {}): Promise<BlobInfo> {
    const path = this.#path(key);
    const temp = await this.#writeTemp(data, options.signal);
    await this.#promote(temp, path);
    return (await this.stat(key))!;
  }

  async stageBlock(key: string, blockId: string, data: Readable, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (blockId.length === 0 || blockId.length > 1024) throw new BlobStoreError("InvalidBlockId", "A block id must be 1 to 1024 characters.");
    const dir = join(this.#blocks, sha(key));
    mkdirSync(dir, { recursive: true });
    const temp = await this.#writeTemp(data, options.signal);
    await rename(temp, join(dir, sha(blockId)));
  }

  async commitBlocks(key: string, blockIds: readonly string[]): Promise<BlobInfo> {
    const dir = join(this.#blocks, sha(key));
    const parts = blockIds.map((id) => join(dir, sha(id)));
    for (const [i, part] of parts.entries()) {
      if (!(await exists(part))) throw new BlobStoreError("InvalidBlockList", `Block '${blockIds[i]}' was not staged for this blob.`);
    }
    const temp = join(this.#tmp, randomUUID());
    const out = createWriteStream(temp);
    try {
      for (const part of parts) await pipeline(createReadStream(part), out, { end: false });
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await fsync(temp);
      await this.#promote(temp, this.#path(key));
    } catch (err) {
      out.destroy();
      await rm(temp, { force: true });
      throw err;
    }
    await rm(dir, { recursive: true, force: true });
    return (await this.stat(key))!;
  }

  async get(key: string, range?: ByteRange): Promise<{ info: BlobInfo; stream: Readable } | undefined> {
    const info = await this.stat(key);
    if (!info) return undefined;
    const stream = createReadStream(this.#path(key), range ? { start: range.start, end: range.end } : {});
    return { info, stream };
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.#path(key), { bigint: true });
      if (!s.isFile()) return undefined;
      return {
        size: Number(s.size),
        etag: `${s.size.toString(16)}-${s.mtimeNs.toString(16)}-${s.ino.toString(16)}`,
        lastModified: new Date(Number(s.mtimeMs)),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
    await rm(join(this.#blocks, sha(key)), { recursive: true, force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    const clean = prefix.replace(/\/+$/, "");
    this.#validate(clean);
    await rm(join(this.root, clean), { recursive: true, force: true });
  }

  async downloadToFile(key: string, localPath: string): Promise<void> {
    try {
      await copyFile(this.#path(key), localPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`Blob '${key}' does not exist.`);
      throw err;
    }
  }

  localPath(key: string): string {
    return this.#path(key);
  }

  async uploadFromFile(key: string, localPath: string): Promise<BlobInfo> {
    const temp = join(this.#tmp, randomUUID());
    try {
      await copyFile(localPath, temp);
      await fsync(temp);
      await this.#promote(temp, this.#path(key));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return (await this.stat(key))!;
  }

  async #writeTemp(data: Readable, signal: AbortSignal | undefined): Promise<string> {
    const temp = join(this.#tmp, randomUUID());
    try {
      await pipeline(data, createWriteStream(temp), signal ? { signal } : {});
      await fsync(temp);
      return temp;
    } catch (err) {
      await rm(temp, { force: true });
      if (signal?.aborted) throw new BlobStoreError("Aborted", "The write was aborted.");
      throw err;
    }
  }

  async #promote(temp: string, path: string): Promise<void> {
    mkdirSync(dirname(path), { recursive: true });
    await rename(temp, path);
  }

  #path(key: string): string {
    this.#validate(key);
    return join(this.root, key);
  }

  #validate(key: string): void {
    const segments = key.split("/");
    if (key.length === 0 || key.startsWith("/") || key.includes("\\") || segments.some((s) => s === "" || s === "." || s === ".." || s.startsWith(".tmp") || s === ".blocks")) {
      throw new Error(`Invalid blob key '${key}'.`);
    }
  }

  /**
   * Temp files older than an hour are left-overs of a crash. Staged blocks never committed within a week are
   * dropped too (Azure discards uncommitted blocks after a week), e.g. of an upload given up or a deleted iModel.
   */
  async #sweepTemp(): Promise<void> {
    try {
      const tempCutoff = Date.now() - 3600_000;
      for (const name of await readdir(this.#tmp)) {
        const path = join(this.#tmp, name);
        const s = await stat(path).catch(() => undefined);
        if (s && s.mtimeMs < tempCutoff) await unlink(path).catch(() => undefined);
      }
      const blockCutoff = Date.now() - 7 * 24 * 3600_000;
      for (const name of await readdir(this.#blocks)) {
        const path = join(this.#blocks, name);
        const s = await stat(path).catch(() => undefined);
        if (s && s.mtimeMs < blockCutoff) await rm(path, { recursive: true, force: true }).catch(() => undefined);
      }
    } catch {
      // best effort
    }
  }
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
