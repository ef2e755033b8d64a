import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { BlobJanitor } from "../domain/maintenance/blob-janitor.js";
import type { BlobStore } from "../ports/blob-store.js";
import { isProcessAlive } from "../util/process-alive.js";

export interface MaintenanceOptions {
  /** How often temp files, scratch folders and the deletion outbox are swept. */
  sweepIntervalMs: number;
  /** How often the whole store is scanned for orphans (0 = never; `modelhub doctor` does it by hand). */
  orphanScanIntervalMs: number;
  /** Orphans younger than this are left alone: an operation may still be about to refer to them. */
  orphanGraceMs: number;
  /** The jobs' scratch folder: entries named `<kind>-<pid>-…` whose process is gone are removed. */
  scratchDir: string;
  /** Removes audit entries past their retention; returns how many (see --audit-retention-days). */
  pruneAudit?: () => Promise<number>;
  log: (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
}

/**
 * The hub's housekeeping, so that nothing is left that nothing will ever delete: at start and then every sweep
 * interval, the blob store's left-overs (temp files of dead writers), the jobs' scratch folders of dead processes
 * and the deletion outbox; every orphan-scan interval, files no record refers to.
 */
export class Maintenance {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastOrphanScan = 0;

  constructor(
    private readonly blobs: BlobStore,
    private readonly janitor: BlobJanitor,
    private readonly options: MaintenanceOptions,
  ) {}

  start(): void {
    if (this.#timer) return;
    void this.runOnce();
    this.#timer = setInterval(() => void this.runOnce(), this.options.sweepIntervalMs);
    this.#timer.unref();
  }

  /** One pass (a pass already running is waited for instead of started twice). */
  runOnce(): Promise<void> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #pass(): Promise<void> {
    const step = async (name: string, fn: () => Promise<Record<string, unknown> | undefined>) => {
      try {
        const result = await fn();
        if (result) this.options.log("info", `maintenance: ${name}`, result);
      } catch (err) {
        this.options.log("error", `maintenance: ${name} failed`, { err: String(err) });
      }
    };
    await step("left-overs removed", async () => {
      const swept = await this.blobs.sweepLeftovers?.();
      return swept && swept.files > 0 ? swept : undefined;
    });
    await step("scratch folders removed", async () => {
      const removed = await sweepScratch(this.options.scratchDir);
      return removed > 0 ? { folders: removed } : undefined;
    });
    await step("deleted files", async () => {
      const done = await this.janitor.drain();
      return done > 0 ? { outboxEntries: done } : undefined;
    });
    const pruneAudit = this.options.pruneAudit;
    if (pruneAudit) {
      await step("audit entries past their retention removed", async () => {
        const removed = await pruneAudit();
        return removed > 0 ? { entries: removed } : undefined;
      });
    }
    const now = Date.now();
    if (this.options.orphanScanIntervalMs > 0 && now - this.#lastOrphanScan >= this.options.orphanScanIntervalMs) {
      this.#lastOrphanScan = now;
      await step("orphans deleted", async () => {
        const report = await this.janitor.findOrphans({
          olderThan: new Date(now - this.options.orphanGraceMs),
          repair: true,
        });
        return report.deleted + report.stagedDeleted > 0
          ? {
              scanned: report.scanned,
              deleted: report.deleted,
              bytes: report.deletedBytes,
              stagedSetsDeleted: report.stagedDeleted,
              stagedBytes: report.stagedBytesDeleted,
            }
          : undefined;
      });
    }
  }
}

/** Removes (or with `dryRun` counts) scratch entries (`baseline-<pid>-…`) of processes that no longer run. */
export async function sweepScratch(dir: string, dryRun = false): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const pid = /^[a-z]+-(\d+)-/.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isProcessAlive(Number(pid))) continue;
    if (!(await stat(join(dir, name)).catch(() => undefined))) continue;
    if (!dryRun) await rm(join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
