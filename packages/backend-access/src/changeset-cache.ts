import type { Stats } from "node:fs";
import { readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * What the changeset downloads of one process share about iTwin.js's changeset cache folders: which file is being
 * written right now (a pull and the prefetcher must not write the same file at once), and which files were already
 * checked against their id (a pull need not hash a file the prefetcher has just hashed).
 */
export class ChangesetCache {
  readonly #busy = new Map<string, Promise<unknown>>();
  readonly #verified = new Map<string, string>();

  /** True while some download writes or checks `path`. */
  isBusy(path: string): boolean {
    return this.#busy.has(path);
  }

  /** Runs `work` once no other work on `path` runs (FIFO per path); the other work's failure is not ours. */
  async exclusive<T>(path: string, work: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(path);
    const mine = (async () => {
      if (before) await before.catch(() => undefined);
      return work();
    })();
    this.#busy.set(path, mine);
    try {
      return await mine;
    } finally {
      if (this.#busy.get(path) === mine) this.#busy.delete(path);
    }
  }

  /** Records that the file at `path`, as `stats` describes it, has the id it is named after. */
  markVerified(path: string, stats: Stats): void {
    this.#verified.delete(path);
    this.#verified.set(path, signature(stats));
    // iTwin.js deletes each file once applied; old entries only cost memory, so the oldest go.
    if (this.#verified.size > MAX_VERIFIED) this.#verified.delete(this.#verified.keys().next().value!);
  }

  /** Whether the file at `path` is the very file that was verified (same size, same modification time). */
  isVerified(path: string, stats: Stats | undefined): boolean {
    return stats !== undefined && this.#verified.get(path) === signature(stats);
  }

  forget(path: string): void {
    this.#verified.delete(path);
  }

  #handedOut = 0;
  readonly #swept = new Set<string>();

  /**
   * Gives the checked file at `path` (`<dir>/<id>.cs`) to one caller under a name of its own
   * (`<dir>/<id>.<pid>-<n>.cs`), by an atomic rename, and returns that name. Call it inside `exclusive(path)`.
   *
   * Why: iTwin.js deletes each changeset file once it has applied it, and keeps one folder per iModel per process.
   * Several briefcases of one iModel pulling in one process would otherwise apply and delete the same `<id>.cs`
   * under each other ("file not found" mid-merge, after which iTwin.js abandons the briefcase's changes). A second
   * caller that wants the same changeset now finds no shared file and downloads its own.
   */
  async handOut(path: string): Promise<string> {
    const own = await this.ownName(path);
    await rename(path, own);
    return own;
  }

  /**
   * A name of its own for one caller's copy of `<dir>/<id>.cs` (as `handOut` gives), for a file the caller writes
   * there itself. Call it inside `exclusive(path)`.
   */
  async ownName(path: string): Promise<string> {
    const dir = dirname(path);
    if (!this.#swept.has(dir)) {
      this.#swept.add(dir);
      await sweepDeadHandOuts(dir);
    }
    this.#verified.delete(path);
    return join(dir, `${basename(path, ".cs")}.${process.pid}-${++this.#handedOut}.cs`);
  }
}

/** Files handed out by processes that are gone (they failed before iTwin.js applied and deleted them). */
async function sweepDeadHandOuts(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = /^[0-9a-f]+\.(\d+)-\d+\.cs$/.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isAlive(Number(pid))) continue;
    await rm(join(dir, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const MAX_VERIFIED = 10_000;

function signature(stats: Stats): string {
  return `${stats.size}:${stats.mtimeMs}:${stats.ino}`;
}

/** One per process: every ModelHubAccess (and its prefetcher) writes into the same iTwin.js cache folders. */
export const changesetCache = new ChangesetCache();
