import type { ErrorBody, HubErrorCode } from "@modelhub/protocol";
import { HubError } from "../domain/errors.js";

/** The one place that knows which HTTP status each API error code has. */
export const STATUS_BY_CODE: Record<HubErrorCode, number> = {
  HeaderNotFound: 401,
  InvalidAccessToken: 401,
  InsufficientPermissions: 403,
  iModelNotFound: 404,
  ChangesetNotFound: 404,
  BriefcaseNotFound: 404,
  NamedVersionNotFound: 404,
  CheckpointNotFound: 404,
  LockNotFound: 404,
  ChangesetGroupNotFound: 404,
  ChangesetExtendedDataNotFound: 404,
  BaselineFileNotFound: 404,
  UserNotFound: 404,
  RoleNotFound: 404,
  MemberNotFound: 404,
  iTwinNotFound: 404,
  ContainerNotFound: 404,
  FileNotFound: 404,
  NotFound: 404,
  MethodNotAllowed: 405,
  BadRequest: 400,
  RequestTimeout: 408,
  HostNotAllowed: 421,
  RequestHeadersTooLarge: 431,
  iModelExists: 409,
  ChangesetExists: 409,
  RoleExists: 409,
  iTwinExists: 409,
  iTwinNotEmpty: 409,
  ContainerExists: 409,
  LastOwner: 409,
  NamedVersionExists: 409,
  NamedVersionOnChangesetExists: 409,
  ConflictWithAnotherUser: 409,
  NewerChangesExist: 409,
  PullIsRequired: 409,
  iModelNotInitialized: 409,
  DataConflict: 409,
  RequestTooLarge: 413,
  UnsupportedMediaType: 415,
  InvalidiModelsRequest: 422,
  // A gate refused the operation (issue 21): a code the official clients know, so they show its message as is.
  InvalidChange: 422,
  InvalidThumbnailFormat: 422,
  TooManyRequests: 429,
  Unknown: 500,
  ServiceUnavailable: 503,
  // The hub's configuration, not a failure: a 4xx, so that a misconfigured client does not page whoever watches 5xx.
  ContainerServiceNotAvailable: 409,
};

/**
 * The API's error body. `requestId` is added to 5xx bodies only (a user quotes it when reporting the failure;
 * 4xx bodies stay exactly the cloud's). Every answer carries it in `x-request-id` anyway.
 */
export function errorBody(err: HubError, requestId?: string): ErrorBody & { error: { requestId?: string } } {
  const body: ErrorBody & { error: { requestId?: string } } = { error: { code: err.code, message: err.message } };
  if (err.details) body.error.details = err.details;
  if (err.conflictingLocks) body.error.conflictingLocks = err.conflictingLocks;
  if (err.objectIds) body.error.objectIds = err.objectIds;
  if (requestId !== undefined && STATUS_BY_CODE[err.code] >= 500) body.error.requestId = requestId;
  return body;
}

interface FrameworkError {
  code?: string;
  statusCode?: number;
  message?: string;
}

/**
 * Errors raised by the HTTP framework before a handler runs (body parsing, content type, size) become the API's
 * errors, so a client never sees a framework-specific body and bad input never becomes a 5xx.
 */
export function fromFrameworkError(err: FrameworkError): HubError | undefined {
  switch (err.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new HubError("UnsupportedMediaType", "Media Type is not supported.");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new HubError("RequestTooLarge", "The request body is too large.");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return invalidBody();
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message ?? ""))) return invalidBody();
  if (err.statusCode === 413) return new HubError("RequestTooLarge", "The request body is too large.");
  if (err.statusCode === 415) return new HubError("UnsupportedMediaType", "Media Type is not supported.");
  return undefined;
}

/** Errors of the router, before any route or hook runs (fastify's `frameworkErrors`). */
export function fromRouterError(err: FrameworkError, maxParamLength: number): HubError {
  if (err.code === "FST_ERR_MAX_PARAM_LENGTH") {
    return new HubError("BadRequest", `A path segment of the request URL is longer than ${maxParamLength} characters.`);
  }
  return new HubError("BadRequest", "The request URL is not valid: a percent-encoded part of its path is not UTF-8.");
}

/** Errors of Node's HTTP parser, before fastify sees a request (the server's 'clientError' event). */
export function fromClientError(status: number): HubError {
  switch (status) {
    case 408:
      return new HubError("RequestTimeout", "The request did not arrive in time; the connection is closed.");
    case 431:
      return new HubError(
        "RequestHeadersTooLarge",
        "The request's headers (with its URL) are larger than the hub accepts.",
      );
    default:
      return new HubError("BadRequest", "The request is not valid HTTP.");
  }
}

function invalidBody(): HubError {
  return new HubError("InvalidiModelsRequest", "Cannot process the request.", {
    details: [{ code: "InvalidRequestBody", message: "Failed to parse request body. Make sure it is a valid JSON." }],
  });
}

export { HubError };
