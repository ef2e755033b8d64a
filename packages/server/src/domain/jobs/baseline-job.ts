import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { BlobStore } from "../../ports/blob-store.js";
import type { ScratchSpace } from "../../ports/scratch-space.js";
import type { IModelFileWorker } from "../../ports/imodel-file-worker.js";
import { FileRejected } from "../../ports/imodel-file-worker.js";
import type { ChangesetRecord, IModelRecord, MetadataStore } from "../../ports/metadata-store.js";
import { blobKeys } from "../blob-keys.js";
import type { Clock } from "../context.js";
import type { CheckpointBlocks } from "../blob-containers/checkpoint-blocks.js";
import { changeSummaryJob } from "../changes/change-summary-job.js";

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
    private readonly scratch: ScratchSpace,
    /** With `--blobs azure:`: the baseline is also published as a V2 checkpoint (CloudSqlite blocks). */
    private readonly blocks?: CheckpointBlocks,
  ) {}

  async run(iModelId: string): Promise<void> {
    const iModel = await this.store.read((tx) => tx.getIModel(iModelId));
    if (!iModel || iModel.baselineState !== "initializationScheduled") return; // deleted, or already done

    await this.scratch.withDirectory("baseline", async (dir) => {
      const output = join(dir, "baseline.bim");
      try {
        if (iModel.creationSource) {
          await this.copyFromSource(iModel, dir, output);
        } else if (iModel.creationMode === "fromBaseline") {
          const input = join(dir, "upload.bim");
          await this.blobs.downloadToFile(blobKeys.baselineReceived(iModelId), input);
          const result = await this.worker.initializeBaseline({
            inputPath: input,
            outputPath: output,
            iModelId,
            iTwinId: iModel.iTwinId,
          });
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

      // Published as a V2 checkpoint too, the key says so (see CheckpointBlocks); otherwise the usual baseline key.
      const published = this.blocks
        ? await this.blocks.publish(iModelId, 0, output, randomBytes(8).toString("hex"))
        : undefined;
      const key = blobKeys.checkpoint(iModelId, 0, published);
      const info = await this.blobs.uploadFromFile(key, output);
      // A copy's history: each file copied (hard-linked where the store can) ahead of its row; blob-references.ts
      // keeps them while the creation is scheduled, so a crash here leaves nothing the janitor would wrongly remove.
      const history = await this.copyHistory(iModel);
      if (history === undefined) return;
      const stillWanted = await this.store.transaction({ iModelId }, async (tx) => {
        const current = await tx.getIModel(iModelId);
        if (!current || current.baselineState !== "initializationScheduled") return false;
        for (const changeset of history) await tx.insertChangeset(changeset);
        // The copied history's summaries: copied from the source's by the summary job (computed where it has none).
        if (history.length > 0) await tx.enqueueJob(changeSummaryJob(iModelId, history.at(-1)!.index));
        await tx.upsertCheckpoint({
          iModelId,
          changesetIndex: 0,
          changesetId: "",
          state: "successful",
          blobKey: key,
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
        if (kept?.state !== "successful" || kept.blobKey !== key) await this.blobs.delete(key);
      }
      if (iModel.creationMode === "fromBaseline") await this.blobs.delete(blobKeys.baselineReceived(iModelId));
    });
  }

  /**
   * A copy's baseline: with history, the source's baseline re-stamped with the copy's ids; without (a template, a
   * fork with `preserveHistory` false), the source's content at the changeset made a version 0 (parent changeset
   * cleared) and stamped the same way.
   */
  private async copyFromSource(iModel: IModelRecord, dir: string, output: string): Promise<void> {
    const source = iModel.creationSource;
    if (!source) throw new FileRejected("The iModel's creation source is missing.");
    const squash = !source.preserveHistory && source.changesetIndex > 0;
    const plan = await this.store.read(async (tx) => {
      const base = squash
        ? await tx.getPrecedingCheckpoint(source.iModelId, source.changesetIndex)
        : await tx.getCheckpoint(source.iModelId, 0);
      if (base?.state !== "successful" || !base.blobKey) return undefined;
      const changesets = squash
        ? await tx.listChangesets(
            source.iModelId,
            { afterIndex: base.changesetIndex, lastIndex: source.changesetIndex, direction: "asc", onlyUploaded: true },
            { limit: source.changesetIndex - base.changesetIndex, offset: 0 },
          )
        : [];
      return { base, changesets };
    });
    if (!plan || plan.changesets.length !== (squash ? source.changesetIndex - plan.base.changesetIndex : 0)) {
      throw new FileRejected("The source iModel was deleted, or lost its files, before it could be copied.");
    }
    const basePath = join(dir, "source.bim");
    // A file gone while the source exists (an automatic checkpoint pruned meanwhile) is worth a retry; a deleted
    // source is not.
    const download = async (key: string, path: string) => {
      try {
        await this.blobs.downloadToFile(key, path);
      } catch (err) {
        if (!(await this.store.read((tx) => tx.getIModel(source.iModelId))))
          throw new FileRejected("The source iModel was deleted before it could be copied.");
        throw err;
      }
    };
    await download(plan.base.blobKey!, basePath);
    let input = basePath;
    if (plan.changesets.length > 0) {
      const files = [];
      for (const c of plan.changesets) {
        const pathname = join(dir, `${c.id}.cs`);
        await download(blobKeys.changeset(source.iModelId, c.id), pathname);
        files.push({ id: c.id, index: c.index, parentId: c.parentId, pathname, changesType: c.containingChanges });
      }
      input = join(dir, "squashed.bim");
      const made = await this.worker.makeCheckpoint({ basePath, outputPath: input, changesets: files });
      if (made.changesetId !== source.changesetId)
        throw new FileRejected(`The source's changesets ended at '${made.changesetId}', not '${source.changesetId}'.`);
    }
    const result = await this.worker.initializeBaseline({
      inputPath: input,
      outputPath: output,
      iModelId: iModel.id,
      iTwinId: iModel.iTwinId,
      resetParentChangeset: squash,
    });
    if (result.changesetId !== "")
      throw new FileRejected(
        `The copied baseline is at changeset '${result.changesetId}', not at the start of a history.`,
      );
  }

  /**
   * For a clone or fork: the source's changesets 1..N with their files copied under the copy's keys, as rows of the
   * copy (ids, indexes, parents and sizes kept: the files are the same bytes); [] for other modes; undefined when
   * the source lost a file (the iModel is marked failed).
   */
  private async copyHistory(iModel: IModelRecord): Promise<ChangesetRecord[] | undefined> {
    const source = iModel.creationSource;
    if (!source || source.changesetIndex === 0 || !source.preserveHistory) return [];
    const rows = await this.store.read((tx) =>
      tx.listChangesets(
        source.iModelId,
        { lastIndex: source.changesetIndex, direction: "asc", onlyUploaded: true },
        { limit: source.changesetIndex, offset: 0 },
      ),
    );
    if (rows.length !== source.changesetIndex) {
      await this.markFailed(iModel, "The source iModel was deleted, or lost changesets, before they could be copied.");
      return undefined;
    }
    const copies: ChangesetRecord[] = [];
    for (const row of rows) {
      const copied = await this.blobs.copy(
        blobKeys.changeset(source.iModelId, row.id),
        blobKeys.changeset(iModel.id, row.id),
      );
      if (!copied) {
        await this.markFailed(iModel, `The source iModel was deleted before changeset ${row.index} could be copied.`);
        return undefined;
      }
      copies.push({ ...row, iModelId: iModel.id, groupId: null });
    }
    return copies;
  }

  /** Gives up for good (the worker kept failing): the iModel says why. */
  async abandon(iModelId: string, reason: string): Promise<void> {
    const iModel = await this.store.read((tx) => tx.getIModel(iModelId));
    if (iModel && iModel.baselineState === "initializationScheduled") await this.markFailed(iModel, reason);
  }

  private async markFailed(iModel: IModelRecord, reason: string): Promise<void> {
    await this.store.transaction({ iModelId: iModel.id }, async (tx) => {
      const current = await tx.getIModel(iModel.id);
      if (!current || current.baselineState !== "initializationScheduled") return;
      await tx.updateIModel({ ...current, baselineState: "initializationFailed", baselineFailure: reason });
    });
  }
}
