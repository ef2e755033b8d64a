import type { MetadataReader } from "../../ports/metadata-store.js";
import { iModelOfKey, parseBlobKey } from "../blob-keys.js";

/**
 * Why nothing needs a blob any more, or undefined while something does. The one place that knows which record
 * keeps which file: the janitor and `modelhub doctor` both ask it.
 */
export async function whyUnreferenced(tx: MetadataReader, key: string): Promise<string | undefined> {
  const iModelId = iModelOfKey(key);
  if (!iModelId) return "not under an iModel's folder";
  const iModel = await tx.getIModel(iModelId);
  if (!iModel) return "its iModel does not exist";
  const ref = parseBlobKey(key);
  switch (ref?.kind) {
    case undefined:
      return "not a file the hub makes";
    case "changeset": {
      const record = await tx.getChangesetById(iModelId, ref.changesetId);
      // A push being completed has its file frozen here just before the record says so; a clone or fork being made
      // copies all its files before it writes their records.
      if (record || (iModel.baselineState === "initializationScheduled" && iModel.creationSource)) return undefined;
      return "no changeset has this id";
    }
    case "changesetUpload": {
      const record = await tx.getChangesetById(iModelId, ref.changesetId);
      return record?.state === "waitingForFile" && record.briefcaseId === ref.briefcaseId
        ? undefined
        : "the upload of a push that is no longer in progress";
    }
    case "baselineUpload":
      return iModel.baselineState === "waitingForFile"
        ? undefined
        : "the baseline upload of an iModel that has its baseline";
    case "baselineReceived":
      return iModel.baselineState === "waitingForFile" || iModel.baselineState === "initializationScheduled"
        ? undefined
        : "a received baseline that was already processed";
    case "checkpoint": {
      const checkpoint = await tx.getCheckpoint(iModelId, ref.changesetIndex);
      if (checkpoint?.state === "successful")
        return checkpoint.blobKey === key ? undefined : "a checkpoint file no checkpoint record points to";
      // A checkpoint job stores its file just before the record points to it.
      return checkpoint?.state === "scheduled" ? undefined : "no checkpoint record points to it";
    }
    case "thumbnail":
      return undefined; // the iModel's thumbnail for as long as the iModel exists
  }
}
