import { rm, stat, writeFile } from "node:fs/promises";
import { Readable, addAbortSignal } from "node:stream";
import { buffer } from "node:stream/consumers";
import type { BlockBlobClient, ContainerClient } from "@azure/storage-blob";
import {
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from "@azure/storage-blob";
import type { BlobInfo, BlobStore, ByteRange } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import {
  Limiter,
  aborted,
  azureBlockId,
  errorCode,
  infoOfItem,
  isUnfinishedCopy,
  quote,
  statusOf,
  unquote,
  validateKey,
} from "./azure-blob-helpers.js";
import { BLOCK_BYTES, TRANSFER_CONCURRENCY, downloadVersion, uploadStream } from "./azure-blob-transfers.js";

/** Blobs removed at once by deletePrefix. */
const DELETE_CONCURRENCY = 16;
/** How long opening the store may take (reaching the account, creating the container). */
const OPEN_TIMEOUT_MS = 15_000;
/** How often `copy` starts again when its source changed under it before giving up. */
const COPY_ATTEMPTS = 3;

/**
 * Blobs in one Azure Blob Storage container, one block blob per key (the key is the blob name). Every write is
 * atomic the way Azure makes it so: one Put Blob, or blocks staged and then committed with one Put Block List; a
 * reader sees the old blob or the new one. `copy` and `move` are server-side copies (no bytes through the hub);
 * `move` then deletes `from` only if it is still the version that was copied. `copyToFile` (a push's completion) reads
 * a small blob once and writes it back through the hub instead: fewer round trips than a copy and a download.
 *
 * Left-overs: blocks staged but never committed (an aborted put, a client that gave up) are not blobs; Azure drops
 * them by itself after a week, so there is nothing to sweep. A copy cut short by a crash can leave a destination whose
 * copy never succeeded: reads and lists treat it as absent, and the next write of that key replaces it.
 *
 * Clients reach the container themselves through {@link directLink} (blob SAS URLs signed with the account key).
 */
export class AzureBlobStore implements BlobStore {
  readonly #container: ContainerClient;
  readonly #credential: StorageSharedKeyCredential;

  constructor(container: ContainerClient, credential: StorageSharedKeyCredential) {
    this.#container = container;
    this.#credential = credential;
  }

  /**
   * Opens `containerName` of the account in `connectionString` (a standard Azure Storage connection string with
   * AccountName and AccountKey; Azurite's `BlobEndpoint=http://127.0.0.1:PORT/devstoreaccount1` works), creating the
   * container if it does not exist. Fails if the account cannot be reached.
   */
  static async open(connectionString: string, containerName: string): Promise<AzureBlobStore> {
    const service = BlobServiceClient.fromConnectionString(connectionString);
    if (!(service.credential instanceof StorageSharedKeyCredential)) {
      throw new Error(
        "the connection string must name the account key (AccountName=…;AccountKey=…): the hub signs its SAS links with it",
      );
    }
    // An account that cannot be reached fails the start within seconds, not after the store's patient retries.
    const probe = BlobServiceClient.fromConnectionString(connectionString, {
      retryOptions: { maxTries: 2, retryDelayInMs: 250 },
    });
    await probe
      .getContainerClient(containerName)
      .createIfNotExists({ abortSignal: AbortSignal.timeout(OPEN_TIMEOUT_MS) });
    return new AzureBlobStore(service.getContainerClient(containerName), service.credential);
  }

  /** The container's URL (e.g. to tell where direct links point). */
  get containerUrl(): string {
    return this.#container.url;
  }

  async put(key: string, data: Readable, options: { signal?: AbortSignal } = {}): Promise<BlobInfo> {
    const blob = this.#blob(key);
    const { signal } = options;
    if (signal?.aborted) {
      data.destroy();
      throw aborted();
    }
    if (signal) addAbortSignal(signal, data);
    try {
      return await uploadStream(blob, data, signal);
    } catch (err) {
      if (signal?.aborted) {
        data.destroy();
        throw aborted();
      }
      throw err;
    }
  }

  /**
   * Azure wants block ids that are base64, at most 64 bytes, and of one length per blob; the port allows any id of 1
   * to 1024 characters. So each id is stored as the base64 of its SHA-256 (same id, same block).
   */
  async stageBlock(
    key: string,
    blockId: string,
    data: Readable,
    options: { signal?: AbortSignal; maxStagedBytes?: number } = {},
  ): Promise<void> {
    const blob = this.#blob(key);
    if (blockId.length === 0 || blockId.length > 1024)
      throw new BlobStoreError("InvalidBlockId", "A block id must be 1 to 1024 characters.");
    const { signal, maxStagedBytes } = options;
    if (signal?.aborted) throw aborted();
    if (signal) addAbortSignal(signal, data);
    // Azure needs a block's length before its bytes: the block is gathered first (clients send blocks of a few MB).
    let bytes: Buffer;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of data) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
      bytes = Buffer.concat(chunks);
    } catch (err) {
      if (signal?.aborted) throw aborted();
      throw err;
    }
    if (maxStagedBytes !== undefined) {
      // Azure counts nothing for us: the other uncommitted blocks of the blob, this id's earlier version left out.
      // (Two blocks staged at the same moment may both pass; the hub never proxies Azure uploads: its links are SAS.)
      const id = azureBlockId(blockId);
      const staged = await this.#uncommittedBlockSizes(blob);
      let total = bytes.length;
      for (const [name, size] of staged) if (name !== id) total += size;
      if (total > maxStagedBytes)
        throw new BlobStoreError(
          "TooLarge",
          `The blocks staged for this blob would be larger than the ${maxStagedBytes} bytes declared for it.`,
        );
    }
    await blob.stageBlock(azureBlockId(blockId), bytes, bytes.length, { abortSignal: signal });
  }

  async commitBlocks(key: string, blockIds: readonly string[]): Promise<BlobInfo> {
    const blob = this.#blob(key);
    const ids = blockIds.map(azureBlockId);
    if (ids.length > 0) {
      // Azure's commit also accepts ids of blocks already committed to the blob; the port wants only staged ones.
      const staged = new Set(await this.#uncommittedBlocks(blob));
      const unknown = blockIds.find((_, i) => !staged.has(ids[i]!));
      if (unknown !== undefined)
        throw new BlobStoreError("InvalidBlockList", `Block '${unknown}' was not staged for this blob.`);
    }
    let response;
    try {
      response = await blob.commitBlockList(ids);
    } catch (err) {
      if (errorCode(err) === "InvalidBlockList")
        throw new BlobStoreError("InvalidBlockList", "A block in the list was not staged for this blob.");
      throw err;
    }
    const info = await this.stat(key);
    return info ?? { size: 0, etag: unquote(response.etag), lastModified: response.lastModified! };
  }

  async #uncommittedBlocks(blob: BlockBlobClient): Promise<string[]> {
    return [...(await this.#uncommittedBlockSizes(blob)).keys()];
  }

  /** The blob's uncommitted blocks: name → size. */
  async #uncommittedBlockSizes(blob: BlockBlobClient): Promise<Map<string, number>> {
    try {
      const list = await blob.getBlockList("uncommitted");
      return new Map((list.uncommittedBlocks ?? []).map((b) => [b.name, b.size]));
    } catch (err) {
      if (statusOf(err) === 404) return new Map();
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<{ info: BlobInfo; stream: Readable } | undefined> {
    const blob = this.#blob(key);
    let response;
    try {
      response = range ? await blob.download(range.start, range.end - range.start + 1) : await blob.download();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      if (statusOf(err) === 416) {
        // A range of an empty blob: nothing to read, but the blob is there.
        const info = await this.stat(key);
        return info && { info, stream: Readable.from([]) };
      }
      throw err;
    }
    const stream = (response.readableStreamBody as Readable | undefined) ?? Readable.from([]);
    if (isUnfinishedCopy(response.copyStatus)) {
      stream.destroy();
      return undefined;
    }
    // A ranged answer says the whole size after the slash of its Content-Range.
    const total = /\/(\d+)$/.exec(response.contentRange ?? "")?.[1];
    const size = total !== undefined ? Number(total) : (response.contentLength ?? 0);
    return { info: { size, etag: unquote(response.etag), lastModified: response.lastModified! }, stream };
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const blob = this.#blob(key);
    try {
      const props = await blob.getProperties();
      if (isUnfinishedCopy(props.copyStatus)) return undefined;
      return { size: props.contentLength ?? 0, etag: unquote(props.etag), lastModified: props.lastModified! };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.#blob(key).deleteIfExists({ deleteSnapshots: "include" });
  }

  /** Every blob whose name starts with `prefix` (a plain starts-with, as in the fs store). */
  async deletePrefix(prefix: string): Promise<void> {
    if (prefix === "") throw new Error("Refusing to delete every blob: the prefix is empty.");
    const deleting = new Limiter(DELETE_CONCURRENCY);
    for await (const item of this.#container.listBlobsFlat({ prefix })) {
      await deleting.run(() =>
        this.#container.getBlockBlobClient(item.name).deleteIfExists({ deleteSnapshots: "include" }),
      );
    }
    await deleting.drain();
  }

  /** Parallel ranged reads, all of the same version (If-Match), written in place; a failed download leaves no file. */
  async downloadToFile(key: string, localPath: string): Promise<void> {
    const info = await this.stat(key);
    if (!info) throw new Error(`Blob '${key}' does not exist.`);
    await downloadVersion(this.#blob(key), info, localPath);
  }

  /** Small files in one Put Blob, larger ones in blocks sent in parallel and committed at the end. */
  async uploadFromFile(key: string, localPath: string): Promise<BlobInfo> {
    const blob = this.#blob(key);
    const { size } = await stat(localPath);
    const response = await blob.uploadFile(localPath, {
      blockSize: BLOCK_BYTES,
      maxSingleShotSize: BLOCK_BYTES,
      concurrency: TRANSFER_CONCURRENCY,
    });
    return { size, etag: unquote(response.etag), lastModified: response.lastModified! };
  }

  /**
   * A server-side copy of the version of `from` that was there when the move began, then a delete of `from` only
   * if it is still that version: a client writing `from` meanwhile leaves its blob at `from`, never at `to`.
   */
  async move(from: string, to: string): Promise<BlobInfo | undefined> {
    const copied = await this.#copy(from, to);
    if (!copied) return undefined;
    try {
      await this.#blob(from).deleteIfExists({
        deleteSnapshots: "include",
        conditions: { ifMatch: quote(copied.sourceEtag) },
      });
    } catch (err) {
      if (statusOf(err) !== 412) throw err; // 412: `from` was written again meanwhile; that newer blob stays
    }
    return copied.info;
  }

  async copy(from: string, to: string): Promise<BlobInfo | undefined> {
    return (await this.#copy(from, to))?.info;
  }

  /**
   * One ranged read of the first block: a blob that fits in it (every changeset of a few elements) is then written to
   * `to` and to the file from that buffer at once — two round trips, where a server-side copy is a look, the copy
   * and a look at the copy. A larger one is copied server-side while the same version (If-Match) is downloaded.
   */
  async copyToFile(
    from: string,
    to: string,
    localPath: string,
    options: { maxBytes?: number } = {},
  ): Promise<BlobInfo | undefined> {
    const target = this.#blob(to);
    for (let attempt = 1; ; attempt++) {
      const first = await this.get(from, { start: 0, end: BLOCK_BYTES - 1 });
      if (!first) return undefined;
      const { info } = first;
      if (options.maxBytes !== undefined && info.size > options.maxBytes) {
        first.stream.destroy();
        throw new BlobStoreError("TooLarge", `Blob '${from}' is ${info.size} bytes, more than ${options.maxBytes}.`);
      }
      try {
        if (info.size <= BLOCK_BYTES) {
          const bytes = await buffer(first.stream);
          if (bytes.length !== info.size)
            throw new Error(`Read ${bytes.length} of the ${info.size} bytes of '${from}'.`);
          const [response] = await Promise.all([target.upload(bytes, bytes.length), writeFile(localPath, bytes)]);
          return { size: bytes.length, etag: unquote(response.etag), lastModified: response.lastModified! };
        }
        first.stream.destroy();
        const [copied] = await Promise.all([
          this.#copyVersion(from, to, info.etag),
          downloadVersion(this.#blob(from), info, localPath),
        ]);
        return copied;
      } catch (err) {
        await rm(localPath, { force: true });
        // 412: `from` was written again between the read and the copy or download; start again with the new version.
        if (statusOf(err) === 412 && attempt < COPY_ATTEMPTS) continue;
        if (statusOf(err) === 404 && !(await this.stat(from))) return undefined;
        throw err;
      }
    }
  }

  /**
   * Azure's Copy Blob, pinned to one version of the source (If-Match), so `to` gets exactly those bytes. Copies in
   * one account finish at once in practice; a copy still pending is waited for, and one that fails leaves no `to`.
   */
  async #copy(from: string, to: string): Promise<{ info: BlobInfo; sourceEtag: string } | undefined> {
    for (let attempt = 1; ; attempt++) {
      const info = await this.stat(from);
      if (!info) return undefined;
      try {
        return { info: await this.#copyVersion(from, to, info.etag), sourceEtag: info.etag };
      } catch (err) {
        const status = statusOf(err);
        if (status === 404 && !(await this.stat(from))) return undefined;
        // 412: `from` was written again between the look and the copy; copy the new version instead.
        if (status === 412 && attempt < COPY_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /** Copy Blob of the version `etag` of `from` (412 once it changed), waited for; a failed copy leaves no `to`. */
  async #copyVersion(from: string, to: string, etag: string): Promise<BlobInfo> {
    const target = this.#blob(to);
    const poller = await target.beginCopyFromURL(this.#blob(from).url, { sourceConditions: { ifMatch: quote(etag) } });
    const result = await poller.pollUntilDone();
    if (result.copyStatus !== "success") {
      await target.deleteIfExists();
      throw new Error(`Copying blob '${from}' to '${to}' ended '${result.copyStatus}'.`);
    }
    // Described as it is now (a copy that was pending got a new etag when it finished).
    const copied = await this.stat(to);
    if (!copied) throw new Error(`The copy of blob '${from}' at '${to}' vanished.`);
    return copied;
  }

  async *list(prefix: string): AsyncIterable<{ key: string; info: BlobInfo }> {
    for await (const item of this.#container.listBlobsFlat({ prefix })) {
      if (isUnfinishedCopy(item.properties.copyStatus)) continue;
      yield { key: item.name, info: infoOfItem(item) };
    }
  }

  /**
   * A blob SAS for this one blob: `r` to read it; `cw` to create or replace it (Put Blob, or Put Block and Put Block
   * List, as the Azure clients upload), which grants no read, list or delete and names no other blob.
   */
  directLink(key: string, permission: "r" | "w", expiresOn: Date): string {
    const blob = this.#blob(key);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: this.#container.containerName,
        blobName: key,
        permissions: BlobSASPermissions.parse(permission === "r" ? "r" : "cw"),
        expiresOn,
      },
      this.#credential,
    );
    return `${blob.url}?${sas.toString()}`;
  }

  #blob(key: string): BlockBlobClient {
    validateKey(key);
    return this.#container.getBlockBlobClient(key);
  }
}
