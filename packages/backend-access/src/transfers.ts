import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { RetryPolicy } from "./http-client.js";
import { backoff } from "./http-client.js";

/** Thrown when a progress callback asked to stop. */
export class TransferAborted extends Error {
  constructor() {
    super("AbortError: the download was cancelled by its progress callback.");
    this.name = "AbortError";
  }
}

/** Uploads a local file to a storage link (Azure Put Blob), streamed; retried from the start on failure. */
export async function uploadFile(url: string, path: string, retry: RetryPolicy): Promise<void> {
  const size = (await stat(path)).size;
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(url, {
        method: "PUT",
        headers: { "x-ms-blob-type": "BlockBlob", "content-type": "application/octet-stream", "content-length": String(size) },
        body: Readable.toWeb(createReadStream(path)) as ReadableStream,
        duplex: "half",
      } as RequestInit);
      await response.arrayBuffer();
      if (response.status === 201 || response.status === 200) return;
      if (response.status < 500 && response.status !== 429) throw new Error(`upload refused: HTTP ${response.status}`);
      if (attempt >= retry.maxRetries) throw new Error(`upload failed: HTTP ${response.status}`);
      await backoff(retry, attempt + 1, `upload: HTTP ${response.status}`, response.headers.get("retry-after"));
    } catch (err) {
      if (attempt >= retry.maxRetries || (err as Error).message.startsWith("upload refused")) throw err;
      await backoff(retry, attempt + 1, `upload: ${(err as Error).message}`);
    }
  }
}

/**
 * Downloads a storage link to `path`: streamed to `path.part`, resumed with a range request after a broken
 * connection, checked against `expectedSize`, then renamed. A file already at `path` with that size is kept.
 * `onBytes` sees the newly downloaded bytes (never the same byte twice, so progress stays monotonic across
 * resumes and restarts); returning true from it aborts with `TransferAborted`. After a failed attempt,
 * `refresh` (if given) supplies a new link for the same file, e.g. because signed links expire.
 */
export async function downloadFile(
  url: string,
  path: string,
  expectedSize: number | undefined,
  retry: RetryPolicy,
  onBytes?: (bytes: number) => boolean,
  refresh?: () => Promise<string>,
): Promise<void> {
  if (expectedSize !== undefined) {
    const existing = await stat(path).catch(() => undefined);
    if (existing?.size === expectedSize) {
      if (onBytes?.(expectedSize)) throw new TransferAborted();
      return;
    }
  }
  await mkdir(dirname(path), { recursive: true });
  const part = `${path}.part`;
  await rm(part, { force: true });
  let aborted = false;
  let reported = 0;
  const report = (position: number): boolean => {
    if (position <= reported) return false;
    const fresh = position - reported;
    reported = position;
    return onBytes?.(fresh) ?? false;
  };
  for (let attempt = 0; ; attempt++) {
    let have = (await stat(part).catch(() => undefined))?.size ?? 0;
    if (expectedSize !== undefined && have > expectedSize) {
      await rm(part, { force: true });
      have = 0;
    }
    try {
      if (expectedSize === undefined || have < expectedSize) {
        const response = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
        if (!response.ok || !response.body) {
          await response.arrayBuffer().catch(() => undefined);
          if (response.status < 500 && response.status !== 429) throw new Error(`download refused: HTTP ${response.status}`);
          throw new Error(`download failed: HTTP ${response.status}`);
        }
        let position = have > 0 && response.status === 206 ? have : 0;
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            position += chunk.length;
            if (report(position)) {
              aborted = true;
              done(new TransferAborted());
              return;
            }
            done(null, chunk);
          },
        });
        await pipeline(Readable.fromWeb(response.body as never), counter, createWriteStream(part, { flags: position > 0 ? "a" : "w" }));
      }
      const size = (await stat(part)).size;
      if (expectedSize !== undefined && size !== expectedSize) {
        // The answer ended normally with the wrong length: its bytes cannot be trusted, start again.
        await rm(part, { force: true });
        throw new Error(`downloaded ${size} bytes, expected ${expectedSize}`);
      }
      await rename(part, path);
      return;
    } catch (err) {
      if (aborted || err instanceof TransferAborted) {
        await rm(part, { force: true });
        throw new TransferAborted();
      }
      const refused = (err as Error).message.startsWith("download refused");
      if (attempt >= retry.maxRetries || (refused && !refresh)) {
        await rm(part, { force: true });
        throw new Error(`Cannot download ${url.split("?")[0]}: ${(err as Error).message}`);
      }
      await backoff(retry, attempt + 1, `download of ${url.split("?")[0]}: ${(err as Error).message}`);
      if (refresh) {
        try {
          url = await refresh();
        } catch (refreshError) {
          await rm(part, { force: true });
          throw refreshError;
        }
      }
    }
  }
}

/** Runs `tasks` with at most `limit` at a time; the first failure rejects (the others finish). */
export async function runLimited<T>(limit: number, items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (err) {
        failure ??= err;
      }
    }
  });
  await Promise.all(workers);
  if (failure !== undefined) throw failure;
}
