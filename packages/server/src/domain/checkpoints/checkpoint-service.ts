import type { JobWakeup } from "../../ports/job-wakeup.js";
import { noJobWakeup } from "../../ports/job-wakeup.js";
import type {
  CheckpointRecord,
  MetadataReader,
  MetadataStore,
  MetadataTx,
  OutboxJob,
} from "../../ports/metadata-store.js";
import type { Clock } from "../context.js";
import { notFound } from "../errors.js";
import type { EventPublisher } from "../../ports/event-bus.js";
import { noEvents } from "../../ports/event-bus.js";
import { requireIModel, resolveChangesetIndex } from "../guards.js";

export const CHECKPOINT_JOB = "checkpoint.create";

const checkpointJob = (record: CheckpointRecord): OutboxJob => ({
  kind: CHECKPOINT_JOB,
  payload: { iModelId: record.iModelId, changesetIndex: record.changesetIndex },
  dedupeKey: `checkpoint:${record.iModelId}:${record.changesetIndex}`,
});

export interface CheckpointPolicy {
  /** Make a checkpoint automatically once this many changesets were pushed since the last one (0 = never). */
  everyChangesets: number;
  /** …or once the changesets since the last one add up to this many bytes (0 = never). */
  everyBytes: number;
  /** Automatic checkpoints kept besides the baseline and named versions' ones; older ones are pruned. */
  keepAutomatic: number;
}

export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = {
  everyChangesets: 100,
  everyBytes: 256 * 1024 * 1024,
  keepAutomatic: 3,
};

/**
 * Checkpoints: the iModel file as of a changeset, so a new briefcase starts near the tip instead of replaying
 * history. The baseline (index 0) is made when the iModel is initialized; later ones are made by `CheckpointJob`
 * when a named version is created and when the policy says enough changed since the last one — each scheduled in
 * the transaction that creates the version or completes the push, so the job exists if and only if that commits.
 */
export class CheckpointService {
  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
    private readonly policy: CheckpointPolicy,
    private readonly events: EventPublisher = noEvents,
    private readonly jobs: JobWakeup = noJobWakeup,
  ) {}

  async forChangeset(iModelId: string, ref: { index: number } | { id: string }): Promise<CheckpointRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const { index } = await resolveChangesetIndex(tx, iModelId, ref);
      return tx.getCheckpoint(iModelId, index);
    });
    if (!record) throw notFound.checkpoint();
    return record;
  }

  async forNamedVersion(iModelId: string, namedVersionId: string): Promise<CheckpointRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const version = await tx.getNamedVersion(iModelId, namedVersionId);
      if (!version) throw notFound.namedVersion();
      return tx.getCheckpoint(iModelId, version.changesetIndex);
    });
    if (!record) throw notFound.checkpoint();
    return record;
  }

  /** Asks again for a named version's checkpoint: schedules it unless it exists or is already on its way. */
  async rescheduleForNamedVersion(iModelId: string, namedVersionId: string): Promise<CheckpointRecord> {
    const record = await this.store.transaction({ iModelId }, async (tx) => {
      await requireIModel(tx, iModelId);
      const version = await tx.getNamedVersion(iModelId, namedVersionId);
      if (!version) throw notFound.namedVersion();
      return this.scheduleIn(tx, iModelId, version.changesetIndex, version.changesetId ?? "");
    });
    return record;
  }

  /**
   * Asks for the checkpoint of any completed changeset (someone wants the iModel as of it, as a .bim): schedules it
   * unless it exists or is on its way. It is kept like an automatic one (pruned once newer ones are made).
   */
  async requestForChangeset(iModelId: string, ref: { index: number } | { id: string }): Promise<CheckpointRecord> {
    const record = await this.store.transaction({ iModelId }, async (tx) => {
      await requireIModel(tx, iModelId);
      const { index, id } = await resolveChangesetIndex(tx, iModelId, ref);
      const existing = await tx.getCheckpoint(iModelId, index);
      // The baseline's checkpoint is the iModel's initialization, not a job of this service.
      if (index === 0) {
        if (!existing) throw notFound.checkpoint();
        return existing;
      }
      return this.scheduleIn(tx, iModelId, index, id);
    });
    return record;
  }

  /** The newest successful checkpoint (what `GET /briefcases/checkpoint` answers). */
  async latest(iModelId: string): Promise<CheckpointRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.getLatestCheckpoint(iModelId);
    });
    if (!record) throw notFound.checkpoint();
    return record;
  }

  async list(iModelId: string): Promise<CheckpointRecord[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.listCheckpoints(iModelId);
    });
  }

  /** In the transaction creating a named version on this changeset: its checkpoint is scheduled (and kept). */
  async scheduleForNamedVersionIn(
    tx: MetadataTx,
    iModelId: string,
    changesetIndex: number,
    changesetId: string,
  ): Promise<CheckpointRecord | undefined> {
    if (changesetIndex === 0) return undefined; // the baseline is checkpoint 0 already
    return this.scheduleIn(tx, iModelId, changesetIndex, changesetId);
  }

  /**
   * In the transaction completing the push of this changeset: schedules an automatic checkpoint if enough changed
   * since the last one (policy). The push and its checkpoint commit together, so a crash cannot lose the checkpoint.
   */
  async scheduleAutomaticIn(
    tx: MetadataTx,
    iModelId: string,
    changesetIndex: number,
    changesetId: string,
  ): Promise<CheckpointRecord | undefined> {
    if (!(await this.#isDue(tx, iModelId, changesetIndex))) return undefined;
    return this.scheduleIn(tx, iModelId, changesetIndex, changesetId);
  }

  async #isDue(tx: MetadataReader, iModelId: string, changesetIndex: number): Promise<boolean> {
    const { everyChangesets, everyBytes } = this.policy;
    if (everyChangesets <= 0 && everyBytes <= 0) return false;
    // One query: the last checkpoint (failed ones aside) and the bytes pushed since.
    const { lastIndex, bytesSince } = await tx.getCheckpointProgress(iModelId, changesetIndex);
    if (everyChangesets > 0 && changesetIndex - lastIndex >= everyChangesets) return true;
    return everyBytes > 0 && bytesSince >= everyBytes;
  }

  /**
   * Schedules the checkpoint unless it exists or is on its way, and queues its job in the same transaction. Once it
   * commits, this node's runner is woken, and the change feed is told of a checkpoint this call scheduled.
   */
  private async scheduleIn(
    tx: MetadataTx,
    iModelId: string,
    changesetIndex: number,
    changesetId: string,
  ): Promise<CheckpointRecord> {
    const existing = await tx.getCheckpoint(iModelId, changesetIndex);
    // A scheduled row gets its job (again: a no-op while it is queued), so none stays scheduled without one.
    if (existing?.state === "scheduled") {
      await tx.enqueueJob(checkpointJob(existing));
      tx.afterCommit(() => this.jobs.jobQueued());
    }
    if (existing && existing.state !== "failed") return existing;
    const record: CheckpointRecord = {
      iModelId,
      changesetIndex,
      changesetId,
      state: "scheduled",
      blobKey: null,
      size: 0,
      failureReason: null,
      updatedAt: this.clock.now().toISOString(),
    };
    await tx.upsertCheckpoint(record);
    await tx.enqueueJob(checkpointJob(record));
    tx.afterCommit(() => {
      this.events.publish(iModelId, { type: "checkpoint", data: { changesetIndex, state: "scheduled" } });
      this.jobs.jobQueued();
    });
    return record;
  }
}
