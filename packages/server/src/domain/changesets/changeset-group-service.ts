import type { ChangesetGroupState } from "@modelhub/protocol";
import type { ChangesetGroupRecord, MetadataStore, Page } from "../../ports/metadata-store.js";
import type { Actor, Clock } from "../context.js";
import { invalidRequest, notFound } from "../errors.js";
import { requireIModel, requireInitializedIModel, resolveChangesetIndex } from "../guards.js";
import { newId } from "../ids.js";
import type { JobWakeup } from "../../ports/job-wakeup.js";
import { noJobWakeup } from "../../ports/job-wakeup.js";
import { queueWebhook } from "../webhooks/outbox.js";

/** Changeset groups (one logical synchronization run) and per-changeset extended data. */
export class ChangesetGroupService {
  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
    /** Woken when a webhook delivery was queued (issue 21). */
    private readonly jobs: JobWakeup = noJobWakeup,
  ) {}

  async createGroup(actor: Actor, iModelId: string, description: string | null): Promise<ChangesetGroupRecord> {
    return this.store.transaction({ iModelId }, async (tx) => {
      await requireInitializedIModel(tx, iModelId);
      const record: ChangesetGroupRecord = {
        iModelId,
        id: newId(),
        description,
        state: "inProgress",
        creatorId: actor.userId,
        createdAt: this.clock.now().toISOString(),
      };
      await tx.insertChangesetGroup(record);
      return record;
    });
  }

  /** Clients may only close a group (`completed`); the other states are the hub's. */
  async updateGroup(
    iModelId: string,
    id: string,
    state: ChangesetGroupState,
    by?: Actor,
  ): Promise<ChangesetGroupRecord> {
    return this.store.transaction({ iModelId }, async (tx) => {
      await requireIModel(tx, iModelId);
      const record = await tx.getChangesetGroup(iModelId, id);
      if (!record) throw notFound.changesetGroup();
      if (state !== "completed" || record.state !== "inProgress") {
        if (state === record.state) return record;
        throw invalidRequest("Cannot update Changeset Group.", [
          {
            code: "InvalidChange",
            message: `Changeset Group state cannot change from '${record.state}' to '${state}'. Only an 'inProgress' group can be set to 'completed'.`,
            target: "state",
          },
        ]);
      }
      const updated: ChangesetGroupRecord = { ...record, state };
      await tx.updateChangesetGroup(updated);
      await queueWebhook(tx, this.jobs, {
        eventType: "iModels.changesetGroupCompleted.v1",
        iModelId,
        content: { changesetGroupId: id, ...(by ? { userId: by.userId } : {}) },
      });
      return updated;
    });
  }

  async getGroup(iModelId: string, id: string): Promise<ChangesetGroupRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.getChangesetGroup(iModelId, id);
    });
    if (!record) throw notFound.changesetGroup();
    return record;
  }

  async listGroups(iModelId: string, page: Page): Promise<ChangesetGroupRecord[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.listChangesetGroups(iModelId, page);
    });
  }

  async putExtendedData(
    iModelId: string,
    ref: { index: number } | { id: string },
    data: string,
  ): Promise<{ changesetId: string; changesetIndex: number; data: string }> {
    return this.store.transaction({ iModelId }, async (tx) => {
      await requireIModel(tx, iModelId);
      const changeset = await resolveChangesetIndex(tx, iModelId, ref);
      if (changeset.index === 0) throw notFound.changeset();
      await tx.putExtendedData(iModelId, changeset.index, data);
      return { changesetId: changeset.id, changesetIndex: changeset.index, data };
    });
  }

  async getExtendedData(
    iModelId: string,
    ref: { index: number } | { id: string },
  ): Promise<{ changesetId: string; changesetIndex: number; data: string }> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const changeset = await resolveChangesetIndex(tx, iModelId, ref);
      const data = changeset.index === 0 ? undefined : await tx.getExtendedData(iModelId, changeset.index);
      if (data === undefined) throw notFound.extendedData();
      return { changesetId: changeset.id, changesetIndex: changeset.index, data };
    });
  }

  async listExtendedData(
    iModelId: string,
    page: Page,
  ): Promise<{ changesetId: string; changesetIndex: number; data: string }[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      const rows = await tx.listExtendedData(iModelId, page);
      const result = [];
      for (const row of rows) {
        const changeset = await tx.getChangesetByIndex(iModelId, row.changesetIndex);
        result.push({ changesetId: changeset?.id ?? "", changesetIndex: row.changesetIndex, data: row.data });
      }
      return result;
    });
  }
}
