// Scratch files of the worker's operations: each writes a temp file beside its output and renames it into place at
// the end, so an output path never holds a half-written file.
import { randomUUID } from "node:crypto";
import { open, rename, rm, stat } from "node:fs/promises";

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function isSqlite(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const header = Buffer.alloc(16);
    const { bytesRead } = await handle.read(header, 0, 16, 0);
    return bytesRead === 16 && header.toString("latin1") === "SQLite format 3\u0000";
  } finally {
    await handle.close();
  }
}

export function tempPath(outputPath: string): string {
  return `${outputPath}.${randomUUID()}.tmp`;
}

/** Renames the finished temp file into place (closing the only connection has already folded the WAL in). */
export async function finish(temp: string, outputPath: string): Promise<number> {
  await rm(`${temp}-wal`, { force: true });
  await rm(`${temp}-shm`, { force: true });
  await rename(temp, outputPath);
  return (await stat(outputPath)).size;
}

export async function discard(temp: string): Promise<void> {
  for (const path of [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]) await rm(path, { force: true });
}
