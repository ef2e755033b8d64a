// Admitting a push: the checks a changeset must pass to take the iModel's next index, and its reservation.
import type { ChangesetRecord, MetadataTx } from "../../ports/metadata-store.js";
import type { Actor } from "../context.js";
import { applicationOf } from "../context.js";
import { HubError, insufficientPermissions, invalidRequest, invalidValue, notFound } from "../errors.js";
import { requireBriefcase, requireInitializedIModel } from "../guards.js";

export interface CreateChangesetInput {
  id: string;
  parentId: string;
  briefcaseId: number;
  description: string | null;
  containingChanges: number;
  fileSize: number;
  groupId: string | null;
  synchronizationInfo: { taskId: string; changedFiles: string[] | null } | null;
  /** iTwin.js's `ChangesetProps.uncompressedSize` (a modelhub extension of the API), when the client sends it. */
  uncompressedSize?: number | null;
}

/**
 * In the caller's transaction: checks that `input` may become the iModel's next changeset (one's own briefcase, an
 * open group, the parent at the tip, no other push in flight unless it expired) and reserves its index
 * (`waitingForFile`). A repeated create of the same push renews its reservation (`created: false`); a push in flight
 * from the same briefcase, or one that expired, is dropped (`replaced`: its files are the caller's to delete).
 */
export async function reservePush(
  tx: MetadataTx,
  actor: Actor,
  iModelId: string,
  input: CreateChangesetInput,
  now: Date,
  pendingPushTimeoutMs: number,
): Promise<{ record: ChangesetRecord; created: boolean; replaced?: ChangesetRecord }> {
  let replaced: ChangesetRecord | undefined;
  await requireInitializedIModel(tx, iModelId);
  const briefcase = await requireBriefcase(tx, iModelId, input.briefcaseId);
  // One pushes from one's own briefcase only, whatever one's permissions (a manager included).
  if (briefcase.ownerId !== actor.userId) throw insufficientPermissions();
  if (input.groupId !== null) {
    const group = await tx.getChangesetGroup(iModelId, input.groupId);
    if (!group) throw notFound.changesetGroup();
    if (group.state !== "inProgress") {
      throw invalidRequest("Cannot create Changeset.", [
        {
          code: "InvalidChange",
          message: `Changeset Group '${group.id}' is ${group.state}: it accepts no more changesets.`,
          target: "groupId",
        },
      ]);
    }
  }

  // The changeset with this id, the pending push and the tip: one read.
  const { byId: existing, pending, latest: tip } = await tx.getChangesetsForPush(iModelId, input.id);
  if (existing) {
    if (existing.state === "fileUploaded") {
      throw new HubError("ChangesetExists", `Changeset '${input.id}' already exists.`);
    }
    if (existing.briefcaseId === input.briefcaseId && existing.parentId === input.parentId) {
      // A retried create (the first answer was lost) gets the same reservation with a fresh lease, but only when
      // it comes from the user who made it and describes the same file: the answer carries the upload link.
      if (existing.creatorId !== actor.userId) {
        throw new HubError(
          "InsufficientPermissions",
          "The user has insufficient permissions for the requested operation.",
        );
      }
      if (existing.fileSize !== input.fileSize) {
        throw invalidValue(
          "Cannot create Changeset.",
          "fileSize",
          `Provided 'fileSize' value is not valid: this push was created for a file of ${existing.fileSize} bytes, not ${input.fileSize}.`,
        );
      }
      const renewed: ChangesetRecord = { ...existing, pushedAt: now.toISOString() };
      await tx.updateChangeset(renewed);
      return { record: renewed, created: false };
    }
  }

  if (pending) {
    const sameBriefcase = pending.briefcaseId === input.briefcaseId;
    const expired = now.getTime() - Date.parse(pending.pushedAt) > pendingPushTimeoutMs;
    if (!sameBriefcase && !expired)
      throw new HubError("ConflictWithAnotherUser", "Another user is pushing a Changeset.");
    // The same briefcase gave up on its previous push (or the other push was abandoned): drop it.
    await tx.deleteChangeset(iModelId, pending.index);
    replaced = pending;
  }

  const tipId = tip?.id ?? "";
  if (input.parentId !== tipId) {
    const parentKnown =
      input.parentId === "" || (await tx.getChangesetById(iModelId, input.parentId))?.state === "fileUploaded";
    if (!parentKnown) {
      throw invalidValue(
        "Cannot create Changeset.",
        "parentId",
        `Provided 'parentId' value is not valid: changeset '${input.parentId}' does not exist in this iModel.`,
      );
    }
    throw new HubError(
      "PullIsRequired",
      `Changeset parent is not the latest changeset: the iModel is at changeset ${tip?.index ?? 0} ('${tipId}'). Pull and merge, then push again.`,
    );
  }

  const record: ChangesetRecord = {
    iModelId,
    index: (tip?.index ?? 0) + 1,
    id: input.id,
    parentId: input.parentId,
    description: input.description,
    briefcaseId: input.briefcaseId,
    containingChanges: input.containingChanges,
    fileSize: input.fileSize,
    creatorId: actor.userId,
    pushedAt: now.toISOString(),
    state: "waitingForFile",
    groupId: input.groupId,
    synchronizationInfo: input.synchronizationInfo,
    application: applicationOf(actor),
    uncompressedSize: input.uncompressedSize ?? null,
  };
  await tx.insertChangeset(record);
  return { record, created: true, ...(replaced ? { replaced } : {}) };
}
