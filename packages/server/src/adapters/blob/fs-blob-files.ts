// What the file-system blob store's parts share: writes through temp files that are fsynced and renamed over the
// final name (so a reader, or a crash, never sees a half-written blob), the sweep of temp files whose writer is
// gone, key validation, and a blob's description from its file.
import { randomUUID } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import { isProcessAlive } from "../../util/process-alive.js";

/**
 * A temp file of a writer that is still alive but has not touched it for this long is a left-over too (no upload
 * stays idle that long: the HTTP layer ends idle uploads much sooner).
 */
const STALE_TEMP_MS = 3600_000;

export const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === "ENOENT";

/** Files and folders removed by a sweep (or that a dry run would remove). */
export interface SweepTally {
  files: number;
  bytes: number;
}

/** The temp files of one store (`<root>/.tmp`, on the blobs' filesystem so that a rename is atomic). */
export class TempFiles {
  /** Names of this process's temp files still being written (the sweep leaves those alone). */
  readonly #active = new Set<string>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * Runs `write` on a new temp file's path, which the sweep leaves alone meanwhile; the file is removed if `write`
   * fails. `write` must rename the file away (or leave it for this to remove) before it returns.
   */
  async using<T>(write: (temp: string) => Promise<T>): Promise<T> {
    const name = tempName();
    const temp = join(this.dir, name);
    this.#active.add(name);
    try {
      return await write(temp);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    } finally {
      this.#active.delete(name);
    }
  }

  /** Streams `data` (through `through`, if given) into a new fsynced temp file and returns its path. */
  async write(data: Readable, signal: AbortSignal | undefined, through?: Transform): Promise<string> {
    const name = tempName();
    const temp = join(this.dir, name);
    this.#active.add(name);
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
      this.#active.delete(name);
    }
  }

  /**
   * Removes temp files whose writer is gone (a process that no longer runs, or this process when it no longer
   * writes them), or that nobody touched for an hour.
   */
  sweep(dryRun: boolean, removed: SweepTally): void {
    const now = Date.now();
    for (const name of readdirSync(this.dir)) {
      try {
        const path = join(this.dir, name);
        const s = statSync(path);
        const pid = /^(\d+)-/.exec(name)?.[1];
        const writerGone =
          pid === undefined || (Number(pid) === process.pid ? !this.#active.has(name) : !isProcessAlive(Number(pid)));
        if (writerGone || s.mtimeMs < now - STALE_TEMP_MS) {
          if (!dryRun) rmSync(path, { recursive: true, force: true });
          removed.files++;
          removed.bytes += s.size;
        }
      } catch {
        // Gone meanwhile, or not ours to remove: not worth failing for.
      }
    }
  }
}

/** `<pid>-<uuid>`: the sweep can tell a temp file of a process that is gone from one still being written. */
function tempName(): string {
  return `${process.pid}-${randomUUID()}`;
}

/**
 * Renames a finished temp file over the blob and describes the result (the temp is gone afterwards). The description
 * is taken from the temp before the rename (a rename keeps the inode, size and modification time): once renamed, the
 * name may already have been moved or replaced by another request (an upload frozen by its completion), and a stat of
 * the name would fail or describe another file.
 */
export async function promote(temp: string, path: string): Promise<BlobInfo> {
  let info: BlobInfo;
  try {
    info = infoOf(await stat(temp, { bigint: true }));
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
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
  return info;
}

/** The store's own folders at the root; no key may start with them. */
export function isReserved(segment: string): boolean {
  return segment === ".tmp" || segment === ".blocks";
}

/** Refuses a key that is not a relative path of plain segments inside the store (or names its own folders). */
export function validateKey(key: string): void {
  if (key.length === 0 || key.startsWith("/") || key.includes("\\") || key.includes("\0"))
    throw new Error(`Invalid blob key '${key}'.`);
  const segments = key.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..") || isReserved(segments[0]!))
    throw new Error(`Invalid blob key '${key}'.`);
}

export function infoOf(s: BigIntStats): BlobInfo {
  return {
    size: Number(s.size),
    etag: `${s.size.toString(16)}-${s.mtimeNs.toString(16)}-${s.ino.toString(16)}`,
    lastModified: new Date(Number(s.mtimeMs)),
  };
}

export async function fsync(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
