import type { Readable } from "node:stream";

/** What the store knows about one stored blob. */
export interface BlobInfo {
  size: number;
  /** Changes whenever the content changes; quoted as an HTTP entity tag by the storage routes. */
  etag: string;
  lastModified: Date;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/**
 * Where changeset, baseline and checkpoint files live. Keys are `/`-separated relative paths made by the hub
 * (never by a client), e.g. `files/<iModelId>/changesets/<changesetId>.cs`.
 *
 * Contract (test/contract/blob-store.contract.ts runs it against every adapter):
 * - `put` and `commitBlocks` MUST be atomic: a reader sees the old content or the whole new content, never a part.
 *   A write that fails or is aborted MUST leave no blob (or the previous blob) behind.
 * - `get` of a missing key MUST resolve to `undefined`, not throw.
 * - `stat` of a missing key MUST resolve to `undefined`.
 * - `delete` of a missing key MUST succeed.
 * - Staged blocks are invisible until `commitBlocks`; committing with an unknown block id MUST throw
 *   `BlobStoreError("InvalidBlockList")` and change nothing. `stageBlock` with `maxStagedBytes` MUST refuse
 *   (`BlobStoreError("TooLarge")`, keeping nothing of that block) a block that would bring the bytes staged for the
 *   key over it, counting blocks still arriving; a block staged again under its id replaces the old one. Committing,
 *   moving or deleting a key drops what was staged for it, and so does deleting its prefix.
 * - `move` MUST be atomic: afterwards `to` holds exactly the bytes `from` held when it was moved (a write to `from`
 *   that finishes later lands in a new `from`, never in `to`), and `from` is gone. The moved blob's etag is `to`'s
 *   current one: a store that renames keeps `from`'s, one that copies gives a new one (so an etag equal to `from`'s
 *   still proves the same bytes, and a new one only costs a second look).
 * - `copy` MUST be atomic like `put`: afterwards `to` holds exactly the bytes `from` held, `from` is unchanged, and
 *   later writes to either key never show through the other.
 * - `copyToFile` MUST copy like `copy` and write the very bytes it copied to the local file; a blob over `maxBytes`
 *   MUST be refused (`BlobStoreError("TooLarge")`) with nothing copied and no file written.
 * - `list` yields every blob under a prefix, each once, never a temporary or staged part.
 */
export interface BlobStore {
  put(key: string, data: Readable, options?: { signal?: AbortSignal }): Promise<BlobInfo>;
  stageBlock(
    key: string,
    blockId: string,
    data: Readable,
    options?: { signal?: AbortSignal; maxStagedBytes?: number },
  ): Promise<void>;
  commitBlocks(key: string, blockIds: readonly string[]): Promise<BlobInfo>;
  get(key: string, range?: ByteRange): Promise<{ info: BlobInfo; stream: Readable } | undefined>;
  stat(key: string): Promise<BlobInfo | undefined>;
  delete(key: string): Promise<void>;
  /** Deletes every blob whose key starts with `prefix` (e.g. all files of a deleted iModel). */
  deletePrefix(prefix: string): Promise<void>;
  /** Copies a blob to a local file (workers open iModels from local files). */
  downloadToFile(key: string, localPath: string): Promise<void>;
  /**
   * Where the blob already is a local file, if the store keeps blobs as files (saves a copy before a worker reads
   * it). The caller MUST only read it, and only while no one can replace the blob.
   */
  localPath?(key: string): string | undefined;
  /** Stores a local file as a blob, atomically. */
  uploadFromFile(key: string, localPath: string): Promise<BlobInfo>;
  /**
   * Renames a blob, replacing `to` if it exists: how an upload is frozen once verified. Resolves to the moved blob's
   * info, or `undefined` (and changes nothing) when `from` does not exist.
   */
  move(from: string, to: string): Promise<BlobInfo | undefined>;
  /**
   * Copies a blob, replacing `to` if it exists (clone and fork copy an iModel's history this way). Stores should avoid
   * copying bytes where they can (a hard link, a server-side copy): completed blobs are never changed in place.
   * Resolves to the copy's info, or `undefined` (and changes nothing) when `from` does not exist.
   */
  copy(from: string, to: string): Promise<BlobInfo | undefined>;
  /**
   * `copy`, and the copied bytes written to the local file `localPath` as well: one read of `from` where a copy and a
   * download of the copy would each cost round trips (how the hub freezes a pushed file on a store whose blobs are not
   * local files, and gets the bytes it checks the changeset id of; Azure: a small blob is read once and written back by
   * the hub, a large one copied server-side while the same version is downloaded). `to` and the file hold exactly
   * the same bytes. Resolves to the copy's info, or `undefined` (nothing copied, no file) when `from` does not exist.
   */
  copyToFile?(
    from: string,
    to: string,
    localPath: string,
    options?: { maxBytes?: number },
  ): Promise<BlobInfo | undefined>;
  /** Every blob whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<{ key: string; info: BlobInfo }>;
  /**
   * Removes what interrupted writes left behind (temporary files of writers that are gone, blocks staged but never
   * committed for too long) and says how much; `dryRun` only counts. Stores without left-overs need not implement it.
   */
  sweepLeftovers?(options?: { dryRun?: boolean }): Promise<{ files: number; bytes: number }>;
  /**
   * Every set of blocks staged and not committed whose key starts with `prefix`, for stores that keep them where the
   * hub can see them (the fs store; Azure keeps uncommitted blocks itself and drops them after a week).
   */
  listStaged?(prefix: string): AsyncIterable<StagedBlocks>;
  /** Drops one set listed by listStaged. */
  deleteStaged?(staged: Pick<StagedBlocks, "id">): Promise<void>;
  /**
   * A URL that lets its holder read (`r`) or write (`w`) the one blob `key` directly in the store until `expiresOn`,
   * for stores that clients can reach themselves (Azure: a blob SAS). When present, the hub hands this URL out
   * instead of its own signed `/storage` link, and file bytes no longer pass through the hub. Synchronous on purpose:
   * links are made while entities are presented, and signing with the account key is a local HMAC.
   *
   * Such a link cannot be refused at write time, so the hub MUST only ask for a write link to an upload key
   * (`blobKeys`: `uploads/…`, `baseline/upload.bim`), never to a key it keeps: completion moves an upload to a key no
   * link names, and what was verified there is what is kept. A write link MUST NOT allow anything but writing that
   * one blob (no reads, no listing, no other key).
   */
  directLink?(key: string, permission: "r" | "w", expiresOn: Date): string;
}

/** Blocks staged for one key and not committed. */
export interface StagedBlocks {
  /** The store's name for the set (deleteStaged takes it). */
  id: string;
  /** The key they are for; undefined for blocks staged by a hub that did not record it. */
  key: string | undefined;
  blocks: number;
  bytes: number;
  /** When the last block arrived. */
  lastModified: Date;
}

export type BlobStoreErrorCode = "InvalidBlockList" | "InvalidBlockId" | "Aborted" | "TooLarge" | "TooManyBlocks";

export class BlobStoreError extends Error {
  constructor(
    readonly code: BlobStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "BlobStoreError";
  }
}
