// What the changeset prefetcher is given (its options, where it reads the hub) and what it counts.
import type { AuthorizationSource, ModelHubClient } from "@modelhub/client";
import type { ChangesetCache } from "./changeset-cache.js";
import type { AccessLogger } from "./hub-calls.js";
import type { Retrying } from "./transfers.js";

export interface PrefetchOptions {
  /**
   * Most bytes of changeset files one iModel's cache folder may hold (default 1 GiB). Prefetching stops there and
   * goes on once a pull has applied (and iTwin.js has deleted) some of them.
   */
  maxCacheBytes?: number;
  /** Changeset files downloaded at once by the prefetcher, for all iModels together (default 2). */
  concurrency?: number;
  /** Wait before the first reconnect of a dropped feed (default 500 ms); doubles up to 30 s while it keeps failing. */
  reconnectDelayMs?: number;
  /** A feed that sends nothing for this long is taken for dead and reconnected (default 45 s; the hub sends a heartbeat every 15 s). */
  silenceTimeoutMs?: number;
}

/** Counters, for logs and tests. */
export interface PrefetchStats {
  /** Changeset files the prefetcher put into the cache. */
  downloaded: number;
  downloadedBytes: number;
  /** Files refused because their bytes did not match their size or id; none was left in the cache. */
  rejected: number;
  /** Downloads that failed otherwise (network, hub). */
  failed: number;
  /** Feed connections that were answered with a stream. */
  connections: number;
  /** Feed events read (heartbeats not counted). */
  events: number;
  /** Feed messages that were not well-formed events of the hub; ignored. */
  malformed: number;
}

/** What the prefetcher borrows from its ModelHubAccess. */
export interface PrefetchSource {
  client: ModelHubClient;
  retry: Retrying;
  logger: AccessLogger;
  /** The authorization of the prefetcher's requests (the host's token, else the access's fallback). */
  authorization(): Promise<AuthorizationSource>;
  /** Check files against their id with iTwin.js's rule (when the host has it). */
  verifyIds: boolean;
  cache: ChangesetCache;
  wholeFileLimit: number;
}
