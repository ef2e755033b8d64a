import { LAST_BRIEFCASE_ID } from "@modelhub/protocol";
import type { BriefcaseRecord, MetadataStore, Page, SortDirection } from "../../ports/metadata-store.js";
import type { Actor, Clock } from "../context.js";
import { applicationOf } from "../context.js";
import type { Grants } from "../access/permissions.js";
import { insufficientPermissions, invalidRequest } from "../errors.js";
import type { EventPublisher } from "../../ports/event-bus.js";
import { noEvents } from "../../ports/event-bus.js";
import { requireBriefcase, requireIModel, requireInitializedIModel } from "../guards.js";

/** Locks a briefcase release frees per transaction. */
const RELEASE_STEP = 5_000;

/** Briefcase ids: handed out from 2 upwards, never reused, owned by the user who acquired them. */
export class BriefcaseService {
  constructor(
    private readonly store: MetadataStore,
    private readonly clock: Clock,
    private readonly events: EventPublisher = noEvents,
  ) {}

  async acquire(actor: Actor, iModelId: string, deviceName: string | null): Promise<BriefcaseRecord> {
    const acquired = await this.store.transaction({ iModelId }, async (tx) => {
      const iModel = await requireInitializedIModel(tx, iModelId);
      const briefcaseId = iModel.nextBriefcaseId;
      if (briefcaseId > LAST_BRIEFCASE_ID) {
        throw invalidRequest("Cannot acquire Briefcase.", [
          {
            code: "ResourceQuotaExceeded",
            message: `All ${LAST_BRIEFCASE_ID - 1} briefcase ids of this iModel have been used.`,
            innerError: { code: "MaximumNumberOfBriefcasesPerIModel" },
          },
        ]);
      }
      const record: BriefcaseRecord = {
        iModelId,
        briefcaseId,
        ownerId: actor.userId,
        acquiredAt: this.clock.now().toISOString(),
        deviceName,
        application: applicationOf(actor),
      };
      await tx.insertBriefcase(record);
      await tx.updateIModel({ ...iModel, nextBriefcaseId: briefcaseId + 1 });
      tx.afterCommit(() =>
        this.events.publish(iModelId, {
          type: "briefcase",
          data: { briefcaseId, action: "acquired", ownerId: record.ownerId },
        }),
      );
      return record;
    });
    return acquired;
  }

  /**
   * Releasing a briefcase frees its locks; its id is never handed out again. Only its owner may, or someone with
   * `imodels_manage` (a colleague's lost laptop: github itwinjs-core #7784).
   */
  async release(actor: Actor, grants: Grants, iModelId: string, briefcaseId: number): Promise<void> {
    // Locks go RELEASE_STEP at a time, each step its own transaction, and the briefcase with the last one: one
    // transaction for 200,000 locks wrote all their pages at COMMIT, holding the event loop for 150–250 ms. A
    // release cut short leaves a briefcase with fewer locks, as if its owner had released some; asking again ends it.
    // The change feed hears of it once, with every step's locks, when the step that deletes the briefcase commits.
    let releasedBefore = 0;
    for (;;) {
      const step = await this.store.transaction({ iModelId }, async (tx) => {
        await requireIModel(tx, iModelId);
        const briefcase = await requireBriefcase(tx, iModelId, briefcaseId);
        if (briefcase.ownerId !== actor.userId && !grants.has("imodels_manage")) throw insufficientPermissions();
        const released = await tx.releaseAllLocks(iModelId, briefcaseId, 0, RELEASE_STEP);
        if (released >= RELEASE_STEP) return { done: false, released };
        await tx.deleteBriefcase(iModelId, briefcaseId);
        const locks = releasedBefore + released;
        tx.afterCommit(() => {
          if (locks > 0)
            this.events.publish(iModelId, { type: "locks", data: { briefcaseId, acquired: 0, released: locks } });
          this.events.publish(iModelId, {
            type: "briefcase",
            data: { briefcaseId, action: "released", ownerId: briefcase.ownerId },
          });
        });
        return { done: true, released };
      });
      if (step.done) return;
      releasedBefore += step.released;
    }
  }

  async get(iModelId: string, briefcaseId: number): Promise<BriefcaseRecord> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return requireBriefcase(tx, iModelId, briefcaseId);
    });
  }

  async list(
    iModelId: string,
    filter: { ownerId?: string; direction: SortDirection },
    page: Page,
  ): Promise<BriefcaseRecord[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.listBriefcases(iModelId, filter, page);
    });
  }
}
