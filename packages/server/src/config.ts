import { resolve } from "node:path";
import { ConfigError } from "./config-error.js";
import type { CheckpointPolicy } from "./domain/checkpoints/checkpoint-service.js";
import { DEFAULT_CHECKPOINT_POLICY } from "./domain/checkpoints/checkpoint-service.js";
import type { AuthConfig } from "./http/authn/create-authenticator.js";
import { DEFAULT_UPLOAD_MIN_BYTES_PER_SECOND } from "./http/slow-clients.js";
import { DEFAULT_AUTH_FAILURE_LIMIT } from "./http/auth-failures.js";
import { isTrustedProxySpec } from "./http/client-address.js";
import type { BlobSpec, MetadataSpec } from "./adapters/registry.js";
import type { Gate } from "./domain/gates/gate-calls.js";

export type { AuthConfig };

export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Where blobs are kept (`--blobs`): files under the data directory (default) or an Azure container. */
  readonly blobs: BlobSpec;
  /** Where records are kept (`--metadata`): the SQLite file in the data directory (default) or PostgreSQL. */
  readonly metadata: MetadataSpec;
  /** Origin for links when the hub sits behind a proxy; by default each request's own origin. */
  readonly publicUrl: string | undefined;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** How long an unfinished push blocks other briefcases. */
  readonly pendingPushTimeoutMs: number;
  /** Recompute changeset ids from their files with iTwin.js at completion. */
  readonly verifyChangesetIds: boolean;
  /** Take pushes that carry their file (POST /imodels/{id}/changesets/push, a modelhub extension). */
  readonly pushInOneRequest: boolean;
  readonly linkTtlSeconds: number;
  /** When the hub makes checkpoints by itself, and how many automatic ones it keeps. */
  readonly checkpoints: CheckpointPolicy;
  /** Requests per minute per verified user (API, access control, audit log); 0 = no limit. */
  readonly rateLimitPerMinute: number;
  /** Failed authentications per client address and minute before its requests are refused ahead of authentication; 0 = no limit. */
  readonly authFailureLimit: number;
  /** Proxies (addresses or networks) whose `X-Forwarded-For` names the client. */
  readonly trustedProxies: readonly string[];
  /** Max time a running job (e.g. a baseline) may take before its lease lapses and it is retried. */
  readonly jobLeaseMs: number;
  /** This machine's name among hub processes sharing the job queue: a restart takes back its dead processes' jobs at once. */
  readonly nodeId: string | undefined;
  /** How often left-over temp files, scratch folders of dead processes and the deletion outbox are swept. */
  readonly sweepIntervalMs: number;
  /** How often the blob store is scanned for files nothing refers to (0 = never). */
  readonly orphanScanIntervalMs: number;
  /** Files nothing refers to are deleted only once they are this old. */
  readonly orphanGraceMs: number;
  /** Storage uploads running at once; more are answered 503 ServerBusy without reading their body. */
  readonly maxUploads: number;
  /** Open connections at once; undefined = derived from the process's file-descriptor limit. */
  readonly maxConnections: number | undefined;
  /** Storage uploads one user (the one a link was issued to) may run at once; undefined = a quarter of maxUploads. */
  readonly maxUploadsPerUser: number | undefined;
  /** An upload that sends less than 64 KiB in this time (a stalled or trickling client) is cut off. */
  readonly uploadStallTimeoutMs: number;
  /** Slowest average an upload may keep after the stall timeout, in bytes per second (0 = its total time is not bounded). */
  readonly uploadMinBytesPerSecond: number;
  /** Time for a request's headers to arrive. */
  readonly headersTimeoutMs: number;
  /** Time for a whole API (JSON) request body to arrive; API bodies are small. */
  readonly apiBodyTimeoutMs: number;
  /** Host names (or host:port) accepted in the `Host` header besides loopback ones and the --public-url host. */
  readonly allowedHosts: readonly string[];
  /** How callers are identified (`--auth open|oidc|tokens`); only `open` is confined to loopback. */
  readonly auth: AuthConfig;
  /** Key that signs storage links (≥ 32 bytes), shared by several nodes; undefined = `<data>/secret.key`. */
  readonly linkSecret: Buffer | undefined;
  /** Organization administrators (`--admin`, repeatable): every permission on every iTwin and iModel. */
  readonly admins: readonly string[];
  /** Whoever creates the first iModel of an iTwin nobody is a member of becomes its Owner (`--no-claim-itwins`: off). */
  readonly claimITwins: boolean;
  /** Audit log entries older than this many days are removed by housekeeping. */
  readonly auditRetentionDays: number;
  /** Change feed streams (`GET /imodels/{id}/events`) one user may hold open at once, per process. */
  readonly maxStreamsPerUser: number;
  /** Hub-wide gates (`--gate`, repeatable), called before every push and named version, in this order. */
  readonly gates: readonly Gate[];
  /**
   * Hosts, addresses or CIDR blocks that webhooks and gates may call over `http:` and at private addresses
   * (`--callout-allow`, repeatable). Default: loopback only.
   */
  readonly calloutAllow: readonly string[];
}

export const DEFAULTS = {
  port: 3000,
  host: "127.0.0.1",
  dataDir: "./modelhub-data",
  logLevel: "info",
  pendingPushTimeoutMs: 15 * 60_000,
  verifyChangesetIds: true,
  pushInOneRequest: true,
  linkTtlSeconds: 6 * 3600,
  jobLeaseMs: 60_000,
  sweepIntervalMs: 60_000,
  orphanScanIntervalMs: 3600_000,
  orphanGraceMs: 15 * 60_000,
  rateLimitPerMinute: 0,
  authFailureLimit: DEFAULT_AUTH_FAILURE_LIMIT,
  checkpoints: DEFAULT_CHECKPOINT_POLICY,
  maxUploads: 64,
  uploadStallTimeoutMs: 30_000,
  uploadMinBytesPerSecond: DEFAULT_UPLOAD_MIN_BYTES_PER_SECOND,
  headersTimeoutMs: 10_000,
  apiBodyTimeoutMs: 10_000,
  auditRetentionDays: 365,
  // A tenth of the process's 1,000 change feed streams: no user can take them all.
  maxStreamsPerUser: 100,
  // The callout's own default (adapters/callout/http-callout.ts): a hub on one machine may call itself, nothing private.
  calloutAllow: ["localhost", "127.0.0.0/8", "::1"],
} as const;

export { ConfigError };

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|::1|\[::1\])$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}

/** Validates and freezes the configuration once; everything downstream trusts it. */
export function makeConfig(input: Partial<ServerConfig>): ServerConfig {
  const config: ServerConfig = {
    port: input.port ?? DEFAULTS.port,
    host: input.host ?? DEFAULTS.host,
    dataDir: resolve(input.dataDir ?? DEFAULTS.dataDir),
    blobs: input.blobs ?? { kind: "fs" },
    metadata: input.metadata ?? { kind: "sqlite" },
    publicUrl: input.publicUrl,
    logLevel: input.logLevel ?? DEFAULTS.logLevel,
    pendingPushTimeoutMs: input.pendingPushTimeoutMs ?? DEFAULTS.pendingPushTimeoutMs,
    verifyChangesetIds: input.verifyChangesetIds ?? DEFAULTS.verifyChangesetIds,
    pushInOneRequest: input.pushInOneRequest ?? DEFAULTS.pushInOneRequest,
    linkTtlSeconds: input.linkTtlSeconds ?? DEFAULTS.linkTtlSeconds,
    jobLeaseMs: input.jobLeaseMs ?? DEFAULTS.jobLeaseMs,
    nodeId: input.nodeId,
    sweepIntervalMs: input.sweepIntervalMs ?? DEFAULTS.sweepIntervalMs,
    orphanScanIntervalMs: input.orphanScanIntervalMs ?? DEFAULTS.orphanScanIntervalMs,
    orphanGraceMs: input.orphanGraceMs ?? DEFAULTS.orphanGraceMs,
    rateLimitPerMinute: input.rateLimitPerMinute ?? DEFAULTS.rateLimitPerMinute,
    authFailureLimit: input.authFailureLimit ?? DEFAULTS.authFailureLimit,
    trustedProxies: Object.freeze([...(input.trustedProxies ?? [])]),
    checkpoints: Object.freeze({ ...DEFAULTS.checkpoints, ...input.checkpoints }),
    maxUploads: input.maxUploads ?? DEFAULTS.maxUploads,
    maxConnections: input.maxConnections,
    maxUploadsPerUser: input.maxUploadsPerUser,
    uploadStallTimeoutMs: input.uploadStallTimeoutMs ?? DEFAULTS.uploadStallTimeoutMs,
    uploadMinBytesPerSecond: input.uploadMinBytesPerSecond ?? DEFAULTS.uploadMinBytesPerSecond,
    headersTimeoutMs: input.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs,
    apiBodyTimeoutMs: input.apiBodyTimeoutMs ?? DEFAULTS.apiBodyTimeoutMs,
    allowedHosts: Object.freeze([...(input.allowedHosts ?? [])]),
    auth: Object.freeze({ ...(input.auth ?? { mode: "open" }) }),
    linkSecret: input.linkSecret,
    admins: Object.freeze([...new Set(input.admins ?? [])]),
    claimITwins: input.claimITwins ?? true,
    auditRetentionDays: input.auditRetentionDays ?? DEFAULTS.auditRetentionDays,
    maxStreamsPerUser: input.maxStreamsPerUser ?? DEFAULTS.maxStreamsPerUser,
    gates: Object.freeze([...(input.gates ?? [])]),
    calloutAllow: Object.freeze([...(input.calloutAllow ?? DEFAULTS.calloutAllow)]),
  };
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new ConfigError(`--port must be an integer between 0 and 65535, not '${input.port}'.`);
  }
  checkAuth(config.auth);
  if (config.linkSecret !== undefined && config.linkSecret.length < LINK_SECRET_BYTES) {
    throw new ConfigError(
      `The storage link secret must be at least ${LINK_SECRET_BYTES} bytes (base64 in MODELHUB_LINK_SECRET or the --link-secret-file), not ${config.linkSecret.length}.`,
    );
  }
  if (config.auth.mode === "open" && !isLoopbackHost(config.host)) {
    throw new ConfigError(
      `Refusing to listen on '${config.host}': modelhub runs in open mode (tokens are not verified), which is only safe on a loopback address such as 127.0.0.1. Use --auth oidc or --auth tokens to serve a network.`,
    );
  }
  if (config.publicUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(config.publicUrl)) {
    throw new ConfigError(
      `--public-url must be an origin such as http://hub.example.com:3000, not '${config.publicUrl}'.`,
    );
  }
  if (!Number.isInteger(config.maxUploads) || config.maxUploads < 1) {
    throw new ConfigError(`--max-uploads must be a whole number of at least 1, not '${input.maxUploads}'.`);
  }
  if (!Number.isInteger(config.maxStreamsPerUser) || config.maxStreamsPerUser < 1) {
    throw new ConfigError(
      `--max-streams-per-user must be a whole number of at least 1, not '${input.maxStreamsPerUser}'.`,
    );
  }
  if (
    config.maxUploadsPerUser !== undefined &&
    (!Number.isInteger(config.maxUploadsPerUser) || config.maxUploadsPerUser < 1)
  ) {
    throw new ConfigError(
      `--max-uploads-per-user must be a whole number of at least 1, not '${input.maxUploadsPerUser}'.`,
    );
  }
  if (!Number.isFinite(config.uploadMinBytesPerSecond) || config.uploadMinBytesPerSecond < 0) {
    throw new ConfigError(
      `--upload-min-rate must be 0 (no bound) or more KiB/s, not '${config.uploadMinBytesPerSecond / 1024}'.`,
    );
  }
  if (config.maxConnections !== undefined && (!Number.isInteger(config.maxConnections) || config.maxConnections < 1)) {
    throw new ConfigError(`--max-connections must be a whole number of at least 1, not '${input.maxConnections}'.`);
  }
  for (const [name, ms] of [
    ["--upload-stall-timeout", config.uploadStallTimeoutMs],
    ["headersTimeoutMs", config.headersTimeoutMs],
    ["apiBodyTimeoutMs", config.apiBodyTimeoutMs],
  ] as const) {
    if (!Number.isFinite(ms) || ms <= 0) throw new ConfigError(`${name} must be a positive time, not '${ms}'.`);
  }
  for (const admin of config.admins) {
    if (admin.trim() === "" || admin.length > 255)
      throw new ConfigError(`--admin must be a user id of 1 to 255 characters, not '${admin}'.`);
  }
  if (!Number.isInteger(config.authFailureLimit) || config.authFailureLimit < 0) {
    throw new ConfigError(
      `--auth-failure-limit must be 0 (no limit) or a whole number, not '${input.authFailureLimit}'.`,
    );
  }
  for (const proxy of config.trustedProxies) {
    if (!isTrustedProxySpec(proxy))
      throw new ConfigError(
        `--trusted-proxy must be an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8), not '${proxy}'.`,
      );
  }
  for (const host of config.allowedHosts) {
    if (!/^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/i.test(host)) {
      throw new ConfigError(
        `--allowed-host must be a host name or address, optionally with :port (e.g. hub.example.com), not '${host}'.`,
      );
    }
  }
  if (!Number.isFinite(config.sweepIntervalMs) || config.sweepIntervalMs < 1000) {
    throw new ConfigError(`--sweep-interval must be at least 1 second, not '${config.sweepIntervalMs / 1000}'.`);
  }
  if (!Number.isFinite(config.orphanScanIntervalMs) || config.orphanScanIntervalMs < 0) {
    throw new ConfigError(
      `--orphan-scan-interval must be 0 (never) or a positive time, not '${config.orphanScanIntervalMs}'.`,
    );
  }
  if (!Number.isInteger(config.auditRetentionDays) || config.auditRetentionDays < 1) {
    throw new ConfigError(
      `--audit-retention-days must be a whole number of at least 1, not '${input.auditRetentionDays}'.`,
    );
  }
  if (!Number.isFinite(config.jobLeaseMs) || config.jobLeaseMs < 1000) {
    throw new ConfigError(`--job-lease must be at least 1 second, not '${config.jobLeaseMs / 1000}'.`);
  }
  if (config.nodeId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(config.nodeId)) {
    throw new ConfigError(`--node-id must be 1 to 64 letters, digits, '.', '_' or '-', not '${config.nodeId}'.`);
  }
  return Object.freeze(config);
}

/** The most clock skew `--clock-skew` accepts between the identity provider and the hub. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** Smallest storage link signing key accepted. */
export const LINK_SECRET_BYTES = 32;

function checkAuth(auth: AuthConfig): void {
  const mode: string = auth.mode;
  if (mode !== "open" && mode !== "oidc" && mode !== "tokens")
    throw new ConfigError(`--auth must be open, oidc or tokens, not '${mode}'.`);
  if (auth.mode !== "oidc") return;
  if (typeof auth.issuer !== "string" || !/^https?:\/\/[^\s]+$/i.test(auth.issuer)) {
    throw new ConfigError(
      `--auth oidc needs --issuer, the identity provider's URL (e.g. https://login.example.com/realms/team), not '${auth.issuer ?? ""}'.`,
    );
  }
  if (auth.audience !== undefined && auth.audience.trim() === "")
    throw new ConfigError("--audience must not be empty.");
  if (auth.userClaim !== undefined && !/^[A-Za-z0-9_.:-]{1,100}$/.test(auth.userClaim))
    throw new ConfigError(`--user-claim must be a claim name such as sub or oid, not '${auth.userClaim}'.`);
  if (auth.jwks !== undefined && auth.jwks.trim() === "") throw new ConfigError("--jwks must be a URL or a file.");
  if (auth.jwksCooldownMs !== undefined && (!Number.isFinite(auth.jwksCooldownMs) || auth.jwksCooldownMs < 0))
    throw new ConfigError(`--jwks-cooldown must be 0 or more seconds.`);
  if (
    auth.clockSkewSeconds !== undefined &&
    (!Number.isInteger(auth.clockSkewSeconds) ||
      auth.clockSkewSeconds < 0 ||
      auth.clockSkewSeconds > MAX_CLOCK_SKEW_SECONDS)
  ) {
    throw new ConfigError(
      `--clock-skew must be 0 to ${MAX_CLOCK_SKEW_SECONDS} seconds (a larger skew means a clock to fix, not to tolerate), not '${auth.clockSkewSeconds}'.`,
    );
  }
  if (
    auth.maxTokenLifetimeSeconds !== undefined &&
    (!Number.isInteger(auth.maxTokenLifetimeSeconds) || auth.maxTokenLifetimeSeconds < 60)
  ) {
    throw new ConfigError(`--max-token-lifetime must be at least 60 seconds, not '${auth.maxTokenLifetimeSeconds}'.`);
  }
}
