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
    await mkdir(this.root, { recursive: true });
    const dir = await mkdtemp(
      join(this.root, `${purpose.toLowerCase().replace(/[^a-z]/g, "") || "work"}-${process.pid}-`),
    );
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
