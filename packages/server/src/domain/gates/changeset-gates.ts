import type { ChangesetRecord, IModelRecord, MetadataStore } from "../../ports/metadata-store.js";
import type { Actor } from "../context.js";
import { HubError } from "../errors.js";
import type { GateLinks, GateService } from "./gate-service.js";

/**
 * Asks the iModel's gates about a push whose file is frozen at `fileKey` (verified, not yet accepted) and throws
 * their refusal. A refused push's reservation is dropped, so nothing of it stays behind and other briefcases need not
 * wait for it to expire; the same briefcase may push again (the same changeset or a corrected one).
 */
export async function askGates(
  gates: Pick<GateService, "check">,
  store: MetadataStore,
  reserved: ChangesetRecord,
  fileKey: string,
  { actor, iModel, links }: { actor: Actor; iModel: IModelRecord; links: GateLinks | undefined },
): Promise<void> {
  try {
    await gates.check(iModel.iTwinId, () => ({
      event: "changeset.push",
      iModel: { id: iModel.id, name: iModel.name, iTwinId: iModel.iTwinId },
      changeset: {
        id: reserved.id,
        index: reserved.index,
        parentId: reserved.parentId,
        description: reserved.description,
        briefcaseId: reserved.briefcaseId,
        creator: reserved.creatorId,
        fileSize: reserved.fileSize,
        downloadUrl: links?.download(fileKey) ?? "",
      },
      user: { id: actor.userId, ...(actor.displayName !== undefined ? { name: actor.displayName } : {}) },
    }));
  } catch (err) {
    if (err instanceof HubError) {
      await store.transaction({ iModelId: reserved.iModelId }, async (tx) => {
        const now = await tx.getChangesetById(reserved.iModelId, reserved.id);
        if (now?.state === "waitingForFile" && now.briefcaseId === reserved.briefcaseId)
          await tx.deleteChangeset(reserved.iModelId, now.index);
      });
    }
    throw err;
  }
}
