import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { retryDelayMs } from "@modelhub/client";
import type { AccessLogger, RetryPolicy } from "./hub-calls.js";
import { clientPolicyOf, isTransient, retryLine, sleep } from "./hub-calls.js";
import { header, isOk, readBody, send } from "./http-transport.js";

/** How transfers are retried: the one policy's numbers, and where their retries are logged. */
export interface Retrying {
  policy: RetryPolicy;
  logger: AccessLogger;
}

/** Waits before retry `attempt` (1-based) by the client's policy (`retry-after` when given), logging `reason`. */
async function backoff(
  retry: Retrying,
  attempt: number,
  reason: string,
  retryAfter: string | null = null,
): Promise<void> {
  const delayMs = retryDelayMs(clientPolicyOf(retry.policy), attempt, retryAfter);
  retry.logger.warn(retryLine(reason, attempt, retry.policy.maxRetries, delayMs));
  await sleep(delayMs);
}

/** Thrown when a progress callback asked to stop. */
export class TransferAborted extends Error {
  constructor() {
    super("AbortError: the download was cancelled by its progress callback.");
    this.name = "AbortError";
  }
}

/**
 * Files up to this size travel as one buffer instead of a stream: most changesets are small, and a push or pull
 * of many of them is bound by the per-file cost, not by bytes.
 */
export const SMALL_FILE_BYTES = 1024 * 1024;

/** Uploads a local file of `size` bytes (the size the hub was told) to a storage link (Azure Put Blob); retried from the start on failure. */
export async function uploadFile(
  url: string,
  path: string,
  size: number,
  retry: Retrying,
  wholeFileLimit = SMALL_FILE_BYTES,
): Promise<void> {
  // Synchronous on purpose: a small read takes microseconds, and the async version waits in libuv's thread pool
  // behind whatever iTwin.js's native code queued there.
  const whole = size <= wholeFileLimit ? readFileSync(path) : undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await send(url, {
        method: "PUT",
        headers: {
          "x-ms-blob-type": "BlockBlob",
          "content-type": "application/octet-stream",
          "content-length": String(size),
        },
        body: whole ?? createReadStream(path),
      });
      await readBody(response);
      const status = response.statusCode ?? 0;
      if (status === 201 || status === 200) return;
      if (!isTransient(status)) throw new Error(`upload refused: HTTP ${status}`);
      if (attempt >= retry.policy.maxRetries) throw new Error(`upload failed: HTTP ${status}`);
      await backoff(retry, attempt + 1, `upload: HTTP ${status}`, header(response, "retry-after"));
    } catch (err) {
      if (attempt >= retry.policy.maxRetries || (err as Error).message.startsWith("upload refused")) throw err;
      await backoff(retry, attempt + 1, `upload: ${(err as Error).message}`);
    }
  }
}

/**
 * Downloads a storage link to `path`: streamed to `path.part`, resumed with a range request after a broken
 * connection, checked against `expectedSize`, then renamed. A file already at `path` with that size is kept.
 * `onBytes` sees the newly downloaded bytes (never the same byte twice, so progress stays monotonic across
 * resumes and restarts); returning true from it aborts with `TransferAborted`. After a failed attempt,
 * `refresh` (if given) supplies a new link for the same file, e.g. because signed links expire. A file of at most
 * `wholeFileLimit` bytes is received in one piece and fetched again from the start if that fails (cheaper than a
 * resume for small files).
 */
export async function downloadFile(
  url: string,
  path: string,
  expectedSize: number | undefined,
  retry: Retrying,
  onBytes?: (bytes: number) => boolean,
  refresh?: () => Promise<string>,
  wholeFileLimit = SMALL_FILE_BYTES,
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
  let aborted = false;
  let reported = 0;
  const report = (position: number): boolean => {
    if (position <= reported) return false;
    const fresh = position - reported;
    reported = position;
    return onBytes?.(fresh) ?? false;
  };
  for (let attempt = 0; ; attempt++) {
    // The first attempt writes the part file from scratch (whatever an older run left is truncated); a retry
    // resumes from what the failed attempt wrote.
    let have = 0;
    if (attempt > 0) {
      have = (await stat(part).catch(() => undefined))?.size ?? 0;
      if (expectedSize !== undefined && have > expectedSize) {
        await rm(part, { force: true });
        have = 0;
      }
    }
    try {
      let size = have;
      if (expectedSize === undefined || have < expectedSize) {
        const response = await send(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
        const status = response.statusCode ?? 0;
        if (!isOk(response)) {
          response.resume();
          if (!isTransient(status)) throw new Error(`download refused: HTTP ${status}`);
          throw new Error(`download failed: HTTP ${status}`);
        }
        let position = have > 0 && status === 206 ? have : 0;
        if (position === 0 && expectedSize !== undefined && expectedSize <= wholeFileLimit) {
          const bytes = await readBody(response);
          position = bytes.length;
          if (report(position)) {
            aborted = true;
            throw new TransferAborted();
          }
          await writeFile(part, bytes);
        } else {
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
          await pipeline(response, counter, createWriteStream(part, { flags: position > 0 ? "a" : "w" }));
        }
        size = position;
      }
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
      if (attempt >= retry.policy.maxRetries || (refused && !refresh)) {
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

/**
 * A file whose bytes arrived another way (inline in a list's answer), written as `downloadFile` writes a download:
 * a file already there with the right size is kept, else a part file renamed over the name (never half a file).
 */
export async function writeWholeFile(path: string, bytes: Buffer, onBytes?: (bytes: number) => boolean): Promise<void> {
  if (onBytes?.(bytes.length)) throw new TransferAborted();
  if ((await stat(path).catch(() => undefined))?.size === bytes.length) return;
  await mkdir(dirname(path), { recursive: true });
  const part = `${path}.part`;
  try {
    await writeFile(part, bytes);
    await rename(part, path);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
}

/** Runs `tasks` with at most `limit` at a time; the first failure rejects (the others finish). */
export async function runLimited<T>(
  limit: number,
  items: readonly T[],
  task: (item: T) => Promise<void>,
): Promise<void> {
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
