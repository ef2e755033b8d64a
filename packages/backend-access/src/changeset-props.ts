// The hub's changesets as iTwin.js's `ChangesetProps`.
import type { ChangesetProps } from "@itwin/core-common";
import type { Changeset } from "@modelhub/protocol";

/** The props of changeset 0 (the baseline), which the hub does not list. */
export const BASELINE: ChangesetProps = {
  id: "",
  index: 0,
  parentId: "",
  description: "version0",
  changesType: 0,
  briefcaseId: 0,
  pushDate: "",
  userCreated: "",
  size: 0,
} as ChangesetProps;

export function toChangesetProps(c: Changeset): ChangesetProps {
  return {
    id: c.id,
    index: c.index,
    parentId: c.parentId,
    changesType: c.containingChanges === 1 || c.containingChanges === 65 ? c.containingChanges : 0,
    description: c.description ?? "",
    briefcaseId: c.briefcaseId,
    pushDate: c.pushDateTime,
    userCreated: c.creatorId,
    size: c.fileSize,
    // Absent when the pusher did not declare it (HubMock says 0 then).
    ...(c.uncompressedSize != null ? { uncompressedSize: c.uncompressedSize } : {}),
  } as ChangesetProps;
}
