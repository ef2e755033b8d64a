export * from "./changes.js";
export * from "./client.js";
export * from "./blob-containers.js";
export * from "./webhooks.js";
export * from "./errors.js";
export * from "./events.js";
export type {
  FetchLike,
  RetryEvent,
  RetryOptions,
  RetryPolicy,
  SendOptions,
  Transport,
  TransportRequest,
  TransportResponse,
} from "./http.js";
export {
  DEFAULT_RETRY_POLICY,
  fetchTransport,
  isIdempotentMethod,
  isRetryable,
  networkError,
  retryDelayMs,
  retryPolicyOf,
  sendWithRetry,
} from "./http.js";
export * from "./transfers.js";
// The wire types, so that users of the client need no second import.
export type * from "@modelhub/protocol";
