import { join } from "node:path";
import type { BlobSpec, MetadataSpec } from "../adapters/registry.js";
import { DEFAULT_BLOB_SPEC, DEFAULT_METADATA_SPEC, openBlobStore, openMetadataStore } from "../adapters/registry.js";
import { sweepScratch } from "../background/maintenance.js";
import { systemClock } from "../domain/context.js";
import type { Orphan, StagedOrphan } from "../domain/maintenance/blob-janitor.js";
import { BlobJanitor } from "../domain/maintenance/blob-janitor.js";

export interface DoctorReport {
  dataDir: string;
  repaired: boolean;
  /** Temp files of writers that are gone (interrupted uploads). */
  leftovers: { files: number; bytes: number };
  /** Jobs' scratch folders of processes that are gone. */
  scratchFolders: number;
  /** Deletions waiting in the outbox (done by a running hub within its sweep interval). */
  pendingDeletions: number;
  /** Whether a backup currently holds deletions. */
  deletionsHeld: boolean;
  blobsScanned: number;
  orphans: Orphan[];
  orphansDeleted: number;
  orphanBytesDeleted: number;
  /** Orphans younger than the grace period, left alone. */
  orphansTooRecent: number;
  /** Sets of staged, never committed blocks looked at; those nothing will commit (with why), and what was removed. */
  stagedScanned: number;
  staged: StagedOrphan[];
  stagedDeleted: number;
  stagedBytesDeleted: number;
  stagedTooRecent: number;
}

/**
 * Looks for what nothing will use again in a data directory — interrupted uploads, scratch folders of dead
 * processes, files no record refers to — and with `repair` removes it. Safe while a hub serves the same data: it
 * only removes temp files of dead writers, and orphans older than `graceMs` (checked again right before each delete).
 */
export async function runDoctor(options: {
  dataDir: string;
  repair: boolean;
  graceMs: number;
  metadata?: MetadataSpec;
  blobs?: BlobSpec;
}): Promise<DoctorReport> {
  // The hub's own backends, opened by the registry: the embedded file and folder, PostgreSQL, Azure Blob Storage.
  const { store, close } = await openMetadataStore(options.metadata ?? DEFAULT_METADATA_SPEC, options.dataDir);
  try {
    const blobs = await openBlobStore(options.blobs ?? DEFAULT_BLOB_SPEC, options.dataDir, { sweepOnOpen: false });
    const janitor = new BlobJanitor(store, blobs, systemClock);
    // Stores that keep no temp files of their own (Azure) have none to report.
    const leftovers = (await blobs.sweepLeftovers?.({ dryRun: !options.repair })) ?? { files: 0, bytes: 0 };
    const scratchFolders = await sweepScratch(join(options.dataDir, "tmp"), !options.repair);
    if (options.repair) await janitor.drain();
    const [pendingDeletions, deletionsHeld] = await store.read(
      async (tx) => [(await tx.listBlobDeletions(1_000_000)).length, await tx.hasLiveDeletionHold(Date.now())] as const,
    );
    const scan = await janitor.findOrphans({
      olderThan: new Date(Date.now() - options.graceMs),
      repair: options.repair,
    });
    return {
      dataDir: options.dataDir,
      repaired: options.repair,
      leftovers,
      scratchFolders,
      pendingDeletions,
      deletionsHeld,
      blobsScanned: scan.scanned,
      orphans: scan.orphans,
      orphansDeleted: scan.deleted,
      orphanBytesDeleted: scan.deletedBytes,
      orphansTooRecent: scan.tooRecent,
      stagedScanned: scan.stagedScanned,
      staged: scan.staged,
      stagedDeleted: scan.stagedDeleted,
      stagedBytesDeleted: scan.stagedBytesDeleted,
      stagedTooRecent: scan.stagedTooRecent,
    };
  } finally {
    await close();
  }
}

/** Whether the data directory has something a repair would remove. */
export function needsRepair(report: DoctorReport): boolean {
  const staged = report.staged.length - report.stagedTooRecent - (report.repaired ? report.stagedDeleted : 0);
  if (report.repaired) return report.orphans.length - report.orphansDeleted - report.orphansTooRecent > 0 || staged > 0;
  return (
    report.leftovers.files > 0 ||
    report.scratchFolders > 0 ||
    report.orphans.length - report.orphansTooRecent > 0 ||
    staged > 0
  );
}

/** The report as lines of text (printed escaped: names come from the disk). */
export function doctorLines(report: DoctorReport, graceMinutes: number): string[] {
  const verb = report.repaired ? "removed" : "found";
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const young = (count: number) => (count ? `, ${count} younger than ${graceMinutes} min left alone` : "");
  const stagedBytes = report.staged.reduce((n, s) => n + s.bytes, 0);
  return [
    `data: ${report.dataDir}`,
    `interrupted uploads (temp files of writers that are gone): ${report.leftovers.files} ${verb} (${mb(report.leftovers.bytes)})`,
    `scratch folders of processes that are gone: ${report.scratchFolders} ${verb}`,
    `files scanned: ${report.blobsScanned}; nothing refers to: ${report.orphans.length}${report.repaired ? `, ${report.orphansDeleted} removed (${mb(report.orphanBytesDeleted)})` : ""}${young(report.orphansTooRecent)}`,
    ...report.orphans.map((o) => `  ${o.key} (${o.size} bytes, ${o.lastModified.toISOString()}): ${o.reason}`),
    `staged blocks (never committed): ${report.stagedScanned} sets; nothing will commit: ${report.staged.length} (${mb(stagedBytes)})${report.repaired ? `, ${report.stagedDeleted} removed (${mb(report.stagedBytesDeleted)})` : ""}${young(report.stagedTooRecent)}`,
    ...report.staged.map(
      (s) =>
        `  ${s.key ?? "(unknown file)"}: ${s.blocks} blocks, ${s.bytes} bytes, last ${s.lastModified.toISOString()}: ${s.reason}`,
    ),
    `deletions waiting (a running hub does them within its sweep interval): ${report.pendingDeletions}${report.deletionsHeld ? " — held by a backup in progress" : ""}`,
  ];
}
