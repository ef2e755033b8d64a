// Files to and from the storage links the API hands out (`_links.upload`, `_links.download`): Azure Put Blob and
// ranged GETs, which modelhub's storage routes and Azure Blob Storage both speak.
import { createReadStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { errorOfResponse } from "./errors.js";
import type { FetchLike, RetryEvent, RetryOptions, Transport } from "./http.js";
import { fetchTransport, retryPolicyOf, sendWithRetry } from "./http.js";

/** Called as bytes go: `total` is undefined until the size is known. */
export type ProgressCallback = (transferred: number, total: number | undefined) => void;

export interface TransferOptions {
  onProgress?: ProgressCallback;
  retry?: RetryOptions;
  onRetry?: (event: RetryEvent) => void;
  /** How requests are sent (default: fetch). */
  transport?: Transport;
  /** Another fetch for the default transport; ignored when `transport` is given. */
  fetch?: FetchLike;
}

function sending(options: TransferOptions) {
  return {
    transport: options.transport ?? fetchTransport(options.fetch),
    policy: retryPolicyOf(options.retry),
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  };
}

/** Uploads a file in one Put Blob request; a retry (503 ServerBusy, 429) sends the file again from its start. */
export async function uploadFile(href: string, path: string, options: TransferOptions = {}): Promise<void> {
  const size = (await stat(path)).size;
  const { transport, ...send } = sending(options);
  const response = await sendWithRetry(
    transport,
    () => ({
      method: "PUT",
      url: href,
      headers: {
        "x-ms-blob-type": "BlockBlob",
        "content-type": "application/octet-stream",
        "content-length": String(size),
      },
      body: countingStream(path, size, options.onProgress),
    }),
    send,
  );
  const text = await response.text();
  if (response.status !== 201 && response.status !== 200)
    throw errorOfResponse(response.status, text, "The upload was refused.");
  options.onProgress?.(size, size);
}

async function* countingStream(
  path: string,
  size: number,
  onProgress: ProgressCallback | undefined,
): AsyncGenerator<Uint8Array> {
  let sent = 0;
  onProgress?.(0, size);
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    yield chunk;
    sent += chunk.length;
    onProgress?.(sent, size);
  }
}

/** Bytes per ranged GET: a failed range is asked again, not the whole file. */
export const DOWNLOAD_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Downloads `href` to `path` in ranged GETs (each retried on its own), into `path.part` renamed when complete, so a
 * half-downloaded file never carries the final name. Returns the size. `expectedSize`, when given, must match.
 */
export async function downloadFile(
  href: string,
  path: string,
  options: TransferOptions & { expectedSize?: number; chunkBytes?: number } = {},
): Promise<number> {
  const { transport, ...send } = sending(options);
  const chunk = options.chunkBytes ?? DOWNLOAD_CHUNK_BYTES;
  const partial = `${path}.part`;
  const file = await open(partial, "w");
  let done = 0;
  let total: number | undefined = options.expectedSize;
  try {
    options.onProgress?.(0, total);
    while (total === undefined || done < total) {
      const end = done + chunk - 1;
      const response = await sendWithRetry(
        transport,
        () => ({
          method: "GET",
          url: href,
          headers: { "x-ms-range": `bytes=${done}-${end}`, range: `bytes=${done}-${end}` },
        }),
        send,
      );
      if (response.status === 416 && done === 0) {
        // An empty blob has no byte 0.
        total = 0;
        await response.discard();
        break;
      }
      if (response.status !== 206 && response.status !== 200)
        throw errorOfResponse(response.status, await response.text(), "The download was refused.");
      const whole = response.status === 200;
      if (whole) {
        // The server ignored the range: this answer is the whole file.
        if (done > 0) throw new Error(`${href} stopped honouring ranges at byte ${done}`);
        const length = response.header("content-length");
        if (length !== null) total = Number(length);
      } else {
        const size = /\/(\d+)\s*$/.exec(response.header("content-range") ?? "")?.[1];
        if (size === undefined) throw new Error(`${href} answered 206 without a content-range`);
        if (options.expectedSize !== undefined && Number(size) !== options.expectedSize) {
          throw new Error(`the file is ${size} bytes, not the ${options.expectedSize} the hub's record says`);
        }
        total = Number(size);
      }
      for await (const bytes of response.stream()) {
        await file.write(bytes, 0, bytes.length, done);
        done += bytes.length;
        options.onProgress?.(done, total);
      }
      if (whole) {
        total ??= done;
        break;
      }
    }
    if (done !== total) throw new Error(`the download ended at byte ${done} of ${total}`);
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(partial, { force: true });
    throw err;
  }
  await file.close();
  await rename(partial, path);
  return done;
}
