export { ModelHubAccess } from "./model-hub-access.js";
export type { ModelHubAccessOptions } from "./model-hub-access.js";
export { ChangesetPrefetcher } from "./prefetch.js";
export type { PrefetchOptions, PrefetchStats } from "./prefetch.js";
export { installCheckpointDownload, downloadNearestCheckpoint } from "./checkpoint-download.js";
export type { CheckpointHub, CheckpointSource } from "./checkpoint-download.js";
export { HubHttpError, HubUnreachableError, DEFAULT_RETRY, LOGGER_CATEGORY } from "./hub-calls.js";
export type { AccessLogger, RetryPolicy } from "./hub-calls.js";
