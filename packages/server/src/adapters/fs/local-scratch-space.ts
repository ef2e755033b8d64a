import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ScratchSpace } from "../../ports/scratch-space.js";

/**
 * Scratch directories under the hub's `tmp` folder, named `<purpose>-<pid>-<random>`: the maintenance sweep
 * (app/maintenance.ts) removes those of processes that are gone, so a crash mid-job leaves nothing for good.
 */
export class LocalScratchSpace implements ScratchSpace {
  /** One directory per purpose for `withFile`, made once and kept while the process runs (the sweep removes it after). */
  readonly #fileDirs = new Map<string, Promise<string>>();
  #files = 0;

  constructor(private readonly root: string) {}

  async withFile<T>(purpose: string, name: string, fn: (path: string) => Promise<T>): Promise<T> {
    let dir = this.#fileDirs.get(purpose);
    if (!dir) {
      dir = this.#makeDirectory(purpose);
      dir.catch(() => this.#fileDirs.delete(purpose));
      this.#fileDirs.set(purpose, dir);
    }
    const path = join(await dir, `${++this.#files}-${name.replace(/[^\w.-]/g, "_")}`);
    try {
      return await fn(path);
    } finally {
      await rm(path, { force: true });
    }
  }

  async withDirectory<T>(purpose: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await this.#makeDirectory(purpose);
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async #makeDirectory(purpose: string): Promise<string> {
    const prefix = join(this.root, `${purpose.toLowerCase().replace(/[^a-z]/g, "") || "work"}-${process.pid}-`);
    try {
      // The root is there but once: each file-system call counts on a hot path.
      return await mkdtemp(prefix);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await mkdir(this.root, { recursive: true });
      return mkdtemp(prefix);
    }
  }
}
