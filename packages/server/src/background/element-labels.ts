// What the elements of a lock list are called: the iTwin.js worker reads their label, class and model from the
// iModel's newest checkpoint, which is kept in a small cache on local disk (a checkpoint file never changes: its key
// names it). Elements created after that checkpoint, or not pushed yet, are not in it and are told apart as such.
import { createHash } from "node:crypto";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { HubError } from "../domain/errors.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { CheckpointRecord } from "../ports/metadata-store.js";

export interface ElementReader {
  describeElements(args: { path: string; ids: readonly string[] }): Promise<{
    elements: {
      id: string;
      className: string;
      label: string | null;
      model: { id: string; className: string | null; label: string | null } | null;
    }[];
    changesetId: string;
  }>;
}

export interface ElementLabelsAnswer {
  /** The checkpoint read: what the labels are as of. */
  asOf: { changesetIndex: number; changesetId: string };
  elements: Awaited<ReturnType<ElementReader["describeElements"]>>["elements"];
  /** Ids the checkpoint does not have (created after it, or not pushed yet). */
  notInCheckpoint: string[];
}

/** Ids asked about at once, at most (a lock list shows this many per briefcase and level). */
export const MAX_DESCRIBED_IDS = 500;
/** Checkpoint files kept on local disk for labels (each iModel's newest, for the iModels looked at last). */
const CACHED_FILES = 4;

export class ElementLabels {
  readonly #downloads = new Map<string, Promise<string>>();
  /** Cached files, least recently used first. */
  readonly #order: string[] = [];

  constructor(
    private readonly options: {
      blobs: Pick<BlobStore, "downloadToFile">;
      reader: ElementReader;
      /** The iModel's newest successful checkpoint, or undefined (also for an iModel that does not exist). */
      latestCheckpoint: (iModelId: string) => Promise<CheckpointRecord | undefined>;
      /** A folder of this process only (removed by the scratch sweep once the process is gone). */
      cacheDir: string;
    },
  ) {}

  async describe(iModelId: string, ids: readonly string[]): Promise<ElementLabelsAnswer> {
    const checkpoint = await this.options.latestCheckpoint(iModelId);
    if (!checkpoint || checkpoint.state !== "successful" || !checkpoint.blobKey)
      throw new HubError("CheckpointNotFound", "Requested Checkpoint is not available.");
    const path = await this.#file(checkpoint.blobKey);
    const { elements } = await this.options.reader.describeElements({ path, ids });
    const found = new Set(elements.map((e) => e.id));
    return {
      asOf: { changesetIndex: checkpoint.changesetIndex, changesetId: checkpoint.changesetId },
      elements,
      notInCheckpoint: ids.filter((id) => !found.has(id)),
    };
  }

  /** The checkpoint's file on local disk, downloaded once (concurrent callers share the download). */
  #file(blobKey: string): Promise<string> {
    const path = join(this.options.cacheDir, `${createHash("sha256").update(blobKey).digest("hex").slice(0, 32)}.bim`);
    let download = this.#downloads.get(path);
    if (!download) {
      download = (async () => {
        await mkdir(this.options.cacheDir, { recursive: true });
        const temp = `${path}.${process.pid}.${Date.now()}.part`;
        try {
          await this.options.blobs.downloadToFile(blobKey, temp);
          await rename(temp, path);
        } catch (err) {
          await rm(temp, { force: true });
          this.#downloads.delete(path);
          throw err;
        }
        return path;
      })();
      this.#downloads.set(path, download);
    }
    this.#touch(path);
    return download;
  }

  #touch(path: string): void {
    const at = this.#order.indexOf(path);
    if (at >= 0) this.#order.splice(at, 1);
    this.#order.push(path);
    while (this.#order.length > CACHED_FILES) {
      const evicted = this.#order.shift()!;
      this.#downloads.delete(evicted);
      for (const file of [evicted, `${evicted}-wal`, `${evicted}-shm`])
        void rm(file, { force: true }).catch(() => undefined);
    }
  }
}
