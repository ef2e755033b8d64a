// The options and inputs of ModelHubClient's calls (re-exported by client.ts).
import type { BaselineFile, Checkpoint, IModelExtent, Lock } from "@modelhub/protocol";
import type { FetchLike, RetryEvent, RetryOptions, Transport } from "./http.js";

export interface ModelHubClientOptions {
  /** The hub, e.g. `http://127.0.0.1:3000` (its iModels API is under `/imodels`), or the API base itself. */
  url: string;
  /**
   * A bearer token, or a function giving one for each try of each request (refreshed tokens). `Bearer ` is added
   * when missing.
   */
  accessToken: string | (() => string | Promise<string>);
  /** The numbers of the one retry policy (README, "Retries"). */
  retry?: RetryOptions;
  /** Told before each retry's wait (e.g. to log it). */
  onRetry?: (event: RetryEvent) => void;
  /** How requests are sent (default: fetch). backend-access plugs its keep-alive node:http transport here. */
  transport?: Transport;
  /** Another fetch for the default transport (tests, proxies); ignored when `transport` is given. */
  fetch?: FetchLike;
  /** Told the text of an answer's `Warning` header (e.g. that roles are recorded but not enforced in open mode). */
  onWarning?: (warning: string) => void;
}

/** A baseline file as the hub describes it, with why its initialization failed when it did. */
export type BaselineFileInfo = BaselineFile & { failureReason?: string };

/** A checkpoint list as the hub's own `GET /imodels/{id}/checkpoints` answers it. */
export interface CheckpointList {
  checkpoints: Checkpoint[];
  /** Bytes the successful checkpoints use on disk. */
  totalSize: number;
}

export interface ChangesetQuery {
  /** Only changesets after this index. */
  afterIndex?: number;
  /** Only changesets up to this index (inclusive). */
  lastIndex?: number;
  /** Newest first. */
  descending?: boolean;
  /** Changesets per request (default 100, at most 1000); pages are followed through `_links.next`. */
  pageSize?: number;
}

/** A changeset by its index (a number) or id (40 hex characters). */
export type ChangesetRef = number | string;

/** Which iTwins {@link ModelHubClient.iTwins} lists. */
export interface ITwinQuery {
  /** Part of the display name or number (any case). */
  search?: string;
  /** Exactly this display name (any case). */
  displayName?: string;
  /** e.g. `Project`, `Asset`; several comma-separated. */
  subClass?: string;
  /** Inactive iTwins too. */
  includeInactive?: boolean;
  /** Every iTwin of the hub, not only the caller's (administrators; others get their own). */
  all?: boolean;
  pageSize?: number;
}

/** Which audit log entries {@link ModelHubClient.auditLog} reads (all given filters apply). */
export interface AuditLogQuery {
  /** One iModel's log (`/imodels/{id}/auditlog`); else the hub's (`/auditlog`). */
  iModelId?: string;
  iTwinId?: string;
  userId?: string;
  action?: string;
  /** ISO times. */
  since?: string;
  until?: string;
  newestFirst?: boolean;
  pageSize?: number;
}

/** Whose own permissions on one iModel a grant sets: a user's, or a role's (by its id). */
export type IModelGrantee = { userId: string; roleId?: undefined } | { roleId: string; userId?: undefined };

export interface CreateIModelInput {
  iTwinId: string;
  name: string;
  description?: string;
  extent?: IModelExtent;
}

/**
 * The `Authorization` header of each try of one request (0 = the first), when it is not the client's own token:
 * asked anew for every try, so a retry after a token expired carries the token the caller has now.
 */
export type AuthorizationSource = string | ((attempt: number) => string | Promise<string>);

/** Per-call options of the methods a caller may need to tune (backend-access's create and acquire). */
export interface CallOptions {
  /** Send again after no answer or a 5xx as well (see README, "Retries"): the caller handles a repeated request. */
  idempotent?: boolean;
  /** Told before each retry of this call. */
  onRetry?: (event: RetryEvent) => void;
}

/** What a derived client ({@link ModelHubClient.with}) changes. */
export interface ClientScope {
  /** The authorization of every request of the derived client, instead of the client's token. */
  authorization?: AuthorizationSource;
}

/** A changeset's create request (`POST /imodels/{id}/changesets`): the file's facts, before its upload. */
export interface CreateChangesetInput {
  id: string;
  parentId: string;
  briefcaseId: number;
  description?: string;
  containingChanges?: number;
  fileSize: number;
  /** A modelhub extension: the changeset's size before compression (iTwin.js's changeset statistics). */
  uncompressedSize?: number;
}

/** A lock request (`PATCH /imodels/{id}/locks`): the levels the briefcase wants on these objects (`none` releases). */
export interface LockRequest {
  briefcaseId: number;
  changesetId: string;
  lockedObjects: { lockLevel: Lock["lockedObjects"][number]["lockLevel"]; objectIds: string[] }[];
}

/** Options of {@link ModelHubClient.send}. */
export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as they are (`application/octet-stream` unless `headers` say otherwise), when there is no `body`. */
  bytes?: Uint8Array;
  /** Statuses that are an answer (default 200, 201, 202, 204); others throw the API's error. */
  expected?: readonly number[];
  /** Added to (or replacing) the defaults: `accept`, `prefer: return=representation`, `content-type`. */
  headers?: Record<string, string>;
  /** This request's own authorization instead of the client's token. */
  authorization?: AuthorizationSource;
  /**
   * Safe to send again after no answer or a 5xx (default: by its method; GET, PUT, DELETE are). Set it for a POST or
   * PATCH the hub treats as the same request when repeated (a changeset's create or completion carries its id).
   */
  idempotent?: boolean;
  /** Told before each retry of this request. */
  onRetry?: (event: RetryEvent) => void;
  signal?: AbortSignal;
}
