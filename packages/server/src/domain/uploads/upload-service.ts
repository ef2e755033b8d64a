import type { MetadataStore } from "../../ports/metadata-store.js";
import { parseBlobKey } from "../blob-keys.js";

/**
 * Whether a link may still write a blob. `completed`: the object it was for is complete and immutable; `gone`: the
 * push or iModel it was for no longer exists (expired, taken over, deleted); `notUploadable`: no link may write it.
 */
export type WriteVerdict =
  | { ok: true; /** The size the client declared: a larger upload is refused. */ maxBytes: number }
  | { ok: false; reason: "completed" | "gone" | "notUploadable"; message: string };

/**
 * Decides, for the storage routes, which blobs an upload link may still write. Links only ever name upload keys; an
 * upload key is writable only while the object it is for waits for its file. Everything else (completed
 * changesets, received baselines, checkpoints) is written by the hub alone.
 */
export class UploadService {
  constructor(private readonly store: MetadataStore) {}

  async checkWrite(key: string): Promise<WriteVerdict> {
    const ref = parseBlobKey(key);
    if (ref?.kind === "changesetUpload") {
      const record = await this.store.read((tx) => tx.getChangesetById(ref.iModelId, ref.changesetId));
      if (!record || record.briefcaseId !== ref.briefcaseId) {
        return gone(
          "The push this link was made for is no longer in progress: its reservation expired and was taken over, or its iModel was deleted.",
        );
      }
      if (record.state === "fileUploaded")
        return completed(`Changeset ${record.index} is complete: its file can no longer be changed.`);
      return { ok: true, maxBytes: record.fileSize };
    }
    if (ref?.kind === "baselineUpload") {
      const iModel = await this.store.read((tx) => tx.getIModel(ref.iModelId));
      if (!iModel) return gone("The iModel this link was made for was deleted.");
      if (iModel.baselineState !== "waitingForFile")
        return completed("The iModel's baseline file was already received: it can no longer be changed.");
      return { ok: true, maxBytes: iModel.baselineSize ?? 0 };
    }
    return { ok: false, reason: "notUploadable", message: "This blob is written by the hub only." };
  }
}

function gone(message: string): WriteVerdict {
  return { ok: false, reason: "gone", message };
}

function completed(message: string): WriteVerdict {
  return { ok: false, reason: "completed", message };
}
