// Files of a backup: copied with a checksum each, flushed to disk, and checked against the manifest on restore.
import { createHash } from "node:crypto";
import type { Dirent } from "node:fs";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FileEntry } from "./backup-manifest.js";
import { AdminRefusal, PRIVATE_DIR, PRIVATE_FILE_MODE } from "./backup-manifest.js";

/**
 * Copies every file under `source` to `target`, sorted by path. A file that vanishes meanwhile is skipped: the
 * hold keeps every file the metadata snapshot refers to, so a vanished one is unreferenced (the verify step proves it).
 */
export async function copyTree(source: string, target: string, prefix: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  let entries: Dirent[];
  try {
    entries = await readdir(source, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw err;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    const path = `${prefix.split(sep).join("/")}/${entry.name}`;
    if (entry.isDirectory()) {
      await mkdir(to, PRIVATE_DIR);
      out.push(...(await copyTree(from, to, path)));
    } else if (entry.isFile()) {
      try {
        out.push(await copyFileHashed(from, to, path));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
  }
  return out;
}

/** Streams a file to a new file (flushed to disk), hashing on the way; never a hard link (see README). */
export async function copyFileHashed(from: string, to: string, path: string): Promise<FileEntry> {
  const hash = createHash("sha256");
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(
    createReadStream(from),
    tap,
    createWriteStream(to, { flags: "wx", flush: true, mode: PRIVATE_FILE_MODE }),
  );
  return { path, bytes, sha256: hash.digest("hex") };
}

/** Copies one file of a backup into the restore folder and checks its size and checksum against the manifest. */
export async function copyChecked(from: string, target: string, entry: FileEntry): Promise<void> {
  const to = join(target, ...entry.path.split("/"));
  await mkdir(dirname(to), PRIVATE_DIR);
  let copied: FileEntry;
  try {
    copied = await copyFileHashed(join(from, ...entry.path.split("/")), to, entry.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new AdminRefusal(`The backup lacks ${entry.path}, listed in its manifest.`);
    throw err;
  }
  if (copied.bytes !== entry.bytes || copied.sha256 !== entry.sha256) {
    throw new AdminRefusal(
      `${entry.path} in the backup does not match its manifest (${copied.bytes} bytes, sha256 ${copied.sha256}; expected ${entry.bytes}, ${entry.sha256}).`,
    );
  }
}

export async function describe(dir: string, path: string): Promise<FileEntry> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(join(dir, path)) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { path, bytes, sha256: hash.digest("hex") };
}

export async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, "wx", PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function syncDir(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } catch {
    // Some filesystems cannot fsync a directory; the rename is still atomic.
  } finally {
    await handle.close();
  }
}

export async function isNonEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length > 0;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    if (code === "ENOTDIR") return true;
    throw err;
  }
}

export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}
