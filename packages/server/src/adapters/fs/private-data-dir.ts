import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";

/** Bits no one but the hub's own user gets on what it writes: new folders are 0700, new files 0600. */
export const PRIVATE_UMASK = 0o077;

/** A path whose permissions were narrowed, with its modes before and after (octal text). */
export interface Tightened {
  path: string;
  was: string;
  now: string;
}

/**
 * Makes sure only the hub's own user can read its data directory: it holds token hashes, the audit log, the
 * link-signing key and every model. From now on this process creates folders 0700 and files 0600 (its umask, which
 * SQLite's WAL and SHM files, the blob store's temporary files and the iTwin.js worker it spawns all follow), and a
 * directory made under a laxer umask is tightened: the directory itself and what lies directly in it (files deeper
 * down cannot be reached through a 0700 folder). Returns what it changed, for the log; a path it may not change (not
 * its owner) is reported with `now: "unchanged"`.
 */
export async function privateDataDir(dataDir: string): Promise<Tightened[]> {
  process.umask(process.umask() | PRIVATE_UMASK);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tightened: Tightened[] = [];
  await tighten(dataDir, tightened);
  for (const entry of await readdir(dataDir, { withFileTypes: true })) {
    if (entry.isDirectory() || entry.isFile()) await tighten(join(dataDir, entry.name), tightened);
  }
  return tightened;
}

/** Removes group and other bits from a file or folder (symbolic links are left alone: chmod would follow them). */
async function tighten(path: string, out: Tightened[]): Promise<void> {
  let stats;
  try {
    stats = await lstat(path);
  } catch {
    return; // gone meanwhile (a temp file renamed by another process)
  }
  const mode = stats.mode & 0o777;
  if ((mode & ~0o700) === 0 || stats.isSymbolicLink()) return;
  const next = stats.isDirectory() ? 0o700 : mode & 0o700;
  const octal = (m: number) => `0${m.toString(8).padStart(3, "0")}`;
  try {
    await chmod(path, next);
    out.push({ path, was: octal(mode), now: octal(next) });
  } catch {
    out.push({ path, was: octal(mode), now: "unchanged" });
  }
}
