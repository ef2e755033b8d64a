import { Readable } from "node:stream";
import type { BlobInfo, BlobStore } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import type { ScratchSpace } from "../../ports/scratch-space.js";
import type { IModelFileWorker } from "../../ports/imodel-file-worker.js";
import type {
  ChangesetFilter,
  ChangesetRecord,
  IModelRecord,
  MetadataStore,
  Page,
} from "../../ports/metadata-store.js";
import { blobKeys } from "../blob-keys.js";
import { KeyedMutex } from "../keyed-mutex.js";
import type { Actor, Clock } from "../context.js";
import { HubError, insufficientPermissions, invalidValue, notFound } from "../errors.js";
import type { CheckpointService } from "../checkpoints/checkpoint-service.js";
import type { EventPublisher } from "../../ports/event-bus.js";
import { requireIModel } from "../guards.js";
import { changeSummaryJob } from "../changes/change-summary-job.js";
import type { JobWakeup } from "../../ports/job-wakeup.js";
import { noJobWakeup } from "../../ports/job-wakeup.js";
import type { GateLinks, GateService } from "../gates/gate-service.js";
import { askGates } from "../gates/changeset-gates.js";
import { queueWebhook } from "../webhooks/outbox.js";
import { ChangesetIdCheck } from "./changeset-id-check.js";
import type { CreateChangesetInput } from "./changeset-reservation.js";
import { reservePush } from "./changeset-reservation.js";
import type { ChangesetRelated } from "./changeset-related.js";
import { relatedOf, relatedOfPage } from "./changeset-related.js";

export type { CreateChangesetInput } from "./changeset-reservation.js";

/** Who pushes, into which iModel, and the links gates may follow to the file (a completion's or a push's). */
type PushContext = { actor: Actor; iModel: IModelRecord; links: GateLinks | undefined };

export interface ChangesetServiceOptions {
  /**
   * How long a changeset may wait for its file before another briefcase may push over it. Until then every other
   * push gets `ConflictWithAnotherUser`, so a crashed client blocks the iModel at most this long.
   */
  pendingPushTimeoutMs: number;
  /** Recompute each changeset's id from its file and parent with iTwin.js and refuse a mismatch. */
  verifyChangesetIds: boolean;
}

/**
 * Linear changeset history. A push is create (reserves the next index, `waitingForFile`) → file upload →
 * complete (`fileUploaded`). Only one push per iModel is in flight at a time; its parent must be the tip.
 */
export class ChangesetService {
  constructor(
    private readonly store: MetadataStore,
    private readonly blobs: BlobStore,
    worker: IModelFileWorker | undefined,
    scratch: ScratchSpace,
    private readonly clock: Clock,
    private readonly options: ChangesetServiceOptions,
    /** Told of each changeset that joined the history, once its push committed. */
    private readonly events: EventPublisher,
    /** Schedules the automatic checkpoint a push may call for, in the push's own transaction. */
    private readonly checkpoints: Pick<CheckpointService, "scheduleAutomaticIn">,
    /** Woken after a push committed: its change summary job is queued. */
    private readonly jobs: JobWakeup = noJobWakeup,
    /** Asked before a changeset joins the history (issue 21); may refuse it. */
    private readonly gates?: Pick<GateService, "check" | "configured">,
  ) {
    this.#ids = new ChangesetIdCheck(store, blobs, worker, scratch, options.verifyChangesetIds);
  }

  readonly #ids: ChangesetIdCheck;
  readonly #completing = new KeyedMutex();

  async create(
    actor: Actor,
    iModelId: string,
    input: CreateChangesetInput,
  ): Promise<{ record: ChangesetRecord; created: boolean }> {
    // Provisional: a reservation lost in a database crash only fails its push (the completion reads it back).
    const result = await this.store.transaction({ iModelId, provisional: true }, (tx) =>
      reservePush(tx, actor, iModelId, input, this.clock.now(), this.options.pendingPushTimeoutMs),
    );
    const { replaced } = result;
    if (replaced) {
      // Its upload (no link can write it any more) and what an interrupted completion may have left; a new push of
      // the same changeset id replaces that file itself when it completes.
      await this.blobs.delete(blobKeys.changesetUpload(iModelId, replaced.id, replaced.briefcaseId));
      if (replaced.id !== result.record.id) await this.blobs.delete(blobKeys.changeset(iModelId, replaced.id));
    }
    return { record: result.record, created: result.created };
  }

  /**
   * The file is uploaded: freeze it (move it where no link can write), check its size and id on the frozen bytes,
   * then make the changeset part of history. What was verified is what is kept. Completing a changeset that is
   * already complete returns it unchanged.
   */
  async complete(
    actor: Actor,
    iModelId: string,
    changesetId: string,
    briefcaseId: number,
    links?: GateLinks,
    /** The iModel's row when the caller has just read it (the HTTP layer, to authorize): not read again. */
    known?: IModelRecord,
  ): Promise<ChangesetRecord> {
    // One read for all three (each transaction is round trips on PostgreSQL): the briefcase is read by the id given.
    const { iModel, current, briefcase } = await this.store.read(async (tx) => ({
      iModel: known?.id === iModelId ? known : await requireIModel(tx, iModelId),
      current: await tx.getChangesetById(iModelId, changesetId),
      briefcase: await tx.getBriefcase(iModelId, briefcaseId),
    }));
    if (!current) throw notFound.changeset();
    if (current.creatorId !== actor.userId) {
      // Only the user who started a push may finish it.
      throw new HubError(
        "InsufficientPermissions",
        "The user has insufficient permissions for the requested operation.",
      );
    }
    if (current.briefcaseId !== briefcaseId) {
      throw invalidValue(
        "Cannot update Changeset.",
        "briefcaseId",
        `Provided 'briefcaseId' value is not valid: the Changeset was created by briefcase ${current.briefcaseId}.`,
      );
    }
    if (current.state === "fileUploaded") return current;
    // The briefcase may have been released meanwhile (by a manager: the lost-laptop case): the push ends there.
    if (!briefcase) throw notFound.briefcase();
    if (briefcase.ownerId !== actor.userId) throw insufficientPermissions();

    // Two completions of one push (a client retrying while the first is still verifying) run one after the other.
    return this.#completing.run(`${iModelId}/${changesetId}`, (waited) =>
      this.freezeVerifyCommit(current, { actor, iModel, links }, waited),
    );
  }

  private async freezeVerifyCommit(
    reserved: ChangesetRecord,
    context: PushContext,
    /** Whether another completion of this push ran first: `reserved` is read again then. */
    waited: boolean,
  ): Promise<ChangesetRecord> {
    const { iModelId, id } = reserved;
    const completed = await this.#completedMeanwhile(reserved, waited);
    if (completed) return completed;
    const uploadKey = blobKeys.changesetUpload(iModelId, id, reserved.briefcaseId);
    const finalKey = blobKeys.changeset(iModelId, id);
    // Freeze: from here on no link can change the bytes that are checked and kept. Without an upload, a frozen file
    // left by a completion that was interrupted (crash, lost connection) is checked again.
    let frozen: BlobInfo | undefined;
    const copied = this.#ids.copiesToCheck;
    if (copied) {
      // A store without local files (Azure): one read of the upload makes the frozen copy and the file the id is
      // computed from; the upload itself is deleted beside the commit below.
      frozen = await this.#ids.copyAndCheck(reserved, uploadKey, finalKey).catch(async (err: unknown) => {
        const uploaded = err instanceof BlobStoreError && err.code === "TooLarge" && (await this.blobs.stat(uploadKey));
        throw uploaded ? sizeConflict(reserved.fileSize, uploaded.size) : err;
      });
    } else {
      const uploaded = await this.blobs.stat(uploadKey);
      if (uploaded && uploaded.size !== reserved.fileSize) throw sizeConflict(reserved.fileSize, uploaded.size);
      // An id check of these very bytes in progress reads the upload where it is: let it finish before the file moves
      // (the verification below waits for its result anyway), or it fails and the id is computed a second time.
      if (uploaded) await this.#ids.settleEarly(uploadKey, uploaded.etag);
      frozen = uploaded && (await this.blobs.move(uploadKey, finalKey));
    }
    frozen ??= await this.blobs.stat(finalKey);
    if (!frozen)
      throw new HubError("FileNotFound", "The Changeset file was not uploaded. Upload it to the upload link first.");
    await this.#accept(reserved, finalKey, context, async () => {
      if (frozen.size !== reserved.fileSize) throw sizeConflict(reserved.fileSize, frozen.size);
      if (this.#ids.enabled) await this.#ids.verify(reserved, finalKey, uploadKey, frozen.etag);
    });
    // The copied upload is of no use once its copy is accepted: deleted without holding up the answer (if that fails,
    // or the process stops first, the blob janitor finds it: no push is in flight for it any more).
    if (copied) this.blobs.delete(uploadKey).catch(() => undefined);
    return this.#commit(reserved, context);
  }

  /**
   * A push in one request (a modelhub extension: the file comes with the changeset's properties): reserves the next
   * index as `create` does, stores the file where the changeset keeps it, checks its id from these very bytes, asks
   * the gates, and makes it part of history as a completion does. Sent again after a lost answer, it finds its own
   * reservation (and carries on) or its changeset complete (`ChangesetExists`, as a repeated create).
   */
  async push(
    actor: Actor,
    iModelId: string,
    input: CreateChangesetInput,
    file: Buffer,
    links?: GateLinks,
    /** The iModel's row when the caller has just read it (the HTTP layer, to authorize): not read again. */
    known?: IModelRecord,
  ): Promise<{ record: ChangesetRecord; created: boolean }> {
    if (file.length !== input.fileSize) throw sizeConflict(input.fileSize, file.length);
    // The id is computed from these bytes while the push is reserved and the file stored.
    const computed = this.#ids.computeFromBytes(input.id, input.parentId, file);
    const { record: reserved, created } = await this.create(actor, iModelId, input);
    const iModel = known?.id === iModelId ? known : await this.store.read((tx) => requireIModel(tx, iModelId));
    const context = { actor, iModel, links };
    const record = await this.#completing.run(`${iModelId}/${reserved.id}`, async (waited) => {
      const completed = await this.#completedMeanwhile(reserved, waited);
      if (completed) return completed;
      const key = blobKeys.changeset(iModelId, reserved.id);
      await this.blobs.put(key, Readable.from([file]));
      await this.#accept(reserved, key, context, () => this.#ids.verifyComputed(reserved, computed));
      return this.#commit(reserved, context);
    });
    return { record, created };
  }

  /**
   * After waiting for another completion of the same push (`waited`): the changeset if that one completed it.
   * Throws when the reservation is no longer this briefcase's (it expired and another briefcase pushed meanwhile).
   */
  async #completedMeanwhile(reserved: ChangesetRecord, waited: boolean): Promise<ChangesetRecord | undefined> {
    const latest = waited
      ? await this.store.read((tx) => tx.getChangesetById(reserved.iModelId, reserved.id))
      : reserved;
    if (latest?.state === "fileUploaded") return latest;
    if (!latest || latest.briefcaseId !== reserved.briefcaseId)
      throw new HubError("ConflictWithAnotherUser", "Another user is pushing a Changeset.");
    return undefined;
  }

  /**
   * Runs `check` (size and id of the file at `key`), then the gates, which see the very bytes that will be kept,
   * outside any transaction: a slow gate holds up this push only (the iModel's next push waits anyway: its parent
   * must be this changeset). Not accepted: the file is deleted (the client sends it again; the copy is of no use).
   */
  async #accept(
    reserved: ChangesetRecord,
    key: string,
    context: PushContext,
    check: () => Promise<void>,
  ): Promise<void> {
    try {
      await check();
      if (this.gates?.configured) await askGates(this.gates, this.store, reserved, key, context);
    } catch (err) {
      if (err instanceof HubError) await this.blobs.delete(key);
      throw err;
    }
  }

  /** Makes a checked push part of history, with what follows it (event, checkpoint, summary, webhooks). */
  #commit(reserved: ChangesetRecord, context: PushContext): Promise<ChangesetRecord> {
    const { iModelId, id } = reserved;
    return this.store.transaction({ iModelId }, async (tx) => {
      const now = await tx.getChangesetById(iModelId, id);
      if (now?.state === "fileUploaded") return now;
      if (!now || now.briefcaseId !== reserved.briefcaseId)
        throw new HubError("ConflictWithAnotherUser", "Another user is pushing a Changeset.");
      const done: ChangesetRecord = { ...now, state: "fileUploaded", pushedAt: this.clock.now().toISOString() };
      await tx.updateChangeset(done);
      tx.afterCommit(() =>
        this.events.publish(iModelId, {
          type: "changeset",
          data: {
            index: done.index,
            id: done.id,
            briefcaseId: done.briefcaseId,
            creatorId: done.creatorId,
            description: done.description,
            pushDateTime: done.pushedAt,
          },
        }),
      );
      // Committed with the push, or not at all (its event follows the changeset's).
      await this.checkpoints.scheduleAutomaticIn(tx, iModelId, done.index, done.id);
      // Its element-level summary, queued with the push itself: a crash after this commit cannot lose it.
      await tx.enqueueJob(changeSummaryJob(iModelId, done.index));
      tx.afterCommit(() => this.jobs.jobQueued());
      await queueWebhook(tx, this.jobs, {
        eventType: "iModels.changesetPushed.v1",
        iModelId,
        iTwinId: context.iModel.iTwinId,
        content: {
          changesetId: done.id,
          changesetIndex: String(done.index),
          briefcaseId: String(done.briefcaseId),
          userId: done.creatorId,
        },
      });
      return done;
    });
  }

  /**
   * Starts recomputing the id of a changeset file that was just uploaded, so that completing its push finds it done
   * (ChangesetIdCheck.startEarly).
   */
  checkIdEarly(key: string, etag: string): void {
    this.#ids.startEarly(key, etag);
  }

  /** A changeset by id or index; ones still waiting for their file are found too (their state says so). */
  async get(iModelId: string, ref: { index: number } | { id: string }): Promise<ChangesetRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return "index" in ref ? tx.getChangesetByIndex(iModelId, ref.index) : tx.getChangesetById(iModelId, ref.id);
    });
    if (!record) throw notFound.changeset();
    return record;
  }

  async list(iModelId: string, filter: Omit<ChangesetFilter, "onlyUploaded">, page: Page): Promise<ChangesetRecord[]> {
    return (await this.listWithRelated(iModelId, filter, page, false)).map((r) => r.record);
  }

  /**
   * A page of changesets and what their links point at (named version, nearest earlier checkpoint), read in one
   * snapshot with two extra queries per page rather than two per changeset.
   */
  async listWithRelated(
    iModelId: string,
    filter: Omit<ChangesetFilter, "onlyUploaded">,
    page: Page,
    withRelated = true,
  ): Promise<{ record: ChangesetRecord; related: ChangesetRelated }[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const records = await tx.listChangesets(iModelId, { ...filter, onlyUploaded: true }, page);
      if (!withRelated) return records.map((record) => ({ record, related: {} }));
      return relatedOfPage(tx, iModelId, records);
    });
  }

  /** One changeset and what its links point at. */
  async getWithRelated(
    iModelId: string,
    ref: { index: number } | { id: string },
  ): Promise<{ record: ChangesetRecord; related: ChangesetRelated }> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const record =
        "index" in ref
          ? await tx.getChangesetByIndex(iModelId, ref.index)
          : await tx.getChangesetById(iModelId, ref.id);
      if (!record) throw notFound.changeset();
      return { record, related: await relatedOf(tx, record) };
    });
  }

  async related(record: ChangesetRecord): Promise<ChangesetRelated> {
    return this.store.read((tx) => relatedOf(tx, record));
  }
}

function sizeConflict(declared: number, uploaded: number): HubError {
  return new HubError(
    "DataConflict",
    `File size provided during Changeset creation does not match actual file size: declared ${declared} bytes, uploaded ${uploaded} bytes.`,
  );
}
