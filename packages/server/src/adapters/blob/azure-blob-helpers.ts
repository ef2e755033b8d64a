// What the Azure blob store's methods share: key checks, block ids, entity tags, error readings and a concurrency
// limiter for transfers.
import { createHash } from "node:crypto";
import type { BlobItem } from "@azure/storage-blob";
import type { BlobInfo } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";

/** Keys are relative `/`-separated paths, as the fs store accepts them: no empty, `.` or `..` segment, no backslash. */
export function validateKey(key: string): void {
  if (key.length === 0 || key.length > 1024 || key.startsWith("/") || key.includes("\\") || key.includes("\0"))
    throw new Error(`Invalid blob key '${key}'.`);
  if (key.split("/").some((s) => s === "" || s === "." || s === "..")) throw new Error(`Invalid blob key '${key}'.`);
}

export function azureBlockId(blockId: string): string {
  return createHash("sha256").update(blockId).digest("base64");
}

/** The destination of a copy that has not (or not successfully) finished is not a blob yet. */
export function isUnfinishedCopy(copyStatus: string | undefined): boolean {
  return copyStatus !== undefined && copyStatus !== "success";
}

export function infoOfItem(item: BlobItem): BlobInfo {
  return {
    size: item.properties.contentLength ?? 0,
    etag: unquote(item.properties.etag),
    lastModified: item.properties.lastModified,
  };
}

/** Azure quotes its entity tags; the port's are bare (the storage routes quote them). */
export function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"(.*)"$/, "$1");
}

export function quote(etag: string): string {
  return `"${etag}"`;
}

export function aborted(): BlobStoreError {
  return new BlobStoreError("Aborted", "The write was aborted.");
}

export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export function errorCode(err: unknown): string | undefined {
  return (
    (err as { code?: string; details?: { errorCode?: string } }).details?.errorCode ?? (err as { code?: string }).code
  );
}

/** Runs at most `limit` tasks at once; the first failure is thrown by the next `run` or by `drain`. */
export class Limiter {
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  async run(task: () => Promise<unknown>): Promise<void> {
    this.#throwIfFailed();
    while (this.#running.size >= this.limit) {
      await Promise.race(this.#running);
      this.#throwIfFailed();
    }
    const running: Promise<void> = task().then(
      () => void this.#running.delete(running),
      (error: unknown) => {
        this.#running.delete(running);
        this.#failure ??= { error };
      },
    );
    this.#running.add(running);
  }

  async drain(): Promise<void> {
    await Promise.all(this.#running);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
