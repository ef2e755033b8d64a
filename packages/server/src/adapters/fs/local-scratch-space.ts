import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ScratchSpace } from "../../ports/scratch-space.js";

/**
 * Scratch directories under the hub's `tmp` folder, named `<purpose>-<pid>-<random>`: the maintenance sweep
 * (app/maintenance.ts) removes those of processes that are gone, so a crash mid-job leaves nothing for good.
 */
export class LocalScratchSpace implements ScratchSpace {
  constructor(private readonly root: string) {}

  async withDirectory<T>(purpose: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const prefix = join(this.root, `${purpose.toLowerCase().replace(/[^a-z]/g, "") || "work"}-${process.pid}-`);
    let dir: string;
    try {
      // The root is there but once (each file-system call counts: a push's id check on Azure runs in one of these).
      dir = await mkdtemp(prefix);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await mkdir(this.root, { recursive: true });
      dir = await mkdtemp(prefix);
    }
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
