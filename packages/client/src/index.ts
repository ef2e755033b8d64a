export * from "./changes.js";
export * from "./client.js";
export * from "./errors.js";
export * from "./events.js";
export type { FetchLike, RetryOptions } from "./http.js";
export { fetchWithRetry } from "./http.js";
export * from "./transfers.js";
// The wire types, so that users of the client need no second import.
export type * from "@modelhub/protocol";
