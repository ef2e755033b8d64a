import type { NamedVersionState } from "@modelhub/protocol";
import type { MetadataStore, NamedVersionFilter, NamedVersionRecord, Page } from "../../ports/metadata-store.js";
import type { Actor, Clock } from "../context.js";
import { applicationOf } from "../context.js";
import type { CheckpointService } from "../checkpoints/checkpoint-service.js";
import { HubError, notFound } from "../errors.js";
import type { EventPublisher } from "../../ports/event-bus.js";
import { insertUnique, requireIModel, requireInitializedIModel, resolveChangesetIndex } from "../guards.js";
import { newId } from "../ids.js";
import type { GateService } from "../gates/gate-service.js";
import type { JobWakeup } from "../../ports/job-wakeup.js";
import { noJobWakeup } from "../../ports/job-wakeup.js";
import { queueWebhook } from "../webhooks/outbox.js";

export interface CreateNamedVersionInput {
  name: string;
  description: string | null;
  /** Omitted or "" names the baseline. */
  changesetId?: string;
  changesetIndex?: number;
}

/** Named versions: unique names, at most one per changeset. */
export class NamedVersionService {
  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
    /** Told of each named version created, once it committed. */
    private readonly events: EventPublisher,
    /** Schedules the version's checkpoint (and queues its job) in the creating transaction: with it, or not at all. */
    private readonly checkpoints: Pick<CheckpointService, "scheduleForNamedVersionIn">,
    /** Asked before a named version is stored (issue 21); may refuse it. */
    private readonly gates?: Pick<GateService, "check" | "configured">,
    /** Woken when a webhook delivery was queued (issue 21). */
    private readonly jobs: JobWakeup = noJobWakeup,
  ) {}

  async create(actor: Actor, iModelId: string, input: CreateNamedVersionInput): Promise<NamedVersionRecord> {
    const ref =
      input.changesetId !== undefined && input.changesetId !== ""
        ? { id: input.changesetId }
        : { index: input.changesetIndex ?? 0 };
    if (this.gates?.configured) {
      // Outside the transaction (a gate may take seconds); the transaction checks everything again.
      const { iModel, changeset } = await this.store.read(async (tx) => ({
        iModel: await requireInitializedIModel(tx, iModelId),
        changeset: await resolveChangesetIndex(tx, iModelId, ref),
      }));
      await this.gates.check(iModel.iTwinId, () => ({
        event: "namedVersion.create",
        iModel: { id: iModel.id, name: iModel.name, iTwinId: iModel.iTwinId },
        namedVersion: {
          name: input.name,
          description: input.description,
          changesetIndex: changeset.index,
          changesetId: changeset.index === 0 ? null : changeset.id,
        },
        user: { id: actor.userId, ...(actor.displayName !== undefined ? { name: actor.displayName } : {}) },
      }));
    }
    return this.store.transaction({ iModelId }, async (tx) => {
      await requireInitializedIModel(tx, iModelId);
      const changeset = await resolveChangesetIndex(tx, iModelId, ref);
      if (await tx.getNamedVersionByName(iModelId, input.name)) throw exists(input.name);
      if (await tx.getNamedVersionByChangeset(iModelId, changeset.index)) {
        throw new HubError(
          "NamedVersionOnChangesetExists",
          `Named Version for Changeset ${changeset.index} already exists.`,
        );
      }
      const record: NamedVersionRecord = {
        iModelId,
        id: newId(),
        name: input.name,
        description: input.description,
        changesetIndex: changeset.index,
        changesetId: changeset.index === 0 ? null : changeset.id,
        state: "visible",
        creatorId: actor.userId,
        createdAt: this.clock.now().toISOString(),
        application: applicationOf(actor),
      };
      await insertUnique(
        () => tx.insertNamedVersion(record),
        () => exists(input.name),
      );
      tx.afterCommit(() =>
        this.events.publish(iModelId, {
          type: "namedVersion",
          data: { id: record.id, name: record.name, changesetIndex: record.changesetIndex },
        }),
      );
      await this.checkpoints.scheduleForNamedVersionIn(tx, iModelId, record.changesetIndex, record.changesetId ?? "");
      await queueWebhook(tx, this.jobs, {
        eventType: "iModels.namedVersionCreated.v1",
        iModelId,
        content: {
          versionId: record.id,
          changesetId: record.changesetId ?? "",
          changesetIndex: String(record.changesetIndex),
          userId: actor.userId,
        },
      });
      return record;
    });
  }

  async update(
    iModelId: string,
    id: string,
    input: { name?: string; description?: string | null; state?: NamedVersionState },
  ): Promise<NamedVersionRecord> {
    return this.store.transaction({ iModelId }, async (tx) => {
      await requireIModel(tx, iModelId);
      const record = await tx.getNamedVersion(iModelId, id);
      if (!record) throw notFound.namedVersion();
      const updated: NamedVersionRecord = { ...record };
      if (input.name !== undefined && input.name !== record.name) {
        if (await tx.getNamedVersionByName(iModelId, input.name)) throw exists(input.name);
        updated.name = input.name;
      }
      if (input.description !== undefined) updated.description = input.description;
      if (input.state !== undefined) updated.state = input.state;
      await tx.updateNamedVersion(updated);
      return updated;
    });
  }

  async get(iModelId: string, id: string): Promise<NamedVersionRecord> {
    const record = await this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.getNamedVersion(iModelId, id);
    });
    if (!record) throw notFound.namedVersion();
    return record;
  }

  async list(iModelId: string, filter: NamedVersionFilter, page: Page): Promise<NamedVersionRecord[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.listNamedVersions(iModelId, filter, page);
    });
  }
}

function exists(name: string): HubError {
  return new HubError("NamedVersionExists", `Named Version with the name '${name}' already exists.`);
}
