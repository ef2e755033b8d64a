// What the hub's files take in the blob store, per iModel and in all: measured by listing the store itself (not by
// adding up sizes the metadata says), so files the hub still has to delete, uploads in progress and checkpoints
// made on request count as they do on the disk or the bill. For administrators (GET /admin/storage).
import type { BlobStore } from "../../ports/blob-store.js";
import { parseBlobKey } from "../blob-keys.js";

/** Bytes (and files) of one kind. */
export interface Usage {
  bytes: number;
  files: number;
}

export interface IModelStorageUse {
  iModelId: string;
  baseline: Usage;
  changesets: Usage;
  checkpoints: Usage;
  /** Uploads not completed yet (pushes in progress, abandoned ones until the sweep removes them). */
  uploads: Usage;
  /** Thumbnails and anything else under the iModel's prefix. */
  other: Usage;
  total: Usage;
}

export interface StorageUse {
  iModels: IModelStorageUse[];
  /** Every file of the hub's prefix, also those of no iModel. */
  total: Usage;
  measuredAt: string;
}

const ROOT = "files/";

export async function measureStorage(blobs: BlobStore, now: Date = new Date()): Promise<StorageUse> {
  const byIModel = new Map<string, IModelStorageUse>();
  const total: Usage = { bytes: 0, files: 0 };
  for await (const { key, info } of blobs.list(ROOT)) {
    add(total, info.size);
    const iModelId = key.slice(ROOT.length).split("/")[0];
    if (!iModelId) continue;
    let use = byIModel.get(iModelId);
    if (!use) byIModel.set(iModelId, (use = emptyUse(iModelId)));
    add(use.total, info.size);
    add(use[categoryOf(key)], info.size);
  }
  const iModels = [...byIModel.values()].sort(
    (a, b) => b.total.bytes - a.total.bytes || a.iModelId.localeCompare(b.iModelId),
  );
  return { iModels, total, measuredAt: now.toISOString() };
}

function categoryOf(key: string): "baseline" | "changesets" | "checkpoints" | "uploads" | "other" {
  const ref = parseBlobKey(key);
  switch (ref?.kind) {
    case "changeset":
      return "changesets";
    case "checkpoint":
      return "checkpoints";
    case "changesetUpload":
    case "baselineUpload":
      return "uploads";
    case "baselineReceived":
      return "baseline";
    default:
      return "other";
  }
}

function emptyUse(iModelId: string): IModelStorageUse {
  const zero = (): Usage => ({ bytes: 0, files: 0 });
  return {
    iModelId,
    baseline: zero(),
    changesets: zero(),
    checkpoints: zero(),
    uploads: zero(),
    other: zero(),
    total: zero(),
  };
}

function add(usage: Usage, bytes: number): void {
  usage.bytes += bytes;
  usage.files += 1;
}
