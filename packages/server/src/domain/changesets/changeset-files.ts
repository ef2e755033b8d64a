import { buffer } from "node:stream/consumers";
import type { BlobStore } from "../../ports/blob-store.js";
import type { ChangesetRecord } from "../../ports/metadata-store.js";
import { blobKeys } from "../blob-keys.js";

/** The largest changeset file a list page carries inline (a modelhub extension, docs/imodels-api.md). */
export const MAX_INLINE_FILE_BYTES = 256 * 1024;
/** The most bytes of files one list page carries inline, whatever the client asks for. */
export const MAX_INLINE_PAGE_BYTES = 4 * 1024 * 1024;

/**
 * The files of a page of changesets, for a client that asked for them with the page (a pull of small changesets in
 * one request instead of one download each). Only completed changesets; the page's first ones in order, up to
 * `maxBytes` in all, each at most MAX_INLINE_FILE_BYTES: the rest the client downloads through their links. Only
 * from a store on this machine's disk (a small file is read in microseconds): from a remote store (Azure) each file
 * would be a round trip of the hub's, one after the other, where the client downloads eight at a time.
 */
export class ChangesetFiles {
  constructor(private readonly blobs: BlobStore) {}

  async firstOf(records: readonly ChangesetRecord[], maxBytes: number): Promise<Map<string, Buffer>> {
    const files = new Map<string, Buffer>();
    if (!this.blobs.localPath) return files;
    let total = 0;
    const budget = Math.min(maxBytes, MAX_INLINE_PAGE_BYTES);
    for (const r of records) {
      if (r.state !== "fileUploaded" || r.fileSize > MAX_INLINE_FILE_BYTES || total + r.fileSize > budget) break;
      const blob = await this.blobs.get(blobKeys.changeset(r.iModelId, r.id));
      if (!blob) break;
      const bytes = await buffer(blob.stream);
      if (bytes.length !== r.fileSize) break; // not what the changeset says: the client downloads it and sees
      files.set(r.id, bytes);
      total += bytes.length;
    }
    return files;
  }
}
