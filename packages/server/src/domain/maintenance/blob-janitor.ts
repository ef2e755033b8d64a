import type { BlobStore } from "../../ports/blob-store.js";
import type { MetadataStore } from "../../ports/metadata-store.js";
import type { Clock } from "../context.js";
import { parseBlobKey } from "../blob-keys.js";
import { whyUnreferenced } from "./blob-references.js";

export interface Orphan {
  key: string;
  size: number;
  lastModified: Date;
  /** Why nothing needs it. */
  reason: string;
}

/** Blocks staged for a key and never committed that nothing will commit any more. */
export interface StagedOrphan {
  /** The file they were staged for (undefined: staged by a hub that did not record it). */
  key: string | undefined;
  blocks: number;
  bytes: number;
  lastModified: Date;
  reason: string;
}

export interface OrphanReport {
  /** Blobs looked at. */
  scanned: number;
  orphans: Orphan[];
  /** Orphans deleted (with `repair`). */
  deleted: number;
  deletedBytes: number;
  /** Orphans left because they are younger than the grace period (an operation may still be using them). */
  tooRecent: number;
  /** Sets of staged blocks looked at, those nothing will commit, and how many of those were deleted (with `repair`). */
  stagedScanned: number;
  staged: StagedOrphan[];
  stagedDeleted: number;
  stagedBytesDeleted: number;
  stagedTooRecent: number;
}

/**
 * Deletes files nothing refers to: those the deletion outbox names (deleted iModels, pruned checkpoints), and
 * orphans found by scanning the store (left by a crash between a file write and the metadata commit, or by
 * versions that deleted without the outbox). Never deletes while a deletion hold (a backup) is live.
 */
export class BlobJanitor {
  #draining: Promise<number> | undefined;
  #again = false;

  constructor(
    private readonly store: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
  ) {}

  /**
   * Starts a drain without waiting for it, e.g. after a commit that put files in the outbox. A failure leaves the
   * entries in the outbox: the periodic sweep tries again.
   */
  drainSoon(): void {
    this.drain().catch(() => undefined);
  }

  /**
   * Deletes what the outbox names; returns how many entries were done. Calls made while one runs are folded into
   * one more pass after it, so a burst of deletes costs at most two.
   */
  drain(): Promise<number> {
    if (this.#draining) {
      this.#again = true;
      return this.#draining;
    }
    const run = async (): Promise<number> => {
      let done = 0;
      try {
        do {
          this.#again = false;
          done += await this.#drainOnce();
        } while (this.#again);
      } finally {
        this.#draining = undefined;
      }
      return done;
    };
    this.#draining = run();
    return this.#draining;
  }

  async #drainOnce(): Promise<number> {
    let done = 0;
    for (;;) {
      // Checked before each batch: a backup that starts afterwards copied metadata that no longer names these.
      const batch = await this.store.read(async (tx) =>
        (await tx.hasLiveDeletionHold(this.clock.now().getTime())) ? [] : tx.listBlobDeletions(100),
      );
      if (batch.length === 0) return done;
      for (const key of batch) {
        if (key.endsWith("/")) await this.blobs.deletePrefix(key);
        else await this.blobs.delete(key);
        await this.store.transaction((tx) => tx.forgetBlobDeletion(key));
        done++;
      }
    }
  }

  /**
   * Scans every blob under `prefix` and reports those nothing refers to; with `repair`, deletes the ones last
   * written before `olderThan` (younger ones may belong to an operation in progress) — unless a deletion hold is
   * live, in which case nothing is deleted.
   */
  async findOrphans(options: { prefix?: string; olderThan: Date; repair: boolean }): Promise<OrphanReport> {
    const report: OrphanReport = {
      scanned: 0,
      orphans: [],
      deleted: 0,
      deletedBytes: 0,
      tooRecent: 0,
      stagedScanned: 0,
      staged: [],
      stagedDeleted: 0,
      stagedBytesDeleted: 0,
      stagedTooRecent: 0,
    };
    await this.#findStagedOrphans(options, report);
    for await (const { key, info } of this.blobs.list(options.prefix ?? "files/")) {
      report.scanned++;
      const reason = await this.store.read((tx) => whyUnreferenced(tx, key));
      if (!reason) continue;
      report.orphans.push({ key, size: info.size, lastModified: info.lastModified, reason });
      if (info.lastModified >= options.olderThan) {
        report.tooRecent++;
        continue;
      }
      if (!options.repair) continue;
      const held = await this.store.read((tx) => tx.hasLiveDeletionHold(this.clock.now().getTime()));
      if (held) continue;
      // Looked at again right before deleting: the operation it was left by may have finished meanwhile.
      if (!(await this.store.read((tx) => whyUnreferenced(tx, key)))) continue;
      await this.blobs.delete(key);
      report.deleted++;
      report.deletedBytes += info.size;
    }
    return report;
  }

  /**
   * Blocks staged and never committed (stores that keep them: fs) are left-overs unless they belong to an upload
   * still waiting for its file: an upload link can stage them only then, and a completion, a deletion or the iModel's
   * deletion drops them. These are the ones a crash, a client that gave up, or an older hub left.
   */
  async #findStagedOrphans(
    options: { prefix?: string; olderThan: Date; repair: boolean },
    report: OrphanReport,
  ): Promise<void> {
    if (!this.blobs.listStaged || !this.blobs.deleteStaged) return;
    for await (const staged of this.blobs.listStaged(options.prefix ?? "files/")) {
      report.stagedScanned++;
      const reason = await this.#whyStagedUnused(staged.key);
      if (!reason) continue;
      report.staged.push({
        key: staged.key,
        blocks: staged.blocks,
        bytes: staged.bytes,
        lastModified: staged.lastModified,
        reason,
      });
      if (staged.lastModified >= options.olderThan) {
        report.stagedTooRecent++;
        continue;
      }
      if (!options.repair) continue;
      if (await this.store.read((tx) => tx.hasLiveDeletionHold(this.clock.now().getTime()))) continue;
      // Looked at again right before deleting: a push may have been started again meanwhile.
      if (!(await this.#whyStagedUnused(staged.key))) continue;
      await this.blobs.deleteStaged(staged);
      report.stagedDeleted++;
      report.stagedBytesDeleted += staged.bytes;
    }
  }

  async #whyStagedUnused(key: string | undefined): Promise<string | undefined> {
    if (key === undefined) return "blocks staged by an earlier hub, for a file it did not record";
    const kind = parseBlobKey(key)?.kind;
    const unreferenced = await this.store.read((tx) => whyUnreferenced(tx, key));
    if (unreferenced) return unreferenced;
    return kind === "changesetUpload" || kind === "baselineUpload"
      ? undefined
      : "blocks staged for a file no link writes";
  }
}
