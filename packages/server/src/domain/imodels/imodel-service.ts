import type { IModelExtent } from "@modelhub/protocol";
import type { BlobStore } from "../../ports/blob-store.js";
import type { JobWakeup } from "../../ports/job-wakeup.js";
import { noJobWakeup } from "../../ports/job-wakeup.js";
import type {
  IModelFilter,
  IModelRecord,
  MetadataReader,
  MetadataStore,
  MetadataTx,
  OutboxJob,
  Page,
} from "../../ports/metadata-store.js";
import { blobKeys } from "../blob-keys.js";
import type { Actor, Clock } from "../context.js";
import { HubError, invalidRequest, notFound } from "../errors.js";
import { newId } from "../ids.js";
import type { BlobJanitor } from "../maintenance/blob-janitor.js";
import { FIRST_BRIEFCASE_ID } from "@modelhub/protocol";
import { queueWebhook } from "../webhooks/outbox.js";

export const BASELINE_JOB = "baseline.initialize";

/** The job that fills a new iModel (generated, uploaded or copied baseline), queued with the write that needs it. */
const baselineJob = (iModelId: string): OutboxJob => ({
  kind: BASELINE_JOB,
  payload: { iModelId },
  dedupeKey: `baseline:${iModelId}`,
});

export interface CreateIModelInput {
  iTwinId: string;
  name: string;
  description?: string | null;
  extent?: IModelExtent | null;
  containersEnabled?: number;
  /** Present when the client will upload a baseline file of this many bytes. */
  baselineFileSize?: number;
}

/** A clone, fork or template copy of an existing iModel (Clone iModel, Fork iModel, Create iModel with `template`). */
export interface CopyIModelInput {
  kind: "clone" | "fork" | "template";
  iTwinId: string;
  /** Default: the source's. */
  name?: string;
  description?: string | null;
  containersEnabled?: number;
  /** The last source changeset to copy (id, or index; "" or 0: the baseline only). Default: the latest. */
  changesetId?: string;
  changesetIndex?: number;
  preserveHistory?: boolean;
  /** Templates only (clones and forks keep the source's). */
  extent?: IModelExtent | null;
}

export interface UpdateIModelInput {
  name?: string;
  description?: string | null;
  extent?: IModelExtent | null;
}

/** iModel lifecycle: creation (empty or from an uploaded baseline), lookup, update, deletion. */
export class IModelService {
  constructor(
    private readonly store: MetadataStore,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
    /** Woken after a commit that put files in the deletion outbox, so they go at once (else at the next sweep). */
    private readonly janitor: Pick<BlobJanitor, "drainSoon"> | undefined = undefined,
    private readonly jobs: JobWakeup = noJobWakeup,
    /** Told after an iModel was deleted, for what lives outside the metadata store (its blob containers). */
    private readonly onDeleted: (iModelId: string) => Promise<void> = async () => undefined,
  ) {}

  async create(actor: Actor, input: CreateIModelInput): Promise<IModelRecord> {
    const fromBaseline = input.baselineFileSize !== undefined;
    const record: IModelRecord = {
      id: newId(),
      iTwinId: input.iTwinId,
      name: input.name,
      description: input.description ?? null,
      extent: input.extent ?? null,
      containersEnabled: input.containersEnabled ?? 0,
      creatorId: actor.userId,
      createdAt: this.clock.now().toISOString(),
      state: "notInitialized",
      creationMode: fromBaseline ? "fromBaseline" : "empty",
      baselineState: fromBaseline ? "waitingForFile" : "initializationScheduled",
      baselineSize: input.baselineFileSize ?? null,
      baselineFailure: null,
      nextBriefcaseId: FIRST_BRIEFCASE_ID,
    };
    await this.store.transaction({ iTwinId: record.iTwinId }, async (tx) => {
      await this.assertITwinLive(tx, record.iTwinId);
      await this.assertNameFree(tx, record.iTwinId, record.name);
      await tx.insertIModel(record);
      // An empty iModel needs no upload: its baseline is generated right away.
      if (!fromBaseline) await this.#queueBaselineJob(tx, record.id);
      await queueWebhook(tx, this.jobs, {
        eventType: "iModels.iModelCreated.v1",
        iModelId: record.id,
        iTwinId: record.iTwinId,
        content: { userId: actor.userId },
      });
    });
    return record;
  }

  /**
   * Creates the copy and schedules the job that fills it (BaselineJob: re-stamped baseline, then the changesets up
   * to the requested one, in one transaction). Only an initialized source with completed changesets can be copied.
   */
  async copy(actor: Actor, sourceId: string, input: CopyIModelInput): Promise<IModelRecord> {
    const record = await this.store.transaction({ iTwinId: input.iTwinId }, async (tx) => {
      const { source, upTo } = await copySource(tx, sourceId, input);
      const copy: IModelRecord = {
        id: newId(),
        iTwinId: input.iTwinId,
        name: input.name ?? source.name,
        description: input.description !== undefined ? input.description : source.description,
        // Clones and forks always take the extent from the source (the cloud's rule); a template's creator may set one.
        extent: input.extent !== undefined ? input.extent : source.extent,
        containersEnabled: input.containersEnabled ?? source.containersEnabled,
        creatorId: actor.userId,
        createdAt: this.clock.now().toISOString(),
        state: "notInitialized",
        creationMode: input.kind,
        creationSource: {
          kind: input.kind,
          iModelId: sourceId,
          changesetId: upTo.id,
          changesetIndex: upTo.index,
          preserveHistory: input.kind === "clone" || input.preserveHistory === true,
          ...(input.kind === "fork" ? { relationshipId: newId() } : {}),
        },
        baselineState: "initializationScheduled",
        baselineSize: null,
        baselineFailure: null,
        nextBriefcaseId: FIRST_BRIEFCASE_ID,
      };
      await this.assertITwinLive(tx, copy.iTwinId);
      await this.assertNameFree(tx, copy.iTwinId, copy.name);
      await tx.insertIModel(copy);
      await this.#queueBaselineJob(tx, copy.id);
      await queueWebhook(tx, this.jobs, {
        eventType: "iModels.iModelCreated.v1",
        iModelId: copy.id,
        iTwinId: copy.iTwinId,
        content: { userId: actor.userId },
      });
      return copy;
    });
    return record;
  }

  /**
   * Refuses a copy whose source cannot be copied (missing, not initialized, an unknown changeset) without writing
   * anything: checked before the target iTwin is made for it (AccessService.createIn), so that such a refusal does
   * not create and discard an iTwin. `copy` checks the same again in its transaction.
   */
  async checkCopy(sourceId: string, input: CopyIModelInput): Promise<void> {
    await this.store.read((tx) => copySource(tx, sourceId, input));
  }

  async get(id: string): Promise<IModelRecord> {
    const record = await this.store.read((tx) => tx.getIModel(id));
    if (!record) throw notFound.iModel();
    return record;
  }

  async list(filter: IModelFilter, page: Page): Promise<IModelRecord[]> {
    return this.store.read((tx) => tx.listIModels(filter, page));
  }

  async update(id: string, input: UpdateIModelInput): Promise<IModelRecord> {
    // A rename must not race another creation or rename in the same iTwin: scoped to the iTwin as well.
    const iTwinId = (await this.get(id)).iTwinId;
    return this.store.transaction({ iTwinId, iModelId: id }, async (tx) => {
      const record = await tx.getIModel(id);
      if (!record) throw notFound.iModel();
      const updated: IModelRecord = { ...record };
      if (input.name !== undefined && input.name !== record.name) {
        await this.assertNameFree(tx, record.iTwinId, input.name);
        updated.name = input.name;
      }
      if (input.description !== undefined) updated.description = input.description;
      if (input.extent !== undefined) updated.extent = input.extent;
      await tx.updateIModel(updated);
      return updated;
    });
  }

  /**
   * Deletes the metadata (the iModel disappears at once, and its links stop working) and, in the same transaction,
   * asks for its files to be deleted: the janitor removes them right after, and after a crash too.
   */
  async delete(id: string, by?: Actor): Promise<void> {
    await this.store.transaction({ iModelId: id }, async (tx) => {
      const iModel = await tx.getIModel(id);
      if (!iModel) throw notFound.iModel();
      await tx.deleteIModel(id);
      await queueWebhook(tx, this.jobs, {
        eventType: "iModels.iModelDeleted.v1",
        iModelId: id,
        iTwinId: iModel.iTwinId,
        content: by ? { userId: by.userId } : {},
      });
      await tx.requestBlobDeletion(blobKeys.iModelPrefix(id), this.clock.now().getTime());
      tx.afterCommit(() => this.janitor?.drainSoon());
    });
    await this.onDeleted(id);
  }

  /**
   * The client says the baseline upload is done: freeze the file (move it where no link can write), check it has
   * the declared size, then schedule its initialization. Re-sending the request once it succeeded is harmless.
   */
  async completeBaselineUpload(id: string): Promise<IModelRecord> {
    const current = await this.get(id);
    if (current.creationMode !== "fromBaseline") {
      throw invalidRequest("Cannot complete Baseline File upload.", [
        { code: "InvalidChange", message: "The iModel was not created from a baseline file." },
      ]);
    }
    if (current.baselineState !== "waitingForFile") return current;
    const uploaded = await this.blobs.stat(blobKeys.baselineUpload(id));
    if (uploaded && uploaded.size !== current.baselineSize)
      throw baselineSizeConflict(current.baselineSize, uploaded.size);
    // Without an upload, a file frozen by a completion that was interrupted is used.
    const info =
      (uploaded && (await this.blobs.move(blobKeys.baselineUpload(id), blobKeys.baselineReceived(id)))) ||
      (await this.blobs.stat(blobKeys.baselineReceived(id)));
    if (!info)
      throw new HubError("FileNotFound", "The baseline file was not uploaded. Upload it to the upload link first.");
    if (info.size !== current.baselineSize) {
      await this.blobs.delete(blobKeys.baselineReceived(id));
      throw baselineSizeConflict(current.baselineSize, info.size);
    }
    const updated = await this.store.transaction({ iModelId: id }, async (tx) => {
      const record = await tx.getIModel(id);
      if (!record) throw notFound.iModel();
      if (record.baselineState !== "waitingForFile") return record;
      const next: IModelRecord = { ...record, baselineState: "initializationScheduled" };
      await tx.updateIModel(next);
      await this.#queueBaselineJob(tx, id);
      return next;
    });
    return updated;
  }

  /** Queues the job that fills the iModel, and wakes this node's runner once the transaction committed. */
  async #queueBaselineJob(tx: MetadataTx, iModelId: string): Promise<void> {
    await tx.enqueueJob(baselineJob(iModelId));
    tx.afterCommit(() => this.jobs.jobQueued());
  }

  /** A deleted iTwin holds no iModels: its deletion and this creation are serialized (same iTwin scope). */
  private async assertITwinLive(tx: MetadataTx, iTwinId: string): Promise<void> {
    if (await tx.iTwinDeleted(iTwinId)) throw notFound.iTwin();
  }

  private async assertNameFree(tx: MetadataTx, iTwinId: string, name: string): Promise<void> {
    if (await tx.findIModelByName(iTwinId, name)) {
      throw new HubError("iModelExists", `iModel with the name '${name}' already exists within the iTwin.`);
    }
  }
}

/** The source of a copy, which must be initialized, and the changeset the copy ends at. */
async function copySource(
  tx: MetadataReader,
  sourceId: string,
  input: CopyIModelInput,
): Promise<{ source: IModelRecord; upTo: { id: string; index: number } }> {
  const operation =
    input.kind === "clone"
      ? "Cannot clone iModel."
      : input.kind === "fork"
        ? "Cannot fork iModel."
        : "Cannot create iModel.";
  const source = await tx.getIModel(sourceId);
  if (!source) throw notFound.iModel();
  if (source.state !== "initialized")
    throw new HubError("iModelNotInitialized", "The source iModel is not initialized yet.");
  return { source, upTo: await resolveCopyPoint(tx, sourceId, input, operation) };
}

/** The source changeset a copy ends at: the one named (it must be completed), or the latest; index 0 for the baseline. */
async function resolveCopyPoint(
  tx: MetadataReader,
  sourceId: string,
  input: CopyIModelInput,
  operation: string,
): Promise<{ id: string; index: number }> {
  if (input.changesetId !== undefined && input.changesetIndex !== undefined) {
    throw invalidRequest(operation, [
      {
        code: "InvalidValue",
        message: "Provide either 'changesetId' or 'changesetIndex', not both.",
        target: "changesetId",
      },
    ]);
  }
  if (input.changesetId === "" || input.changesetIndex === 0) return { id: "", index: 0 };
  const changeset =
    input.changesetId !== undefined
      ? await tx.getChangesetById(sourceId, input.changesetId)
      : input.changesetIndex !== undefined
        ? await tx.getChangesetByIndex(sourceId, input.changesetIndex)
        : await tx.getLatestChangeset(sourceId);
  if (input.changesetId === undefined && input.changesetIndex === undefined && !changeset) return { id: "", index: 0 };
  if (!changeset || changeset.state !== "fileUploaded") throw notFound.changeset();
  return { id: changeset.id, index: changeset.index };
}

function baselineSizeConflict(declared: number | null, uploaded: number): HubError {
  return new HubError(
    "DataConflict",
    `File size provided during iModel creation does not match actual file size: declared ${declared} bytes, uploaded ${uploaded} bytes.`,
  );
}
