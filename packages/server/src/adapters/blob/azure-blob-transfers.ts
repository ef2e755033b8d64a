// The Azure blob store's transfers of whole blobs: a stream put in one Put Blob or in blocks, and one version of a
// blob downloaded to a local file in parallel ranges.
import { randomBytes } from "node:crypto";
import { open, rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { BlockBlobClient } from "@azure/storage-blob";
import type { BlobInfo } from "../../ports/blob-store.js";
import { Limiter, azureBlockId, quote, unquote } from "./azure-blob-helpers.js";

/** Size of the blocks a large put, upload or download is cut into. */
export const BLOCK_BYTES = 8 * 1024 * 1024;
/** Blocks in flight at once per transfer. */
export const TRANSFER_CONCURRENCY = 4;

/** One Put Blob for what fits in one block; otherwise blocks staged in parallel while the data arrives, then committed. */
export async function uploadStream(
  blob: BlockBlobClient,
  data: Readable,
  signal: AbortSignal | undefined,
): Promise<BlobInfo> {
  const batch = randomBytes(16).toString("hex");
  const blockIds: string[] = [];
  const staging = new Limiter(TRANSFER_CONCURRENCY);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let size = 0;
  const stage = async (bytes: Buffer) => {
    const id = azureBlockId(`${batch}:${blockIds.length}`);
    blockIds.push(id);
    await staging.run(() => blob.stageBlock(id, bytes, bytes.length, { abortSignal: signal }));
  };
  for await (const chunk of data) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    pending.push(buffer);
    pendingBytes += buffer.length;
    size += buffer.length;
    while (pendingBytes >= BLOCK_BYTES) {
      const all = Buffer.concat(pending);
      pending = [all.subarray(BLOCK_BYTES)];
      pendingBytes = all.length - BLOCK_BYTES;
      await stage(all.subarray(0, BLOCK_BYTES));
    }
  }
  const rest = Buffer.concat(pending);
  if (blockIds.length === 0) {
    const response = await blob.upload(rest, rest.length, { abortSignal: signal });
    return { size, etag: unquote(response.etag), lastModified: response.lastModified! };
  }
  if (rest.length > 0) await stage(rest);
  await staging.drain();
  const response = await blob.commitBlockList(blockIds, { abortSignal: signal });
  return { size, etag: unquote(response.etag), lastModified: response.lastModified! };
}

/** The version of `key` that `info` describes, to a local file (412 once the blob changed); none left on failure. */
export async function downloadVersion(blob: BlockBlobClient, info: BlobInfo, localPath: string): Promise<void> {
  const file = await open(localPath, "w");
  try {
    const reading = new Limiter(TRANSFER_CONCURRENCY);
    for (let offset = 0; offset < info.size; offset += BLOCK_BYTES) {
      const count = Math.min(BLOCK_BYTES, info.size - offset);
      await reading.run(async () => {
        const bytes = await blob.downloadToBuffer(offset, count, {
          conditions: { ifMatch: quote(info.etag) },
          blockSize: count,
          concurrency: 1,
        });
        await file.write(bytes, 0, bytes.length, offset);
      });
    }
    await reading.drain();
    await file.close();
  } catch (err) {
    await file.close().catch(() => undefined);
    await rm(localPath, { force: true });
    throw err;
  }
}
