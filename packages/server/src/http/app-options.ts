import type { AuditRecorder } from "../background/audit-recorder.js";
import type { AccessService } from "../domain/access/access-service.js";
import type { EventFeed } from "../ports/event-bus.js";
import type { Hub } from "../domain/hub.js";
import type { ITwinService } from "../domain/itwins/itwin-service.js";
import type { WebhookService } from "../domain/webhooks/webhook-service.js";
import type { ElementLabels } from "../background/element-labels.js";
import type { AdminRouteOptions } from "./routes/admin.js";
import type { ProfileSource } from "./routes/me.js";
import type { OidcSignIn } from "./web-ui.js";
import type { BlobContainerService } from "../domain/blob-containers/blob-container-service.js";
import type { CheckpointBlocks } from "../domain/blob-containers/checkpoint-blocks.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { Authenticator } from "./authn/authenticator.js";
import type { HubMetrics } from "./metrics.js";
import type { ReadinessCheck } from "./readiness.js";
import type { AuditRouteOptions } from "./routes/auditlog.js";
import type { UrlSigner } from "./storage/url-signer.js";

/** Everything `buildApp` is built from (main.ts and the tests give it; the composition root chooses the adapters). */
export interface AppOptions {
  hub: Hub;
  blobs: BlobStore;
  signer: UrlSigner;
  /** Origin used in links, e.g. "https://hub.example.com"; by default the request's own origin. */
  publicUrl?: string;
  /** Lifetime of signed upload/download links. */
  linkTtlSeconds: number;
  /** Largest JSON body accepted (lock requests with many ids are the biggest). */
  jsonBodyLimit: number;
  /** `false` for silence, or pino options such as `{ level: "info" }` (and a `stream` for the human format, app/log-format.ts). */
  logger: false | { level: string; stream?: { write(line: string): void } };
  /** Requests per minute and verified user (API, access control, audit log); 0 turns the limit off. */
  rateLimitPerMinute: number;
  /**
   * Failed authentications per client address and minute after which the address's requests are refused before
   * authentication until the minute ends (default `DEFAULT_AUTH_FAILURE_LIMIT` of auth-failures.ts; 0: no limit).
   */
  authFailureLimit?: number;
  /** Proxies (addresses or networks) whose `X-Forwarded-For` names the client's address. */
  trustedProxies?: readonly string[];
  /** Who is asking (`--auth`); open mode (tokens not verified) when not given. */
  authenticator?: Authenticator;
  /** Who may do what (roles, members, iModel grants, admins); every API route is checked by http/authz. */
  access: AccessService;
  /** Webhooks (`/webhooks`, issue 21); not served when absent. */
  webhooks?: WebhookService;
  /** iTwins people create and own (`/itwins`). */
  iTwins: ITwinService;
  /** iTwin.js's BlobContainer service (`/blobcontainers`: workspaces, SchemaSync); not served when absent. */
  blobContainers?: BlobContainerService;
  /** V2 checkpoints (`--blobs azure:`): checkpoints answer `directoryAccessInfo` when they have a V2 copy. */
  checkpointBlocks?: CheckpointBlocks;
  /** Serves `/admin/…` (tokens, storage use, jobs, about) to organization administrators when given. */
  admin?: Omit<AdminRouteOptions, "access" | "authMode" | "blobs">;
  /** Stored user profiles (names, email), shown by `GET /me` when the token carries none. */
  profiles?: ProfileSource;
  /** Serves `GET /imodels/{id}/elementlabels` (labels of locked elements, read by the worker) when given. */
  elementLabels?: ElementLabels;
  /** oidc: how the web UI signs people in at the identity provider (`--ui-client-id`). */
  webUiSignIn?: OidcSignIn;
  /** What `GET /ready` checks (metadata store, blob store, worker…); without it /ready checks nothing. */
  readiness?: Readonly<Record<string, ReadinessCheck>>;
  /** Serves `GET /metrics` and counts requests when given. */
  metrics?: HubMetrics;
  /** Storage uploads at once (default 64); more are answered 503 ServerBusy without reading their body. */
  maxUploads?: number;
  /** Serve POST /imodels/{id}/changesets/push (default true); without it the route is unknown (404 NotFound). */
  pushInOneRequest?: boolean;
  /** Storage uploads one user (the one a link was issued to) may run at once (default a quarter of maxUploads). */
  maxUploadsPerUser?: number;
  /** An upload must average at least this many bytes per second after the stall timeout (default 16 KiB/s; 0: no bound). */
  uploadMinBytesPerSecond?: number;
  /** Open connections at once; by default what the process's file-descriptor limit allows (see slow-clients.ts). */
  maxConnections?: number;
  /** Time for request headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Time for a whole API (JSON) body (default 10 s). */
  apiBodyTimeoutMs?: number;
  /** An upload moving less than 64 KiB in this time is cut off (default 30 s). */
  uploadStallTimeoutMs?: number;
  /** `Host` values accepted besides loopback names and the publicUrl's host: `name` (any port) or `name:port`. */
  allowedHosts?: readonly string[];
  /** The built web UI served at `/` (packages/web/dist by default); `false`: no UI. */
  webUiRoot?: string | false;
  /**
   * Serves `GET /imodels/{id}/events` (the change feed) when given; `heartbeatMs` defaults to 15 s, `accessRecheckMs`
   * 2 s, `maxStreamsPerUser` to `--max-streams-per-user`'s default.
   */
  events?: { feed: EventFeed; heartbeatMs?: number; accessRecheckMs?: number; maxStreamsPerUser?: number };
  /** Records every write (see audit/audit-hook.ts) and serves `GET /imodels/{id}/auditlog` and `GET /auditlog`. */
  audit?: {
    recorder: AuditRecorder;
    log: AuditLog;
    /** Who may read an iModel's log / an iTwin's (or, without one, the whole hub's); by default anyone who can see the iModel. */
    authorizeIModel?: AuditRouteOptions["authorizeIModel"];
    authorizeITwin?: AuditRouteOptions["authorizeITwin"];
    /** Window of the refusal digest (default a minute; tests shorten it). */
    refusalWindowMs?: number;
  };
}
