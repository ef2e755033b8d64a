import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { BlobStore } from "../../ports/blob-store.js";
import type { ScratchSpace } from "../../ports/scratch-space.js";
import type { IModelFileWorker } from "../../ports/imodel-file-worker.js";
import { FileRejected } from "../../ports/imodel-file-worker.js";
import type { CheckpointRecord, MetadataStore } from "../../ports/metadata-store.js";
import { blobKeys } from "../blob-keys.js";
import type { CheckpointPolicy } from "../checkpoints/checkpoint-service.js";
import type { Clock } from "../context.js";
import type { EventPublisher } from "../../ports/event-bus.js";
import { noEvents } from "../../ports/event-bus.js";
import type { BlobJanitor } from "../maintenance/blob-janitor.js";
import type { CheckpointBlocks } from "../blob-containers/checkpoint-blocks.js";

/**
 * Makes the checkpoint at one changeset: the nearest earlier checkpoint with the changesets since applied by
 * iTwin.js in the worker process. The row turns `successful` only after the whole file is stored, so a crash at
 * any point leaves it `scheduled` (the job runs again) and a partial file is never served. A changeset that
 * cannot be applied makes it `failed` with the reason; `PUT …/namedversions/{id}/checkpoint` schedules it again.
 */
export class CheckpointJob {
  constructor(
    private readonly store: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly worker: IModelFileWorker,
    private readonly clock: Clock,
    private readonly scratch: ScratchSpace,
    private readonly policy: CheckpointPolicy,
    /** Woken after a commit that put pruned files in the deletion outbox. */
    private readonly janitor: Pick<BlobJanitor, "drainSoon"> | undefined = undefined,
    private readonly events: EventPublisher = noEvents,
    /** With `--blobs azure:`: each checkpoint is also published as a V2 checkpoint (CloudSqlite blocks). */
    private readonly blocks?: CheckpointBlocks,
  ) {}

  async run(iModelId: string, changesetIndex: number): Promise<void> {
    const plan = await this.store.read(async (tx) => {
      const target = await tx.getCheckpoint(iModelId, changesetIndex);
      if (!target || target.state !== "scheduled") return undefined;
      const base = await tx.getPrecedingCheckpoint(iModelId, changesetIndex - 1);
      if (!base?.blobKey) return undefined;
      const changesets = await tx.listChangesets(
        iModelId,
        { afterIndex: base.changesetIndex, lastIndex: changesetIndex, direction: "asc", onlyUploaded: true },
        { limit: changesetIndex - base.changesetIndex, offset: 0 },
      );
      return { target, base, changesets };
    });
    if (!plan) return;

    await this.scratch.withDirectory("checkpoint", async (dir) => {
      const basePath = join(dir, "base.bim");
      await this.blobs.downloadToFile(plan.base.blobKey!, basePath);
      const files = [];
      for (const c of plan.changesets) {
        const pathname = join(dir, `${c.id}.cs`);
        await this.blobs.downloadToFile(blobKeys.changeset(iModelId, c.id), pathname);
        files.push({ id: c.id, index: c.index, parentId: c.parentId, pathname, changesType: c.containingChanges });
      }
      const outputPath = join(dir, "checkpoint.bim");
      let result: { fileSize: number; changesetId: string };
      try {
        result = await this.worker.makeCheckpoint({ basePath, outputPath, changesets: files });
        if (result.changesetId !== plan.target.changesetId) {
          throw new FileRejected(
            `Applying changesets ${plan.base.changesetIndex + 1}..${changesetIndex} ended at changeset '${result.changesetId}', not '${plan.target.changesetId}'.`,
          );
        }
      } catch (err) {
        if (err instanceof FileRejected) {
          await this.markFailed(iModelId, changesetIndex, err.message);
          return;
        }
        throw err;
      }
      // The key says whether the file was also published as a V2 checkpoint (CheckpointBlocks), before it is kept.
      const nonce = randomBytes(8).toString("hex");
      const published = this.blocks
        ? await this.blocks.publish(iModelId, changesetIndex, outputPath, nonce)
        : undefined;
      const key = blobKeys.checkpoint(iModelId, changesetIndex, published ?? nonce);
      const info = await this.blobs.uploadFromFile(key, outputPath);
      const kept = await this.store.transaction({ iModelId }, async (tx) => {
        const current = await tx.getCheckpoint(iModelId, changesetIndex);
        if (current?.state !== "scheduled") return false;
        await tx.upsertCheckpoint({
          ...current,
          state: "successful",
          blobKey: key,
          size: info.size,
          failureReason: null,
          updatedAt: this.clock.now().toISOString(),
        });
        tx.afterCommit(() =>
          this.events.publish(iModelId, { type: "checkpoint", data: { changesetIndex, state: "successful" } }),
        );
        return true;
      });
      // The iModel (or this checkpoint) was deleted while the job ran, or another run finished first: the file just
      // stored belongs to nothing.
      if (!kept) await this.blobs.delete(key);
      await this.prune(iModelId);
    });
  }

  async abandon(iModelId: string, changesetIndex: number, reason: string): Promise<void> {
    await this.markFailed(iModelId, changesetIndex, reason);
  }

  /** Keeps the baseline, named versions' checkpoints and the newest `keepAutomatic` others. */
  private async prune(iModelId: string): Promise<void> {
    const doomed = await this.store.transaction({ iModelId }, async (tx): Promise<CheckpointRecord[]> => {
      const checkpoints = await tx.listCheckpoints(iModelId);
      const automatic: CheckpointRecord[] = [];
      for (const c of checkpoints) {
        if (c.changesetIndex === 0 || c.state !== "successful") continue;
        if (await tx.getNamedVersionByChangeset(iModelId, c.changesetIndex)) continue;
        automatic.push(c);
      }
      const excess = automatic.slice(0, Math.max(0, automatic.length - this.policy.keepAutomatic));
      const now = this.clock.now().getTime();
      for (const c of excess) {
        await tx.deleteCheckpoint(iModelId, c.changesetIndex);
        if (c.blobKey) await tx.requestBlobDeletion(c.blobKey, now);
      }
      if (excess.length > 0) tx.afterCommit(() => this.janitor?.drainSoon());
      return excess;
    });
    if (doomed.length > 0)
      await this.blocks?.deletePublished(
        iModelId,
        doomed.map((c) => c.blobKey),
      );
  }

  private async markFailed(iModelId: string, changesetIndex: number, reason: string): Promise<void> {
    await this.store.transaction({ iModelId }, async (tx) => {
      const current = await tx.getCheckpoint(iModelId, changesetIndex);
      if (!current || current.state !== "scheduled") return;
      await tx.upsertCheckpoint({
        ...current,
        state: "failed",
        failureReason: reason,
        updatedAt: this.clock.now().toISOString(),
      });
      tx.afterCommit(() =>
        this.events.publish(iModelId, { type: "checkpoint", data: { changesetIndex, state: "failed" } }),
      );
    });
  }
}
