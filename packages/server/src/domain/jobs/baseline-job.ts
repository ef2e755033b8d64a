import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore } from "../../ports/blob-store.js";
import type { IModelFileWorker } from "../../ports/imodel-file-worker.js";
import { FileRejected } from "../../ports/imodel-file-worker.js";
import type { IModelRecord, MetadataStore } from "../../ports/metadata-store.js";
import { blobKeys } from "../blob-keys.js";
import type { Clock } from "../context.js";

/**
 * Turns an uploaded file (or nothing, for an empty iModel) into the iModel's baseline, checkpoint 0: iModel and
 * iTwin ids stamped, briefcase id 0, no local txns. The iModel becomes `initialized` only when the stamped file is
 * stored, so a crash at any point leaves it `initializationScheduled` and the job runs again.
 * A file that is not a usable baseline ends in `initializationFailed` with the reason.
 */
export class BaselineJob {
  constructor(
    private readonly store: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly worker: IModelFileWorker,
    private readonly clock: Clock,
    private readonly scratchDir: string,
  ) {}

  async run(iModelId: string): Promise<void> {
    const iModel = await this.store.read((tx) => tx.getIModel(iModelId));
    if (!iModel || iModel.baselineState !== "initializationScheduled") return; // deleted, or already done

    const dir = await mkdtemp(join(this.scratchDir, `baseline-${process.pid}-`));
    try {
      const output = join(dir, "baseline.bim");
      try {
        if (iModel.creationMode === "fromBaseline") {
          const input = join(dir, "upload.bim");
          await this.blobs.downloadToFile(blobKeys.baselineReceived(iModelId), input);
          const result = await this.worker.initializeBaseline({ inputPath: input, outputPath: output, iModelId, iTwinId: iModel.iTwinId });
          if (result.changesetId !== "") {
            throw new FileRejected(
              `The file is at changeset '${result.changesetId}' of another iModel's history. A baseline must have no changesets: use the iModel's version 0 (a snapshot or a file made before any push).`,
            );
          }
        } else {
          await this.worker.createEmptyBaseline({
            outputPath: output,
            iModelId,
            iTwinId: iModel.iTwinId,
            rootSubjectName: iModel.description ?? iModel.name,
          });
        }
      } catch (err) {
        if (err instanceof FileRejected) {
          await this.markFailed(iModel, err.message);
          return;
        }
        throw err; // the worker failed, not the file: let the queue retry
      }

      const info = await this.blobs.uploadFromFile(blobKeys.checkpoint(iModelId, 0), output);
      const stillWanted = await this.store.transaction(async (tx) => {
        const current = await tx.getIModel(iModelId);
        if (!current || current.baselineState !== "initializationScheduled") return false;
        await tx.upsertCheckpoint({
          iModelId,
          changesetIndex: 0,
          changesetId: "",
          state: "successful",
          blobKey: blobKeys.checkpoint(iModelId, 0),
          size: info.size,
          failureReason: null,
          updatedAt: this.clock.now().toISOString(),
        });
        await tx.updateIModel({ ...current, state: "initialized", baselineState: "initialized" });
        return true;
      });
      if (!stillWanted) {
        // Deleted (or failed) meanwhile: the file just stored belongs to nothing. Unless another run of this job
        // finished first, in which case it is that run's baseline.
        const kept = await this.store.read((tx) => tx.getCheckpoint(iModelId, 0));
        if (kept?.state !== "successful") await this.blobs.delete(blobKeys.checkpoint(iModelId, 0));
      }
      if (iModel.creationMode === "fromBaseline") await this.blobs.delete(blobKeys.baselineReceived(iModelId));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Gives up for good (the worker kept failing): the iModel says why. */
  async abandon(iModelId: string, reason: string): Promise<void> {
    const iModel = await this.store.read((tx) => tx.getIModel(iModelId));
    if (iModel && iModel.baselineState === "initializationScheduled") await this.markFailed(iModel, reason);
  }

  private async markFailed(iModel: IModelRecord, reason: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const current = await tx.getIModel(iModel.id);
      if (!current || current.baselineState !== "initializationScheduled") return;
      await tx.updateIModel({ ...current, baselineState: "initializationFailed", baselineFailure: reason });
    });
  }
}
