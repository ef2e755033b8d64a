import type { ConflictingLock, ErrorDetail, HubErrorCode } from "@modelhub/protocol";

/**
 * A hub rule said no. Carries the API error code (never an HTTP status: http/error-mapping.ts owns that) and
 * whatever the error body needs besides the message.
 */
export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly details?: ErrorDetail[];
  readonly conflictingLocks?: ConflictingLock[];
  readonly objectIds?: string[];
  /** Seconds a client should wait before retrying (429, 503). */
  readonly retryAfterSeconds?: number;

  constructor(
    code: HubErrorCode,
    message: string,
    extra: {
      details?: ErrorDetail[];
      conflictingLocks?: ConflictingLock[];
      objectIds?: string[];
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message);
    this.name = "HubError";
    this.code = code;
    if (extra.details) this.details = extra.details;
    if (extra.conflictingLocks) this.conflictingLocks = extra.conflictingLocks;
    if (extra.objectIds) this.objectIds = extra.objectIds;
    if (extra.retryAfterSeconds !== undefined) this.retryAfterSeconds = extra.retryAfterSeconds;
  }
}

/** 403 with the seed's exact body. */
export function insufficientPermissions(): HubError {
  return new HubError("InsufficientPermissions", "The user has insufficient permissions for the requested operation.");
}

/** 422 `InvalidiModelsRequest` with one or more details, the shape of the seed pages. */
export function invalidRequest(message: string, details: ErrorDetail[]): HubError {
  return new HubError("InvalidiModelsRequest", message, { details });
}

export function invalidValue(operation: string, target: string, message: string): HubError {
  return invalidRequest(operation, [{ code: "InvalidValue", message, target }]);
}

/** The cloud's "not available" messages, one per entity (imodels-api.md §3.5). */
export const notFound = {
  iModel: () => new HubError("iModelNotFound", "Requested iModel is not available."),
  changeset: () => new HubError("ChangesetNotFound", "Requested Changeset is not available."),
  briefcase: () => new HubError("BriefcaseNotFound", "Requested Briefcase is not available."),
  namedVersion: () => new HubError("NamedVersionNotFound", "Requested Named Version is not available."),
  checkpoint: () => new HubError("CheckpointNotFound", "Requested Checkpoint is not available."),
  lock: () => new HubError("LockNotFound", "Requested Lock(s) is not available."),
  changesetGroup: () => new HubError("ChangesetGroupNotFound", "Requested Changeset Group is not available."),
  extendedData: () =>
    new HubError("ChangesetExtendedDataNotFound", "Requested Changeset Extended Data is not available."),
  baselineFile: () => new HubError("BaselineFileNotFound", "Requested Baseline File is not available."),
  user: () => new HubError("UserNotFound", "Requested User is not available."),
  iTwin: () => new HubError("iTwinNotFound", "Requested iTwin is not available."),
  container: () => new HubError("ContainerNotFound", "Requested Container is not available."),
} as const;
