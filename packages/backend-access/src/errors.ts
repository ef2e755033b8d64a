import { HubHttpError } from "./hub-calls.js";
import { bentley, common } from "./host.js";
import { TransferAborted } from "./transfers.js";

/**
 * The hub's error codes as the errors core-backend acts on: the host's own `IModelError` with an
 * `IModelHubStatus`/`IModelStatus` number. Lock conflicts are built by the caller (they name the holder).
 * A push that meets another push in flight or a stale parent becomes `PullIsRequired` (102416), the one number
 * core-backend's pullMergePush retries on: it pulls, merges and pushes again by itself.
 */
export function toHostError(err: HubHttpError, operation: string): Error {
  const message = err.body?.message ?? err.message;
  const hub = bentley.IModelHubStatus;
  switch (err.code) {
    case "ConflictWithAnotherUser":
    case "PullIsRequired":
      return new common.IModelError(hub.PullIsRequired, `pull is required: ${message}`);
    case "NewerChangesExist":
      return new common.IModelError(hub.PullIsRequired, "pull is required to obtain lock");
    case "iModelNotFound":
      return new common.IModelError(hub.iModelDoesNotExist, message);
    case "ChangesetNotFound":
      return new common.IModelError(hub.ChangeSetDoesNotExist, message);
    case "BriefcaseNotFound":
      return new common.IModelError(hub.BriefcaseDoesNotExist, message);
    case "NamedVersionNotFound":
      return new common.IModelError(bentley.IModelStatus.NotFound, message);
    case "CheckpointNotFound":
      return new common.IModelError(hub.CheckpointDoesNotExist, message);
    case "LockNotFound":
      return new common.IModelError(hub.LockDoesNotExist, message);
    case "ChangesetExists":
      return new common.IModelError(hub.ChangeSetAlreadyExists, message);
    case "iModelExists":
      return new common.IModelError(hub.iModelAlreadyExists, message);
    case "FileNotFound":
      return new common.IModelError(hub.FileDoesNotExist, message);
    default: {
      // Not OperationFailed for a 5xx: core-backend's pushChanges re-sends on that number after deleting the
      // changeset file (hub-semantics.md §1.10), which would hide this error behind an ENOENT. The client has
      // already retried 5xx itself.
      const details = err.body?.details?.map((d) => `${d.code}: ${d.message}`).join("; ");
      return new common.IModelError(
        err.status >= 500 ? hub.Unknown : bentley.IModelStatus.BadRequest,
        `${operation} failed (${err.code ?? err.status}): ${message}${details ? ` (${details})` : ""}`,
      );
    }
  }
}

/** A download stopped by its progress callback, as iTwin.js reports it (`BriefcaseStatus.DownloadCancelled`). */
export function cancelled(what: string): Error {
  return new common.IModelError(bentley.BriefcaseStatus.DownloadCancelled, `AbortError: ${what} cancelled`);
}

/** Runs `work`, turning hub answers and aborted transfers into the host's errors. */
export async function hostErrors<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof HubHttpError) throw toHostError(err, operation);
    if (err instanceof TransferAborted) throw cancelled(operation);
    throw err;
  }
}
