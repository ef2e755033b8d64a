import type { ModelHubClient } from "@modelhub/client";
import type { ConflictingLock } from "@modelhub/protocol";
import { HubHttpError, hubErrorOf } from "./hub-calls.js";
import { backend, bentley, common } from "./host.js";
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

/**
 * Runs one operation's client calls, with the hub's refusals as the host's errors (toHostError); a lock conflict
 * names the holder, read through `conflict.hub`. No answer at all stays a HubUnreachableError.
 */
export async function callHub<T>(
  operation: string,
  work: () => Promise<T>,
  conflict?: { hub: ModelHubClient; iModelId: string },
): Promise<T> {
  try {
    return await work();
  } catch (thrown) {
    const err = hubErrorOf(thrown, operation);
    if (err instanceof HubHttpError) throw await hostErrorOf(err, operation, conflict?.hub, conflict?.iModelId);
    throw err;
  }
}

/** The hub's error codes as the errors core-backend knows how to act on; a lock conflict names the holder. */
export async function hostErrorOf(
  err: HubHttpError,
  operation: string,
  hub?: ModelHubClient,
  iModelId?: string,
): Promise<Error> {
  if (err.code === "ConflictWithAnotherUser" && operation === "acquireLocks")
    return lockConflict(err.body?.conflictingLocks ?? [], hub, iModelId);
  return toHostError(err, operation);
}

async function lockConflict(conflicts: ConflictingLock[], hub?: ModelHubClient, iModelId?: string): Promise<Error> {
  const first = conflicts[0];
  const holder = first?.briefcaseIds[0] ?? 0;
  let alias = `briefcase ${holder}`;
  if (hub && iModelId && holder) {
    try {
      const briefcase = await hub.getBriefcase(iModelId, holder);
      alias = briefcase.deviceName
        ? `${briefcase.ownerId} (${briefcase.deviceName})`
        : `${briefcase.ownerId} (${holder})`;
    } catch {
      // the holder was released meanwhile: keep the id
    }
  }
  return new backend.LockConflict(
    holder,
    alias,
    first?.lockLevel === "shared" ? "shared lock is held" : "exclusive lock is already held",
  );
}
