import type { ConflictingLock, LockLevel } from "@modelhub/protocol";
import type { BriefcaseLocks, MetadataStore, MetadataTx, Page } from "../../ports/metadata-store.js";
import type { Grants } from "../access/permissions.js";
import type { Actor } from "../context.js";
import { HubError, insufficientPermissions, notFound } from "../errors.js";
import type { EventPublisher } from "../../ports/event-bus.js";
import { noEvents } from "../../ports/event-bus.js";
import { requireBriefcase, requireIModel, requireInitializedIModel, resolveChangesetIndex } from "../guards.js";
import { yieldIfBusy } from "../../util/event-loop.js";

export interface LockRequest {
  briefcaseId: number;
  /** The changeset the briefcase is at ("" = the baseline). */
  changesetId: string;
  /** Object id → requested level; ids are normalized, each appears once. */
  objects: Map<string, LockLevel>;
}

/** How many locks one `release-chunk` call frees. */
export const RELEASE_CHUNK_SIZE = 1000;

/**
 * Shared/exclusive object locks (hub-semantics.md §1.6):
 * - shared: granted unless another briefcase holds the object exclusively;
 * - exclusive: granted unless another briefcase holds it at all;
 * - both (the cloud's "Update iModel Locks" rule): only if the requester is at or after the changeset with which
 *   the last exclusive holder released the object (otherwise `NewerChangesExist` with the object ids: pull first);
 * - none: releases the requester's lock (`LockNotFound` if it holds none);
 * - shared on an object the requester holds exclusively: steps the lock back to shared (as the cloud, whose released
 *   locks leave out "objects that were demoted from exclusive to shared"); iTwin.js ≥ 5.9 does this when it abandons
 *   the changes of a transaction that upgraded a shared lock. Like a release, it remembers the changeset it was sent
 *   with as the object's last exclusive release, unless that is "" (abandoned: nothing of it was pushed).
 * A request is all-or-nothing: one refusal and nothing in it is granted.
 *
 * Ownership: locks are taken only for one's own briefcase (with `imodels_write`), whoever asks; releasing them is
 * also allowed to `imodels_manage` (a colleague's lost briefcase).
 */
export class LockService {
  constructor(
    private readonly store: MetadataStore,
    private readonly events: EventPublisher = noEvents,
  ) {}

  /**
   * Applies `request` and answers the briefcase's whole lock set as the API does, or nothing when `answer` is false
   * (a modelhub extension: after 10,000 ids, reading the set back and sending it costs about as much as the change).
   */
  async update(actor: Actor, grants: Grants, iModelId: string, request: LockRequest): Promise<BriefcaseLocks>;
  async update(
    actor: Actor,
    grants: Grants,
    iModelId: string,
    request: LockRequest,
    options: { answer: boolean },
  ): Promise<BriefcaseLocks | undefined>;
  async update(
    actor: Actor,
    grants: Grants,
    iModelId: string,
    request: LockRequest,
    options: { answer: boolean } = { answer: true },
  ): Promise<BriefcaseLocks | undefined> {
    const locks = await this.store.transaction({ iModelId }, async (tx) => {
      await requireInitializedIModel(tx, iModelId);
      const briefcase = await requireBriefcase(tx, iModelId, request.briefcaseId);
      let acquires = false;
      for (const level of request.objects.values()) if (level !== "none") acquires = true;
      mayChangeLocks(actor, grants, briefcase.ownerId, acquires);
      const { index: requesterIndex } = await resolveChangesetIndex(tx, iModelId, { id: request.changesetId });
      const me = request.briefcaseId;
      const current = await tx.getObjectLocks(iModelId, [...request.objects.keys()], { releasedAfter: requesterIndex });

      const conflicts: ConflictingLock[] = [];
      const newer: string[] = [];
      const missing: string[] = [];
      const toShare: string[] = [];
      const toExclusive: string[] = [];
      const toRelease: string[] = [];
      const toDemote: string[] = [];

      let seen = 0;
      for (const [objectId, level] of request.objects) {
        // 10,000 objects: other callbacks get their turn now and then (see util/event-loop.ts).
        if (++seen % 1000 === 0) await yieldIfBusy();
        const row = current.get(objectId);
        const exclusiveOther =
          row?.exclusiveBriefcaseId != null && row.exclusiveBriefcaseId !== me ? row.exclusiveBriefcaseId : undefined;
        const sharedOthers = row ? row.sharedBriefcaseIds.filter((id) => id !== me) : [];
        const mineExclusive = row?.exclusiveBriefcaseId === me;
        const mineShared = row ? row.sharedBriefcaseIds.includes(me) : false;

        if (level === "none") {
          if (mineExclusive || mineShared) toRelease.push(objectId);
          else missing.push(objectId);
          continue;
        }
        if (exclusiveOther !== undefined) {
          conflicts.push({ objectId, lockLevel: "exclusive", briefcaseIds: [exclusiveOther] });
          continue;
        }
        if (mineExclusive && level === "shared") {
          toDemote.push(objectId);
          continue;
        }
        // A level already held is kept as is.
        if (mineExclusive || (level === "shared" && mineShared)) continue;
        if (level === "exclusive" && sharedOthers.length > 0) {
          conflicts.push({ objectId, lockLevel: "shared", briefcaseIds: [...sharedOthers].sort((a, b) => a - b) });
          continue;
        }
        // The cloud's rule for every acquiring level: a requester older than the changeset the object was last
        // released with (by its exclusive holder, the only one who could change it) must pull first.
        if (row?.lastExclusiveReleaseIndex != null && row.lastExclusiveReleaseIndex > requesterIndex) {
          newer.push(objectId);
          continue;
        }
        (level === "shared" ? toShare : toExclusive).push(objectId);
      }

      if (conflicts.length > 0) {
        throw new HubError("ConflictWithAnotherUser", "Lock(s) is owned by another Briefcase.", {
          conflictingLocks: conflicts,
        });
      }
      if (newer.length > 0) {
        throw new HubError("NewerChangesExist", "One or more objects have been locked in a newer Changeset.", {
          objectIds: newer,
        });
      }
      if (missing.length > 0) throw notFound.lock();

      if (toRelease.length > 0) await tx.releaseLocks(iModelId, me, toRelease, requesterIndex);
      if (toDemote.length > 0) {
        await tx.releaseLocks(iModelId, me, toDemote, requesterIndex);
        await tx.grantLocks(iModelId, me, "shared", toDemote);
      }
      if (toShare.length > 0) await tx.grantLocks(iModelId, me, "shared", toShare);
      if (toExclusive.length > 0) await tx.grantLocks(iModelId, me, "exclusive", toExclusive);
      const counts = { acquired: toShare.length + toExclusive.length, released: toRelease.length + toDemote.length };
      // Counts only (a request may name 10,000 objects); who holds what is `GET …/locks`.
      if (counts.acquired + counts.released > 0)
        tx.afterCommit(() => this.events.publish(iModelId, { type: "locks", data: { briefcaseId: me, ...counts } }));
      return options.answer ? this.locksOf(tx, iModelId, me) : undefined;
    });
    return locks;
  }

  /** Releases up to one chunk of the briefcase's locks; `isLastChunk` once none are left. */
  async releaseChunk(
    actor: Actor,
    grants: Grants,
    iModelId: string,
    briefcaseId: number,
    changesetId: string,
  ): Promise<{ isLastChunk: boolean }> {
    const result = await this.store.transaction({ iModelId }, async (tx) => {
      await requireIModel(tx, iModelId);
      const briefcase = await requireBriefcase(tx, iModelId, briefcaseId);
      mayChangeLocks(actor, grants, briefcase.ownerId, false);
      const { index } = await resolveChangesetIndex(tx, iModelId, { id: changesetId });
      const released = await tx.releaseAllLocks(iModelId, briefcaseId, index, RELEASE_CHUNK_SIZE);
      if (released > 0)
        tx.afterCommit(() =>
          this.events.publish(iModelId, { type: "locks", data: { briefcaseId, acquired: 0, released } }),
        );
      const left = await tx.listLocks(iModelId, { briefcaseId }, { limit: 1, offset: 0 });
      return { isLastChunk: left.length === 0 };
    });
    return result;
  }

  async list(
    iModelId: string,
    filter: { briefcaseId?: number; level?: "shared" | "exclusive" },
    page: Page,
  ): Promise<BriefcaseLocks[]> {
    return this.store.read(async (tx) => {
      await requireIModel(tx, iModelId);
      return tx.listLocks(iModelId, filter, page);
    });
  }

  private async locksOf(tx: MetadataTx, iModelId: string, briefcaseId: number): Promise<BriefcaseLocks> {
    const pages = await tx.listLocks(iModelId, { briefcaseId }, { limit: Number.MAX_SAFE_INTEGER, offset: 0 });
    return pages[0] ?? { briefcaseId, exclusive: [], shared: [] };
  }
}

/** Acquiring: own briefcase and `imodels_write`. Releasing: the same, or `imodels_manage` for anyone's briefcase. */
function mayChangeLocks(actor: Actor, grants: Grants, ownerId: string, acquires: boolean): void {
  const own = ownerId === actor.userId;
  if (own && grants.has("imodels_write")) return;
  if (!acquires && grants.has("imodels_manage")) return;
  throw insufficientPermissions();
}
