// A pushed changeset's id checked against its file: recomputed by the iTwin.js worker from the bytes and the parent,
// early (while the push is still in flight) where the blob store lets the worker read the upload in place.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BlobInfo, BlobStore } from "../../ports/blob-store.js";
import type { ScratchSpace } from "../../ports/scratch-space.js";
import type { IModelFileWorker } from "../../ports/imodel-file-worker.js";
import { FileRejected } from "../../ports/imodel-file-worker.js";
import type { ChangesetRecord, MetadataStore } from "../../ports/metadata-store.js";
import { parseBlobKey } from "../blob-keys.js";
import type { HubError } from "../errors.js";
import { invalidRequest } from "../errors.js";

/** Early checks kept at most (pushes that are never completed leave entries behind). */
const MAX_EARLY_ID_CHECKS = 256;

export class ChangesetIdCheck {
  readonly #early = new Map<string, { etag: string; computed: Promise<{ parentId: string; id: string }> }>();
  readonly #worker: IModelFileWorker | undefined;

  constructor(
    private readonly store: Pick<MetadataStore, "read">,
    private readonly blobs: BlobStore,
    worker: IModelFileWorker | undefined,
    private readonly scratch: ScratchSpace,
    /** `verifyChangesetIds`: without it (or without a worker) nothing is checked. */
    verify: boolean,
  ) {
    this.#worker = verify ? worker : undefined;
  }

  /** Whether completing a push checks its id. */
  get enabled(): boolean {
    return this.#worker !== undefined;
  }

  /**
   * Whether a push is frozen with `copyAndCheck` rather than moved and then read: on a store whose blobs are not local
   * files (Azure), where the move (a look, a server-side copy, a look at the copy, a delete) and the download of the
   * moved file for the worker were each round trips to the store.
   */
  get copiesToCheck(): boolean {
    return this.enabled && !this.blobs.localPath && this.blobs.copyToFile !== undefined;
  }

  /**
   * Freezes the upload at `uploadKey` by copying it to `key` (where no link can write) and computes the id of the very
   * bytes copied, from the local file the same read wrote: `verify` of the copy's etag finds the result. Resolves to
   * the copy, or `undefined` (nothing done) without an upload. An upload larger than the declared size is not copied
   * (`BlobStoreError("TooLarge")`); the upload itself stays until the caller deletes it.
   */
  async copyAndCheck(changeset: ChangesetRecord, uploadKey: string, key: string): Promise<BlobInfo | undefined> {
    const worker = this.#worker!;
    return this.scratch.withFile("verify", `${changeset.id}.cs`, async (local) => {
      const copied = await this.blobs.copyToFile!(uploadKey, key, local, { maxBytes: changeset.fileSize });
      if (!copied) return undefined;
      const { parentId } = changeset;
      // Settled before the file goes; a file of the wrong size is refused by the caller before the result counts.
      const computed = worker.computeChangesetId({ parentId, pathname: local }).then((r) => ({ parentId, id: r.id }));
      await computed.catch(() => undefined);
      this.#remember(uploadKey, copied.etag, computed);
      return copied;
    });
  }

  /**
   * Starts recomputing the id of a changeset file that was just uploaded (read in place on a file store), so that
   * completing the push finds it done instead of waiting for the worker. Only for a push in flight; `verify` uses
   * the result only if the frozen file is still the one checked (same etag) and the parent is the same.
   */
  startEarly(key: string, etag: string): void {
    const worker = this.#worker;
    const ref = parseBlobKey(key);
    if (!worker || ref?.kind !== "changesetUpload") return;
    const local = this.blobs.localPath?.(key);
    if (!local) return;
    const computed = (async () => {
      const record = await this.store.read((tx) => tx.getChangesetById(ref.iModelId, ref.changesetId));
      if (!record || record.state !== "waitingForFile" || record.briefcaseId !== ref.briefcaseId)
        throw new Error("not a push in flight");
      return {
        parentId: record.parentId,
        id: (await worker.computeChangesetId({ parentId: record.parentId, pathname: local })).id,
      };
    })();
    computed.catch(() => undefined); // read by verify(), or dropped
    this.#remember(key, etag, computed);
  }

  #remember(key: string, etag: string, computed: Promise<{ parentId: string; id: string }>): void {
    this.#early.delete(key);
    this.#early.set(key, { etag, computed });
    // Pushes that are never completed (or refused before `verify`) leave entries behind: keep the newest few hundred.
    for (const oldest of this.#early.keys()) {
      if (this.#early.size <= MAX_EARLY_ID_CHECKS) break;
      this.#early.delete(oldest);
    }
  }

  /**
   * Waits for an early check of these very bytes (the upload at `uploadKey`, `etag`) that reads the upload where it
   * is: the file may move only after it (`verify` waits for its result anyway), or it fails and the id is computed
   * a second time.
   */
  async settleEarly(uploadKey: string, etag: string): Promise<void> {
    const early = this.#early.get(uploadKey);
    if (early?.etag === etag) await early.computed.catch(() => undefined);
  }

  /** Checks the id of the frozen file at `key`; an early check of the upload counts if it read the same bytes. */
  async verify(changeset: ChangesetRecord, key: string, uploadKey: string, etag: string): Promise<void> {
    const early = this.#early.get(uploadKey);
    this.#early.delete(uploadKey);
    let computed: string | undefined;
    if (early?.etag === etag) {
      // Any failure of the early check (the file was frozen away while the worker opened it, checked too early…)
      // only means checking the frozen file now.
      computed = await early.computed.then(
        (r) => (r.parentId === changeset.parentId ? r.id : undefined),
        () => undefined,
      );
    }
    computed ??= await this.#compute(changeset, key);
    requireMatch(changeset, computed);
  }

  /**
   * Starts computing the id of `bytes` as the changeset after `parentId`, from a scratch file of them (a push in one
   * request: while its reservation and the stored file are being written). Undefined when ids are not checked.
   * Settle it with `verifyComputed`.
   */
  computeFromBytes(changesetId: string, parentId: string, bytes: Uint8Array): Promise<string> | undefined {
    if (!this.#worker) return undefined;
    const computed = this.scratch.withFile("verify", `${changesetId}.cs`, async (local) => {
      await writeFile(local, bytes);
      return this.#computeAt(parentId, local);
    });
    computed.catch(() => undefined); // settled by verifyComputed, or dropped with a refused push
    return computed;
  }

  /** Refuses the changeset unless `computed` (from `computeFromBytes`) is its id. */
  async verifyComputed(changeset: ChangesetRecord, computed: Promise<string> | undefined): Promise<void> {
    if (computed) requireMatch(changeset, await computed);
  }

  async #computeAt(parentId: string, pathname: string): Promise<string> {
    try {
      return (await this.#worker!.computeChangesetId({ parentId, pathname })).id;
    } catch (err) {
      if (err instanceof FileRejected) throw notAChangeset(err);
      throw err;
    }
  }

  async #compute(changeset: ChangesetRecord, key: string): Promise<string> {
    // A file store lets the worker read the blob in place; others get a temporary copy.
    const inPlace = this.blobs.localPath?.(key);
    if (inPlace) return this.#computeAt(changeset.parentId, inPlace);
    return this.scratch.withDirectory("verify", async (dir) => {
      const local = join(dir, `${changeset.id}.cs`);
      await this.blobs.downloadToFile(key, local);
      return this.#computeAt(changeset.parentId, local);
    });
  }
}

function requireMatch(changeset: ChangesetRecord, computed: string): void {
  if (computed.toLowerCase() !== changeset.id) {
    throw invalidRequest("Cannot update Changeset.", [
      {
        code: "InvalidChange",
        message: `The uploaded file does not match the Changeset id: its content and parent give '${computed.toLowerCase()}', not '${changeset.id}'. Upload the file again.`,
      },
    ]);
  }
}

function notAChangeset(err: FileRejected): HubError {
  return invalidRequest("Cannot update Changeset.", [
    { code: "InvalidChange", message: `The uploaded file is not a valid changeset: ${err.message}` },
  ]);
}
