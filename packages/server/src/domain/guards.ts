import type { BriefcaseRecord, ChangesetRecord, IModelRecord, MetadataReader } from "../ports/metadata-store.js";
import { UniqueViolation } from "../ports/metadata-store.js";
import type { HubError } from "./errors.js";
import { HubError as HubErrorClass, notFound } from "./errors.js";

export async function requireIModel(reader: MetadataReader, id: string): Promise<IModelRecord> {
  const record = await reader.getIModel(id);
  if (!record) throw notFound.iModel();
  return record;
}

/** An iModel that accepts briefcases, changesets, locks and versions. */
export async function requireInitializedIModel(reader: MetadataReader, id: string): Promise<IModelRecord> {
  const record = await requireIModel(reader, id);
  if (record.state !== "initialized") {
    throw new HubErrorClass(
      "iModelNotInitialized",
      "The iModel is not initialized yet: its baseline file is still being uploaded or processed.",
    );
  }
  return record;
}

export async function requireBriefcase(
  reader: MetadataReader,
  iModelId: string,
  briefcaseId: number,
): Promise<BriefcaseRecord> {
  const record = await reader.getBriefcase(iModelId, briefcaseId);
  if (!record) throw notFound.briefcase();
  return record;
}

/** Resolves a changeset named by id or index among the uploaded ones; index 0 / id "" is the baseline. */
export async function resolveChangesetIndex(
  reader: MetadataReader,
  iModelId: string,
  ref: { index: number } | { id: string },
): Promise<{ index: number; id: string }> {
  if ("index" in ref ? ref.index === 0 : ref.id === "") return { index: 0, id: "" };
  const record = await findUploadedChangeset(reader, iModelId, ref);
  if (!record) throw notFound.changeset();
  return { index: record.index, id: record.id };
}

export async function findUploadedChangeset(
  reader: MetadataReader,
  iModelId: string,
  ref: { index: number } | { id: string },
): Promise<ChangesetRecord | undefined> {
  const record =
    "index" in ref
      ? await reader.getChangesetByIndex(iModelId, ref.index)
      : await reader.getChangesetById(iModelId, ref.id);
  return record && record.state === "fileUploaded" ? record : undefined;
}

/** Runs an insert and turns the store's unique violation into the API's "already exists" error. */
export async function insertUnique(insert: () => Promise<void>, toError: () => HubError): Promise<void> {
  try {
    await insert();
  } catch (err) {
    if (err instanceof UniqueViolation) throw toError();
    throw err;
  }
}
