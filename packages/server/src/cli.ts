#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, DEFAULTS, MAX_CLOCK_SKEW_SECONDS, makeConfig } from "./config.js";
import { OIDC_CLOCK_TOLERANCE_SECONDS, OIDC_MAX_TOKEN_LIFETIME_SECONDS } from "./http/authn/oidc-limits.js";
import { parseBlobSpec, parseMetadataSpec } from "./adapters/store-specs.js";
import type { AuthFlags } from "./config-sources.js";
import { applyConfigSources, authConfigOf } from "./config-sources.js";
import { registerApiCommands } from "./admin/commands-api.js";
import { fail, jsonRequested, stderr, stdout } from "./admin/terminal.js";
import { bannerLines } from "./admin/banner.js";
import type { LogFormat } from "./background/log-format.js";
import { LOG_FORMATS, defaultLogFormat } from "./background/log-format.js";
import { VERSION } from "./version.js";
import { registerChangeCommands } from "./admin/commands-changes.js";
import { writeServeRecord } from "./admin/serve-record.js";
import { collect, integer } from "./admin/cli-options.js";
import { parseGateSpec } from "./admin/gate-spec.js";
import { registerHubCommands } from "./admin/commands-hub.js";
import { registerMaintenanceCommands } from "./admin/commands-maintenance.js";
import { registerSessionCommands } from "./admin/commands-session.js";

/** The serve options of housekeeping (see config.ts). */
interface MaintenanceFlags {
  sweepInterval: number;
  orphanScanInterval: number;
  nodeId?: string;
  jobLease: number;
}

/** The serve options of HTTP hardening (see config.ts). */
interface HardeningOptions {
  authFailureLimit: number;
  trustedProxy: string[];
  maxUploads: number;
  maxUploadsPerUser?: number;
  uploadMinRate: number;
  maxStreamsPerUser: number;
  maxConnections?: number;
  uploadStallTimeout: number;
  allowedHost: string[];
}

const program = new Command()
  .name("modelhub")
  .description("A self-hosted iModelHub for iTwin.js.")
  .version(VERSION, "-V, --version", "print modelhub's version")
  // `modelhub --version` only before a command: after one, `--version` is that command's (checkpoints download).
  .enablePositionalOptions()
  // A usage mistake is one short line (commander adds "Did you mean …?"), never the whole help; its exit code is 2
  // (1 means a failure).
  // Set before the subcommands are added: they inherit both.
  .showHelpAfterError(false)
  .configureOutput({
    // Under --json a usage mistake is one JSON object on stderr too, like every other error.
    outputError: (message, write) =>
      jsonRequested()
        ? stderr.json({ error: { code: "UsageError", message: message.replace(/^error: /, "").trim(), exitCode: 2 } })
        : write(message),
  })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

function logFormat(value: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`One of ${LOG_FORMATS.join(", ")}.`);
  return value as LogFormat;
}

program
  .command("serve")
  .description("Serve the iModels API v2 on embedded storage (SQLite metadata, files on local disk).")
  .option("-p, --port <port>", "TCP port (0 picks a free one)", integer, DEFAULTS.port)
  .option("-H, --host <host>", "address to listen on (open mode allows loopback only)", DEFAULTS.host)
  .option("-d, --data <dir>", "where metadata and files are kept", DEFAULTS.dataDir)
  .option(
    "--metadata <spec>",
    "where records are kept: sqlite (a file under --data) or postgres://user@host:port/db (several nodes may share it; ?schema=<name> for another schema)",
    "sqlite",
  )
  .option(
    "--blobs <spec>",
    "where files are kept: fs (under --data) or azure:<container> (account from AZURE_STORAGE_CONNECTION_STRING; clients then move bytes straight to and from Azure)",
    "fs",
  )
  .option("--public-url <origin>", "origin to use in links when behind a proxy")
  .option("--log-level <level>", "fatal|error|warn|info|debug|trace|silent", DEFAULTS.logLevel)
  .option(
    "--log-format <format>",
    "human (one line per request: time, user, method, path, status, duration) or json (pino's JSON lines); default: human on a terminal, json otherwise",
    logFormat,
  )
  .option(
    "--push-timeout <seconds>",
    "how long an unfinished push blocks other briefcases",
    integer,
    DEFAULTS.pendingPushTimeoutMs / 1000,
  )
  .option(
    "--rate-limit <perMinute>",
    "requests per minute per verified user on the API, access control and audit log (0 = unlimited)",
    integer,
    DEFAULTS.rateLimitPerMinute,
  )
  .option(
    "--auth-failure-limit <perMinute>",
    "failed authentications per client address and minute, after which its requests are refused (429) before authentication until the minute ends (0 = no limit)",
    integer,
    DEFAULTS.authFailureLimit,
  )
  .option(
    "--trusted-proxy <address>",
    "a reverse proxy (address or network, repeatable) whose X-Forwarded-For names the client's address",
    collect,
    [],
  )
  .option(
    "--checkpoint-every <changesets>",
    "make a checkpoint after this many changesets (0 = only for named versions)",
    integer,
    DEFAULTS.checkpoints.everyChangesets,
  )
  .option(
    "--checkpoint-every-mb <megabytes>",
    "…or after this many MB of changesets (0 = off)",
    integer,
    DEFAULTS.checkpoints.everyBytes / (1024 * 1024),
  )
  .option(
    "--keep-checkpoints <n>",
    "automatic checkpoints kept (the baseline and named versions' are always kept)",
    integer,
    DEFAULTS.checkpoints.keepAutomatic,
  )
  .option("--no-verify-changeset-ids", "do not recompute changeset ids from their files")
  .option(
    "--no-push-in-one-request",
    "refuse pushes that carry their file (POST …/changesets/push): every file then goes through the storage links",
  )
  .option(
    "--max-uploads <n>",
    "storage uploads at once; more are answered 503 ServerBusy (retry-after)",
    integer,
    DEFAULTS.maxUploads,
  )
  .option(
    "--max-uploads-per-user <n>",
    "storage uploads one user (the one a link was issued to) may run at once (default: a quarter of --max-uploads)",
    integer,
  )
  .option("--max-connections <n>", "open connections at once (default: what the file-descriptor limit allows)", integer)
  .option(
    "--upload-stall-timeout <seconds>",
    "cut off an upload that sends less than 64 KiB in this time",
    integer,
    DEFAULTS.uploadStallTimeoutMs / 1000,
  )
  .option(
    "--upload-min-rate <KiB/s>",
    "cut off an upload slower than this on average: one of n KiB must end within --upload-stall-timeout + n / rate seconds (0 = no bound)",
    integer,
    DEFAULTS.uploadMinBytesPerSecond / 1024,
  )
  .option(
    "--max-streams-per-user <n>",
    "change feed streams one user may hold open at once (the process serves 1000 in all)",
    integer,
    DEFAULTS.maxStreamsPerUser,
  )
  .option(
    "--allowed-host <host>",
    "also answer for this Host header (name or name:port; repeatable); loopback names always work",
    collect,
    [],
  )
  .option("--no-metrics", "do not serve Prometheus metrics on /metrics")
  .option(
    "--sweep-interval <seconds>",
    "how often left-over temp files and deleted iModels' files are removed",
    integer,
    DEFAULTS.sweepIntervalMs / 1000,
  )
  .option(
    "--orphan-scan-interval <minutes>",
    "how often files nothing refers to are looked for and removed (0 = never)",
    integer,
    DEFAULTS.orphanScanIntervalMs / 60_000,
  )
  .option("--audit-retention-days <days>", "how long audit log entries are kept", integer, DEFAULTS.auditRetentionDays)
  .option("--node-id <name>", "this machine's name among hub processes sharing the data (default: the host name)")
  .option(
    "--job-lease <seconds>",
    "a job whose node stops renewing its lease (e.g. was killed) is run again by another node after this long",
    integer,
    DEFAULTS.jobLeaseMs / 1000,
  )
  .option(
    "--auth <mode>",
    "who may call: open (tokens not verified, loopback only), oidc (JWTs of --issuer) or tokens (modelhub tokens create)",
    "open",
  )
  .option("--issuer <url>", "oidc: the identity provider's issuer URL (keys from its discovery document)")
  .option("--audience <aud>", "oidc: the audience (aud) tokens must carry")
  .option("--jwks <file|url>", "oidc: the issuer's keys (JWKS) instead of discovery")
  .option("--user-claim <claim>", "oidc: the claim that names the user", "sub")
  .option("--jwks-cooldown <seconds>", "oidc: an unknown key id refetches the keys at most this often", integer, 30)
  .option(
    "--clock-skew <seconds>",
    `oidc: clock difference allowed with the identity provider on exp, nbf and iat (at most ${MAX_CLOCK_SKEW_SECONDS})`,
    integer,
    OIDC_CLOCK_TOLERANCE_SECONDS,
  )
  .option(
    "--max-token-lifetime <seconds>",
    "oidc: refuse tokens meant to live longer than this (exp - iat)",
    integer,
    OIDC_MAX_TOKEN_LIFETIME_SECONDS,
  )
  .option(
    "--ui-client-id <id>",
    "oidc: the web UI signs in at the provider as this public client (authorization code + PKCE; its redirect URI: the hub's URL with '/')",
  )
  .option("--ui-scope <scopes>", "oidc: scopes the web UI asks for", "openid profile email")
  .option(
    "--link-secret-file <path>",
    "key that signs storage links (base64 or raw, >= 32 bytes), shared by several nodes (or MODELHUB_LINK_SECRET); default <data>/secret.key",
  )
  .option("--admin <user>", "an organization administrator, who may do everything (repeatable)", collect, [])
  .option(
    "--gate <spec>",
    "a hub-wide gate called before every push and named version: '<url> [name=…] [timeout=10s] [failure=closed|open] [secret-env=VAR]' (repeatable; docs/events.md)",
    collect,
    [],
  )
  .option(
    "--callout-allow <host>",
    "a host name, address or CIDR block webhooks and gates may call over http: or at a private address (repeatable; default: loopback only)",
    collect,
    [],
  )
  .option(
    "--no-claim-itwins",
    "only administrators create iTwins (by default any user may, and becomes the new iTwin's Owner; an existing iTwin is never claimed)",
  )
  .option(
    "--config <file>",
    "JSON file with any of these options (keys in camelCase, e.g. publicUrl); command line > environment (MODELHUB_…) > file",
  )
  .action(
    async (
      opts: {
        port: number;
        host: string;
        data: string;
        metadata: string;
        blobs: string;
        publicUrl?: string;
        logLevel: string;
        pushTimeout: number;
        rateLimit: number;
        checkpointEvery: number;
        checkpointEveryMb: number;
        keepCheckpoints: number;
        verifyChangesetIds: boolean;
        pushInOneRequest: boolean;
        metrics: boolean;
        auditRetentionDays: number;
        admin: string[];
        gate: string[];
        calloutAllow: string[];
        claimItwins: boolean;
        logFormat?: LogFormat;
      } & HardeningOptions &
        MaintenanceFlags &
        AuthFlags,
      command: Command,
    ) => {
      let config;
      try {
        const sources = applyConfigSources(command, process.env);
        config = makeConfig({
          auth: authConfigOf(opts),
          linkSecret: sources.linkSecret,
          port: opts.port,
          host: opts.host,
          dataDir: opts.data,
          blobs: parseBlobSpec(opts.blobs),
          metadata: parseMetadataSpec(opts.metadata),
          publicUrl: opts.publicUrl,
          logLevel: opts.logLevel as never,
          pendingPushTimeoutMs: opts.pushTimeout * 1000,
          verifyChangesetIds: opts.verifyChangesetIds,
          pushInOneRequest: opts.pushInOneRequest,
          rateLimitPerMinute: opts.rateLimit,
          authFailureLimit: opts.authFailureLimit,
          trustedProxies: opts.trustedProxy,
          checkpoints: {
            everyChangesets: opts.checkpointEvery,
            everyBytes: opts.checkpointEveryMb * 1024 * 1024,
            keepAutomatic: opts.keepCheckpoints,
          },
          maxUploads: opts.maxUploads,
          maxConnections: opts.maxConnections,
          uploadStallTimeoutMs: opts.uploadStallTimeout * 1000,
          maxUploadsPerUser: opts.maxUploadsPerUser,
          uploadMinBytesPerSecond: opts.uploadMinRate * 1024,
          allowedHosts: opts.allowedHost,
          maxStreamsPerUser: opts.maxStreamsPerUser,
          sweepIntervalMs: opts.sweepInterval * 1000,
          orphanScanIntervalMs: opts.orphanScanInterval * 60_000,
          nodeId: opts.nodeId,
          jobLeaseMs: opts.jobLease * 1000,
          auditRetentionDays: opts.auditRetentionDays,
          admins: opts.admin,
          claimITwins: opts.claimItwins,
          gates: opts.gate.map((spec) => parseGateSpec(spec)),
          ...(opts.calloutAllow.length > 0 ? { calloutAllow: opts.calloutAllow } : {}),
        });
      } catch (err) {
        if (err instanceof ConfigError) {
          stderr.line(`modelhub: ${err.message}`);
          process.exit(2);
        }
        throw err;
      }
      const format = opts.logFormat ?? defaultLogFormat(process.stdout.isTTY);
      // Loaded here, not at the top: the server's modules (fastify, every route and adapter) take most of a second to
      // load, which every other command would pay for nothing.
      const { startServer } = await import("./main.js");
      const server = await startServer(config, { metrics: opts.metrics, logFormat: format });
      stdout.lines(bannerLines(server.url, config, format));
      // What `modelhub tokens create` reads to warn when the hub that uses this data directory does not check tokens.
      await writeServeRecord(config.dataDir, {
        version: VERSION,
        authMode: config.auth.mode,
        url: server.url,
        pid: process.pid,
        startedAt: new Date().toISOString(),
      }).catch(() => undefined);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        stdout.line(`modelhub: ${signal} received, finishing requests in flight…`);
        server.close().then(
          () => process.exit(0),
          (err: unknown) => {
            stderr.line(`modelhub: shutdown failed: ${String(err)}`);
            process.exit(1);
          },
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
    },
  );

// backup, restore, migrate, doctor, tokens: the hub's stores, not over HTTP.
registerMaintenanceCommands(program);
// audit, briefcases, access: a running hub over HTTP.
registerHubCommands(program);
// itwins, imodels, changesets, versions, locks, checkpoints, demo: the iModels API through @modelhub/client.
registerApiCommands(program);
// changes, diff: element-level changes (docs/changes.md).
registerChangeCommands(program);

// login, logout, profiles, completion.
registerSessionCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => fail("", err instanceof Error ? err.message : String(err), 1));
