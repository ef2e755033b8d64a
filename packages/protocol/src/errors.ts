import type { ConflictingLock } from "./entities.js";

/**
 * Error codes and bodies of the iModels API v2. The strings are the cloud service's exact codes: the official
 * clients look them up by name (imodels-api.md §3.5), so spelling matters.
 */

/** Top-level codes modelhub answers with. docs/errors.md lists each one; a test keeps the two in sync. */
export const HUB_ERROR_CODES = [
  "HeaderNotFound",
  "InvalidAccessToken",
  "InsufficientPermissions",
  "iModelNotFound",
  "ChangesetNotFound",
  "BriefcaseNotFound",
  "NamedVersionNotFound",
  "CheckpointNotFound",
  "LockNotFound",
  "ChangesetGroupNotFound",
  "ChangesetExtendedDataNotFound",
  "BaselineFileNotFound",
  "UserNotFound",
  "RoleNotFound",
  "MemberNotFound",
  "iTwinNotFound",
  "ContainerNotFound",
  "FileNotFound",
  "NotFound",
  "iModelExists",
  "ChangesetExists",
  "RoleExists",
  "iTwinExists",
  "iTwinNotEmpty",
  "ContainerExists",
  "LastOwner",
  "NamedVersionExists",
  "NamedVersionOnChangesetExists",
  "ConflictWithAnotherUser",
  "NewerChangesExist",
  "PullIsRequired",
  "iModelNotInitialized",
  "DataConflict",
  "InvalidChange",
  "InvalidiModelsRequest",
  "InvalidThumbnailFormat",
  "UnsupportedMediaType",
  "MethodNotAllowed",
  "BadRequest",
  "RequestTimeout",
  "HostNotAllowed",
  "RequestTooLarge",
  "RequestHeadersTooLarge",
  "TooManyRequests",
  "ServiceUnavailable",
  "ContainerServiceNotAvailable",
  "Unknown",
] as const;

export type HubErrorCode = (typeof HUB_ERROR_CODES)[number];

/** Codes used inside `error.details[]` of a 422 `InvalidiModelsRequest`. */
export const HUB_ERROR_DETAIL_CODES = [
  "InvalidValue",
  "MissingRequiredProperty",
  "MissingRequiredParameter",
  "InvalidRequestBody",
  "InvalidChange",
  "ResourceQuotaExceeded",
] as const;

export type HubErrorDetailCode = (typeof HUB_ERROR_DETAIL_CODES)[number];

export interface ErrorDetail {
  code: HubErrorDetailCode;
  message: string;
  target?: string;
  innerError?: { code: string };
}

export interface ErrorBody {
  error: {
    code: HubErrorCode;
    message: string;
    details?: ErrorDetail[];
    /** Only on `ConflictWithAnotherUser` answers to lock requests. */
    conflictingLocks?: ConflictingLock[];
    /** Only on `NewerChangesExist`. */
    objectIds?: string[];
  };
}
