import type { IModelExtent } from "@modelhub/protocol";
import type { BlobStore } from "../../ports/blob-store.js";
import type { JobQueue } from "../../ports/job-queue.js";
import type { IModelFilter, IModelRecord, MetadataStore, MetadataTx, Page } from "../../ports/metadata-store.js";
import { blobKeys } from "../blob-keys.js";
import type { Actor, Clock } from "../context.js";
import { HubError, invalidRequest, notFound } from "../errors.js";
import { newId } from "../ids.js";
import { FIRST_BRIEFCASE_ID } from "@modelhub/protocol";

export const BASELINE_JOB = "baseline.initialize";

export interface CreateIModelInput {
  iTwinId: string;
  name: string;
  description?: string | null;
  extent?: IModelExtent | null;
  containersEnabled?: number;
  /** Present when the client will upload a baseline file of this many bytes. */
  baselineFileSize?: number;
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
    private readonly jobs: JobQueue,
    private readonly clock: Clock,
    /** Told when files were put in the deletion outbox, so they can go at once. */
    private readonly onBlobDeletionRequested: () => void = () => undefined,
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
    await this.store.transaction(async (tx) => {
      await this.assertNameFree(tx, record.iTwinId, record.name);
      await tx.insertIModel(record);
    });
    // An empty iModel needs no upload: its baseline is generated right away.
    if (!fromBaseline) await this.jobs.enqueue({ kind: BASELINE_JOB, payload: { iModelId: record.id }, dedupeKey: `baseline:${record.id}` });
    return record;
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
    return this.store.transaction(async (tx) => {
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
  async delete(id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.getIModel(id))) throw notFound.iModel();
      await tx.deleteIModel(id);
      await tx.requestBlobDeletion(blobKeys.iModelPrefix(id), this.clock.now().getTime());
    });
    this.onBlobDeletionRequested();
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
    if (uploaded && uploaded.size !== current.baselineSize) throw baselineSizeConflict(current.baselineSize, uploaded.size);
    // Without an upload, a file frozen by a completion that was interrupted is used.
    const info =
      (uploaded && (await this.blobs.move(blobKeys.baselineUpload(id), blobKeys.baselineReceived(id)))) || (await this.blobs.stat(blobKeys.baselineReceived(id)));
    if (!info) throw new HubError("FileNotFound", "The baseline file was not uploaded. Upload it to the upload link first.");
    if (info.size !== current.baselineSize) {
      await this.blobs.delete(blobKeys.baselineReceived(id));
      throw baselineSizeConflict(current.baselineSize, info.size);
    }
    const updated = await this.store.transaction(async (tx) => {
      const record = await tx.getIModel(id);
      if (!record) throw notFound.iModel();
      if (record.baselineState !== "waitingForFile") return record;
      const next: IModelRecord = { ...record, baselineState: "initializationScheduled" };
      await tx.updateIModel(next);
      return next;
    });
    await this.jobs.enqueue({ kind: BASELINE_JOB, payload: { iModelId: id }, dedupeKey: `baseline:${id}` });
    return updated;
  }

  private async assertNameFree(tx: MetadataTx, iTwinId: string, name: string): Promise<void> {
    if (await tx.findIModelByName(iTwinId, name)) {
      throw new HubError("iModelExists", `iModel with the name '${name}' already exists within the iTwin.`);
    }
  }
}

function baselineSizeConflict(declared: number | null, uploaded: number): HubError {
  return new HubError(
    "DataConflict",
    `File size provided during iModel creation does not match actual file size: declared ${declared} bytes, uploaded ${uploaded} bytes.`,
  );
}
