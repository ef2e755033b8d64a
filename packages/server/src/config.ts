import { resolve } from "node:path";
import type { CheckpointPolicy } from "./domain/checkpoints/checkpoint-service.js";
import { DEFAULT_CHECKPOINT_POLICY } from "./domain/checkpoints/checkpoint-service.js";

export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Origin for links when the hub sits behind a proxy; by default each request's own origin. */
  readonly publicUrl: string | undefined;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** How long an unfinished push blocks other briefcases. */
  readonly pendingPushTimeoutMs: number;
  /** Recompute changeset ids from their files with iTwin.js at completion. */
  readonly verifyChangesetIds: boolean;
  readonly linkTtlSeconds: number;
  /** When the hub makes checkpoints by itself, and how many automatic ones it keeps. */
  readonly checkpoints: CheckpointPolicy;
  /** Requests per minute per access token; 0 = no limit. */
  readonly rateLimitPerMinute: number;
  /** Max time a running job (e.g. a baseline) may take before its lease lapses and it is retried. */
  readonly jobLeaseMs: number;
}

export const DEFAULTS = {
  port: 3000,
  host: "127.0.0.1",
  dataDir: "./modelhub-data",
  logLevel: "info",
  pendingPushTimeoutMs: 15 * 60_000,
  verifyChangesetIds: true,
  linkTtlSeconds: 6 * 3600,
  jobLeaseMs: 60_000,
  rateLimitPerMinute: 0,
  checkpoints: DEFAULT_CHECKPOINT_POLICY,
} as const;

export class ConfigError extends Error {}

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
    publicUrl: input.publicUrl,
    logLevel: input.logLevel ?? DEFAULTS.logLevel,
    pendingPushTimeoutMs: input.pendingPushTimeoutMs ?? DEFAULTS.pendingPushTimeoutMs,
    verifyChangesetIds: input.verifyChangesetIds ?? DEFAULTS.verifyChangesetIds,
    linkTtlSeconds: input.linkTtlSeconds ?? DEFAULTS.linkTtlSeconds,
    jobLeaseMs: input.jobLeaseMs ?? DEFAULTS.jobLeaseMs,
    rateLimitPerMinute: input.rateLimitPerMinute ?? DEFAULTS.rateLimitPerMinute,
    checkpoints: Object.freeze({ ...DEFAULTS.checkpoints, ...input.checkpoints }),
  };
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    throw new ConfigError(`--port must be an integer between 0 and 65535, not '${input.port}'.`);
  }
  if (!isLoopbackHost(config.host)) {
    throw new ConfigError(
      `Refusing to listen on '${config.host}': modelhub runs in open mode (tokens are not verified), which is only safe on a loopback address such as 127.0.0.1.`,
    );
  }
  if (config.publicUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(config.publicUrl)) {
    throw new ConfigError(`--public-url must be an origin such as http://hub.example.com:3000, not '${config.publicUrl}'.`);
  }
  return Object.freeze(config);
}
