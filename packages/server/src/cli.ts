#!/usr/bin/env node
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, DEFAULTS, MAX_CLOCK_SKEW_SECONDS, makeConfig } from "./config.js";
import { OIDC_CLOCK_TOLERANCE_SECONDS, OIDC_MAX_TOKEN_LIFETIME_SECONDS } from "./http/authn/oidc-authenticator.js";
import { parseBlobSpec, parseMetadataSpec } from "./adapters/registry.js";
import { startServer } from "./main.js";
import { runBackupCommand, runRestoreCommand } from "./admin/commands.js";
import { DEFAULT_TOKEN_LIFETIME, runTokensCreate, runTokensList, runTokensRevoke } from "./admin/tokens.js";
import type { AuthFlags } from "./config-sources.js";
// Types only: the `modelhub access` commands are loaded when one runs.
import type * as AccessCommands from "./admin/access.js";
import { applyConfigSources, authConfigOf } from "./config-sources.js";
import { registerApiCommands } from "./admin/commands-api.js";
import { fail, jsonRequested, stderr, stdout } from "./admin/terminal.js";
import { bannerLines } from "./admin/banner.js";
import type { LogFormat } from "./background/log-format.js";
import { LOG_FORMATS, defaultLogFormat } from "./background/log-format.js";
import { VERSION } from "./version.js";
import { registerChangeCommands } from "./admin/commands-changes.js";
import { writeServeRecord } from "./admin/serve-record.js";

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("Not a whole number.");
  return Number(value);
}

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

const collect = (value: string, previous: string[]) => [...previous, value];

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
        metrics: boolean;
        auditRetentionDays: number;
        admin: string[];
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
        });
      } catch (err) {
        if (err instanceof ConfigError) {
          stderr.line(`modelhub: ${err.message}`);
          process.exit(2);
        }
        throw err;
      }
      const format = opts.logFormat ?? defaultLogFormat(process.stdout.isTTY);
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

program
  .command("backup")
  .description("Copy a data directory (consistently, also while a hub serves it) into a new folder.")
  .requiredOption("--to <dir>", "the backup folder to create (must not exist, or be empty)")
  .option("-d, --data <dir>", "the data directory to back up", DEFAULTS.dataDir)
  .option(
    "--metadata <spec>",
    "the hub's --metadata: backup copies the embedded sqlite file (postgres:// is refused: use PostgreSQL's own tools)",
    process.env.MODELHUB_METADATA ?? "sqlite",
  )
  .option(
    "--blobs <spec>",
    "the hub's --blobs: backup copies fs files (azure: is refused: use the storage account's own means)",
    process.env.MODELHUB_BLOBS ?? "fs",
  )
  .option("--json", "print one JSON result instead of progress lines")
  .action((opts: { to: string; data: string; metadata: string; blobs: string; json?: boolean }) =>
    runBackupCommand({
      to: opts.to,
      dataDir: opts.data,
      metadata: opts.metadata,
      blobs: opts.blobs,
      json: opts.json === true,
    }),
  );

program
  .command("restore")
  .description("Restore a backup into a new (or empty) data directory.")
  .requiredOption("--from <dir>", "the backup folder")
  .requiredOption("-d, --data <dir>", "the data directory to create (must not exist, or be empty)")
  .option("--json", "print one JSON result instead of progress lines")
  .action((opts: { from: string; data: string; json?: boolean }) =>
    runRestoreCommand({ from: opts.from, dataDir: opts.data, json: opts.json === true }),
  );

program
  .command("migrate")
  .description(
    "Bring a PostgreSQL metadata database to this modelhub's schema (under an advisory lock: safe while other nodes start) and print its version. A database migrated by a newer modelhub is refused.",
  )
  .requiredOption(
    "--metadata <url>",
    "postgres://user@host:port/db (?schema=<name> for a schema other than the default search_path)",
  )
  .option("--json", "print one JSON result")
  .action(async (opts: { metadata: string; json?: boolean }) => {
    const { runMigrateCommand } = await import("./admin/migrate.js");
    await runMigrateCommand({ metadata: opts.metadata, json: opts.json === true });
  });

program
  .command("doctor")
  .description(
    "Report (and with --repair remove) what nothing will use again: interrupted uploads, scratch folders of dead processes, files no record refers to, blocks staged that nothing will commit. Safe while the hub runs.",
  )
  .option("-d, --data <dir>", "the hub's data directory", DEFAULTS.dataDir)
  .option(
    "--metadata <spec>",
    "the hub's --metadata (sqlite: the data directory's file; or postgres://…)",
    process.env.MODELHUB_METADATA ?? "sqlite",
  )
  .option(
    "--blobs <spec>",
    "the hub's --blobs (fs: under the data directory; or azure:<container>)",
    process.env.MODELHUB_BLOBS ?? "fs",
  )
  .option("--repair", "remove what is found (orphans only once older than --grace)")
  .option(
    "--grace <minutes>",
    "leave files younger than this alone (an operation may still be using them)",
    integer,
    DEFAULTS.orphanGraceMs / 60_000,
  )
  .option("--json", "print the report as JSON")
  .action(
    async (opts: {
      data: string;
      metadata: string;
      blobs: string;
      repair?: boolean;
      grace: number;
      json?: boolean;
    }) => {
      const { doctorLines, needsRepair, runDoctor } = await import("./admin/doctor.js");
      let backends;
      try {
        backends = { metadata: parseMetadataSpec(opts.metadata), blobs: parseBlobSpec(opts.blobs) };
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        stderr.line(`modelhub doctor: ${err.message}`);
        process.exit(2);
      }
      const report = await runDoctor({
        dataDir: resolve(opts.data),
        repair: opts.repair === true,
        graceMs: opts.grace * 60_000,
        ...backends,
      });
      if (opts.json) {
        stdout.json(report);
      } else {
        stdout.lines(doctorLines(report, opts.grace));
        if (!report.repaired && needsRepair(report)) stdout.line("Run again with --repair to remove them.");
      }
      process.exitCode = needsRepair(report) ? 1 : 0;
    },
  );

const tokens = program
  .command("tokens")
  .alias("token")
  .description("Hub-issued access tokens for --auth tokens (works on the data directory; safe while the hub runs).");

tokens
  .command("create")
  .description("Make a token for a user and print it once (only its hash is kept).")
  .requiredOption("--user <id>", "the user the token stands for")
  .option("--description <text>", "what the token is for, e.g. the machine it is used on")
  .option("--expires <lifetime>", "lifetime: 90d, 12h, 2w, 1y… or never", DEFAULT_TOKEN_LIFETIME)
  .option("-d, --data <dir>", "the hub's data directory", process.env.MODELHUB_DATA ?? DEFAULTS.dataDir)
  .option(
    "--metadata <spec>",
    "the hub's --metadata (sqlite: the data directory's file; or postgres://…)",
    process.env.MODELHUB_METADATA ?? "sqlite",
  )
  .option("--json", "print the token and its record as JSON")
  .action(
    (opts: { user: string; description?: string; expires: string; data: string; metadata: string; json?: boolean }) =>
      runTokensCreate({
        dataDir: opts.data,
        metadata: opts.metadata,
        user: opts.user,
        expires: opts.expires,
        json: opts.json === true,
        ...(opts.description !== undefined ? { description: opts.description } : {}),
      }),
  );

tokens
  .command("list")
  .description("List tokens: id, user, state, created, expires, last used, revoked (never the secret).")
  .option("--user <id>", "only this user's")
  .option("-d, --data <dir>", "the hub's data directory", process.env.MODELHUB_DATA ?? DEFAULTS.dataDir)
  .option(
    "--metadata <spec>",
    "the hub's --metadata (sqlite: the data directory's file; or postgres://…)",
    process.env.MODELHUB_METADATA ?? "sqlite",
  )
  .option("--json", "print JSON")
  .action((opts: { user?: string; data: string; metadata: string; json?: boolean }) =>
    runTokensList({
      dataDir: opts.data,
      metadata: opts.metadata,
      json: opts.json === true,
      ...(opts.user !== undefined ? { user: opts.user } : {}),
    }),
  );

tokens
  .command("revoke")
  .description("Revoke a token: the hub refuses it from the next request on.")
  .argument("<id>", "the token's id (from modelhub tokens list)")
  .option("-d, --data <dir>", "the hub's data directory", process.env.MODELHUB_DATA ?? DEFAULTS.dataDir)
  .option(
    "--metadata <spec>",
    "the hub's --metadata (sqlite: the data directory's file; or postgres://…)",
    process.env.MODELHUB_METADATA ?? "sqlite",
  )
  .option("--json", "print JSON")
  .action((id: string, opts: { data: string; metadata: string; json?: boolean }) =>
    runTokensRevoke({ dataDir: opts.data, metadata: opts.metadata, id, json: opts.json === true }),
  );

/** `--url`/`MODELHUB_URL`, `--token`/`MODELHUB_TOKEN` and `--profile` of the commands that call a running hub. */
interface HubFlags {
  url?: string;
  token?: string;
  profile?: string;
  json?: boolean;
}

function withHubOptions(command: Command): Command {
  return command
    .option("--url <origin>", "the hub (default: $MODELHUB_URL, the profile's, or http://127.0.0.1:3000)")
    .option(
      "--token <token>",
      "a bearer token (default: $MODELHUB_TOKEN or the profile's; prefer those: a command line is visible to other users)",
    )
    .option(
      "--profile <name>",
      "a connection saved by modelhub login (default: $MODELHUB_PROFILE, or the last one logged in to)",
    );
}

/** An `<imodel>` argument of the over-HTTP admin commands: an id as it is, a name looked up among the caller's iTwins. */
async function iModelIdFor(connection: { url: string; token: string }, ref: string): Promise<string> {
  const { isGuid, findIModel, AmbiguousIModel } = await import("./admin/imodel-ref.js");
  if (isGuid(ref)) return ref.trim().toLowerCase();
  const { ModelHubClient, ModelHubError } = await import("@modelhub/client");
  const { HubCommandError } = await import("./admin/hub-connection.js");
  try {
    return (
      await findIModel(
        new ModelHubClient({ url: connection.url, accessToken: connection.token, retry: { baseDelayMs: 250 } }),
        ref,
      )
    ).id;
  } catch (err) {
    if (err instanceof AmbiguousIModel) throw new HubCommandError(err.message, 2);
    if (err instanceof ModelHubError)
      throw new HubCommandError(
        err.status === 0 ? err.message : `the hub answered ${err.status}: ${err.code}: ${err.message}`,
        1,
      );
    throw err;
  }
}

/** The code of a HubCommandError for --json: the API's (from "the hub answered 404: iModelNotFound: …"), NetworkError, or UsageError/Failed. */
function errorCodeOf(err: { message: string; exitCode: 1 | 2 }): string {
  if (err.exitCode === 2) return "UsageError";
  if (/^cannot reach /.test(err.message)) return "NetworkError";
  return /^the hub answered \d+: (\w+):/.exec(err.message)?.[1] ?? "Failed";
}

/** Runs a command that calls the hub: its refusals are printed as `modelhub <name>: …` (or one JSON object under --json) with exit code 1 (2: bad arguments). */
async function runAgainstHub(
  name: string,
  flags: HubFlags,
  run: (connection: { url: string; token: string }) => Promise<unknown>,
): Promise<void> {
  const { HubCommandError } = await import("./admin/hub-connection.js");
  const { resolveConnection } = await import("./admin/profiles.js");
  const json = flags.json === true;
  const connection = await resolveConnection(flags).catch((err: unknown) =>
    fail(name, err instanceof Error ? err.message : String(err), 2, "UsageError", json),
  );
  if (!connection.token)
    fail(name, "give a token with --token or MODELHUB_TOKEN, or save one with modelhub login.", 2, "UsageError", json);
  try {
    await run({ url: connection.url, token: connection.token });
  } catch (err) {
    if (!(err instanceof HubCommandError)) throw err;
    fail(name, err.message, err.exitCode, errorCodeOf(err), json);
  }
}

withHubOptions(
  program
    .command("audit")
    .description(
      "Print the audit log (every write: who, what, where, outcome), one line per entry, oldest first. Needs imodels_manage, or an administrator for the whole hub.",
    )
    .option("--imodel <id>", "one iModel's entries")
    .option("--itwin <id>", "one iTwin's entries (all of the hub's without --imodel or --itwin: administrators only)")
    .option("--user <id>", "only this user's writes")
    .option("--action <name>", "only this action, e.g. briefcase.release, changeset.complete, locks.update")
    .option("--since <time>", "from this time on: ISO (2026-01-31T12:00:00Z) or an age (30m, 24h, 7d, 2w)")
    .option("--until <time>", "before this time (same forms)")
    .option("--limit <n>", "at most this many entries", integer)
    .option("--newest-first", "newest entries first")
    .option("--json", "one JSON object per line"),
).action(
  (
    opts: HubFlags & {
      imodel?: string;
      itwin?: string;
      user?: string;
      action?: string;
      since?: string;
      until?: string;
      limit?: number;
      newestFirst?: boolean;
      json?: boolean;
    },
  ) =>
    runAgainstHub("audit", opts, async (connection) => {
      const { runAudit } = await import("./admin/audit.js");
      await runAudit({
        ...connection,
        json: opts.json === true,
        newestFirst: opts.newestFirst === true,
        ...(opts.imodel !== undefined ? { iModelId: opts.imodel } : {}),
        ...(opts.itwin !== undefined ? { iTwinId: opts.itwin } : {}),
        ...(opts.user !== undefined ? { user: opts.user } : {}),
        ...(opts.action !== undefined ? { action: opts.action } : {}),
        ...(opts.since !== undefined ? { since: opts.since } : {}),
        ...(opts.until !== undefined ? { until: opts.until } : {}),
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      });
    }),
);

const briefcases = program
  .command("briefcases")
  .alias("briefcase")
  .description("An iModel's briefcases over HTTP; release a lost one (and its locks) with imodels_manage.");

withHubOptions(
  briefcases
    .command("list")
    .description("List the iModel's briefcases: id, owner, device, acquired, number of locks.")
    .argument("<imodel>", "the iModel's name or id")
    .option("--user <id>", "only this user's briefcases")
    .option("--json", "one JSON object per line"),
).action((ref: string, opts: HubFlags & { user?: string; json?: boolean }) =>
  runAgainstHub("briefcases list", opts, async (connection) => {
    const { runBriefcasesList } = await import("./admin/briefcases.js");
    await runBriefcasesList({
      ...connection,
      iModelId: await iModelIdFor(connection, ref),
      json: opts.json === true,
      ...(opts.user !== undefined ? { user: opts.user } : {}),
    });
  }),
);

withHubOptions(
  briefcases
    .command("release")
    .description(
      "Release a briefcase and all its locks, e.g. a colleague's lost laptop's (needs imodels_manage unless it is your own). Its owner can no longer lock or push with it.",
    )
    .argument("<imodel>", "the iModel's name or id")
    .argument("<briefcaseId>", "the briefcase (see modelhub briefcases list)", integer)
    .option("--json", "print JSON"),
).action((ref: string, briefcaseId: number, opts: HubFlags & { json?: boolean }) =>
  runAgainstHub("briefcases release", opts, async (connection) => {
    const { runBriefcaseRelease } = await import("./admin/briefcases.js");
    await runBriefcaseRelease({
      ...connection,
      iModelId: await iModelIdFor(connection, ref),
      briefcaseId,
      json: opts.json === true,
    });
  }),
);

const access = program
  .command("access")
  .description(
    "Roles, members and iModel permissions of a running hub (over HTTP; changing them needs imodels_manage).",
  );
const accessCommand = (parent: Command, name: string, description: string) =>
  withHubOptions(parent.command(name).description(description)).option("--json", "print JSON, one object per line");
const runAccess = (
  name: string,
  opts: HubFlags,
  run: (connection: { url: string; token: string }, admin: typeof AccessCommands) => Promise<void>,
) => runAgainstHub(`access ${name}`, opts, async (connection) => run(connection, await import("./admin/access.js")));

const accessRoles = access
  .command("roles")
  .description("An iTwin's roles: named sets of permissions given to members.");
accessCommand(accessRoles, "list", "List the iTwin's roles and their permissions.")
  .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
  .action((opts: HubFlags & { itwin: string; json?: boolean }) =>
    runAccess("roles list", opts, (c, a) => a.runRolesList({ ...c, iTwinId: opts.itwin, json: opts.json === true })),
  );
accessCommand(accessRoles, "create", "Create a role.")
  .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
  .requiredOption("--name <name>", "its display name, unique in the iTwin")
  .requiredOption("--permissions <list>", "comma-separated: webview, read, write, manage, delete")
  .option("--description <text>", "what the role is for")
  .action(
    (opts: HubFlags & { itwin: string; name: string; permissions: string; description?: string; json?: boolean }) =>
      runAccess("roles create", opts, (c, a) =>
        a.runRolesCreate({
          ...c,
          iTwinId: opts.itwin,
          name: opts.name,
          permissions: opts.permissions,
          json: opts.json === true,
          ...(opts.description !== undefined ? { description: opts.description } : {}),
        }),
      ),
  );
accessCommand(accessRoles, "delete", "Delete a role (its members lose it, iModel grants to it go too).")
  .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
  .requiredOption("--role <name>", "the role's name or id")
  .action((opts: HubFlags & { itwin: string; role: string; json?: boolean }) =>
    runAccess("roles delete", opts, (c, a) =>
      a.runRolesDelete({ ...c, iTwinId: opts.itwin, role: opts.role, json: opts.json === true }),
    ),
  );

const accessMembers = access.command("members").description("An iTwin's members and their roles.");
accessCommand(accessMembers, "list", "List the iTwin's members and their roles.")
  .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
  .action((opts: HubFlags & { itwin: string; json?: boolean }) =>
    runAccess("members list", opts, (c, a) =>
      a.runMembersList({ ...c, iTwinId: opts.itwin, json: opts.json === true }),
    ),
  );
accessCommand(accessMembers, "add", "Give a user roles on the iTwin (making them a member).")
  .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
  .requiredOption("--user <id>", "the user (the id their tokens carry)")
  .option("--role <name>", "a role's name or id (repeatable)", collect, [] as string[])
  .action((opts: HubFlags & { itwin: string; user: string; role: string[]; json?: boolean }) =>
    runAccess("members add", opts, (c, a) =>
      a.runMembersAdd({ ...c, iTwinId: opts.itwin, user: opts.user, roles: opts.role, json: opts.json === true }),
    ),
  );
accessCommand(accessMembers, "remove", "Take roles from a user, or (without --role) remove them from the iTwin.")
  .requiredOption("--itwin <name|id>", "the iTwin (one of yours by name, or its id)")
  .requiredOption("--user <id>", "the user")
  .option("--role <name>", "only this role (repeatable)", collect, [] as string[])
  .action((opts: HubFlags & { itwin: string; user: string; role: string[]; json?: boolean }) =>
    runAccess("members remove", opts, (c, a) =>
      a.runMembersRemove({ ...c, iTwinId: opts.itwin, user: opts.user, roles: opts.role, json: opts.json === true }),
    ),
  );

const accessIModel = access
  .command("imodel")
  .description("One iModel's own permissions: once it has any, they replace the iTwin's for it.");
/** Exactly one of --user and --role. */
function grantTarget(opts: { user?: string; role?: string }): { user: string } | { role: string } {
  if ((opts.user === undefined) === (opts.role === undefined)) {
    fail("access imodel", "give exactly one of --user <id> and --role <name>.", 2);
  }
  return opts.user !== undefined ? { user: opts.user } : { role: opts.role! };
}
accessCommand(accessIModel, "grant", "Give a user (or an iTwin role) permissions on one iModel.")
  .argument("<imodel>", "the iModel's name or id")
  .option("--user <id>", "the user")
  .option("--role <name>", "an iTwin role instead of a user")
  .requiredOption("--permissions <list>", "comma-separated: webview, read, write, manage")
  .action(
    (iModelId: string, opts: HubFlags & { user?: string; role?: string; permissions: string; json?: boolean }) => {
      const target = grantTarget(opts);
      return runAccess("imodel grant", opts, async (c, a) =>
        a.runIModelGrant({
          ...c,
          iModelId: await iModelIdFor(c, iModelId),
          target,
          permissions: opts.permissions,
          json: opts.json === true,
        }),
      );
    },
  );
accessCommand(accessIModel, "revoke", "Remove a user's (or a role's) own permissions on one iModel.")
  .argument("<imodel>", "the iModel's name or id")
  .option("--user <id>", "the user")
  .option("--role <name>", "an iTwin role instead of a user")
  .action((iModelId: string, opts: HubFlags & { user?: string; role?: string; json?: boolean }) => {
    const target = grantTarget(opts);
    return runAccess("imodel revoke", opts, async (c, a) =>
      a.runIModelRevoke({ ...c, iModelId: await iModelIdFor(c, iModelId), target, json: opts.json === true }),
    );
  });
accessCommand(access, "show", "Your effective permissions on an iModel.")
  .argument("<imodel>", "the iModel's name or id")
  .action((iModelId: string, opts: HubFlags & { json?: boolean }) =>
    runAccess("show", opts, async (c, a) =>
      a.runAccessShow({ ...c, iModelId: await iModelIdFor(c, iModelId), json: opts.json === true }),
    ),
  );

// itwins, imodels, changesets, versions, locks, checkpoints, demo: the iModels API through @modelhub/client.
registerApiCommands(program);
// changes, diff: element-level changes (docs/changes.md).
registerChangeCommands(program);

program
  .command("login")
  .description(
    "Save a hub's URL and a token as a profile (in ~/.config/modelhub/profiles.json, readable by you only), after checking that the hub accepts the token; the commands that call a hub then need no --url or --token.",
  )
  .argument("<url>", "the hub, e.g. https://hub.example.com")
  .option("--token <token>", "the token (default: $MODELHUB_TOKEN; or --token-stdin)")
  .option(
    "--token-stdin",
    "read the token from standard input (keeps it out of the command line and the shell history)",
  )
  .option("--profile <name>", "the profile's name", "default")
  .option("--default", "make it the default profile (the first one saved is)")
  .option("--json", "print the saved profile (without the token) as JSON")
  .action(
    async (
      url: string,
      opts: { token?: string; tokenStdin?: boolean; profile: string; default?: boolean; json?: boolean },
    ) => {
      const { readProfiles, validProfileName, writeProfiles, profilesPath } = await import("./admin/profiles.js");
      const json = opts.json === true;
      if (!validProfileName(opts.profile))
        fail("login", "--profile must be a name of letters, digits, '.', '_' or '-'.", 2, "UsageError", json);
      let token = opts.token ?? process.env.MODELHUB_TOKEN;
      if (opts.tokenStdin) token = (await readStdin()).trim();
      if (!token) fail("login", "give the token with --token-stdin, --token or MODELHUB_TOKEN.", 2, "UsageError", json);
      const { ModelHubClient, ModelHubError } = await import("@modelhub/client");
      let origin: string;
      try {
        const client = new ModelHubClient({ url, accessToken: token, retry: { baseDelayMs: 250 } });
        origin = client.apiBase.slice(0, -"/imodels".length);
        // Any authenticated read proves the token: the first page of the caller's iTwins.
        await client.request("GET", `${client.iTwinsBase}?$top=1`);
      } catch (err) {
        if (err instanceof ModelHubError)
          fail(
            "login",
            json ? err.message : err.describe(),
            err.status === 0 && err.code === "InvalidUrl" ? 2 : 1,
            err.code,
            json,
          );
        throw err;
      }
      const file = await readProfiles();
      file.profiles[opts.profile] = { url: origin, token, savedAt: new Date().toISOString() };
      // The first profile saved becomes the default; another one only with --default.
      const makeDefault = file.default === undefined || file.default === opts.profile || opts.default === true;
      if (makeDefault) file.default = opts.profile;
      await writeProfiles(file);
      if (json) stdout.json({ profile: opts.profile, url: origin, default: makeDefault, path: profilesPath() });
      else
        stdout.line(
          `logged in to ${origin} as profile '${opts.profile}'${makeDefault ? " (the default)" : ` (use it with --profile ${opts.profile})`}; saved in ${profilesPath()}`,
        );
    },
  );

program
  .command("logout")
  .description("Forget a saved profile (its token is removed from the profiles file).")
  .option("--profile <name>", "the profile (default: the default one)")
  .option("--json", "print JSON")
  .action(async (opts: { profile?: string; json?: boolean }) => {
    const { readProfiles, writeProfiles } = await import("./admin/profiles.js");
    const file = await readProfiles();
    const name = opts.profile ?? file.default;
    if (name === undefined || !file.profiles[name])
      fail(
        "logout",
        name === undefined ? "there is no saved profile." : `there is no profile '${name}'.`,
        1,
        "ProfileNotFound",
        opts.json === true,
      );
    delete file.profiles[name];
    if (file.default === name) delete file.default;
    await writeProfiles(file);
    if (opts.json) stdout.json({ profile: name, removed: true });
    else stdout.line(`forgot profile '${name}'`);
  });

program
  .command("profiles")
  .description("List the saved profiles: name, hub URL, saved (never the token).")
  .option("--json", "one JSON object per line")
  .action(async (opts: { json?: boolean }) => {
    const { readProfiles } = await import("./admin/profiles.js");
    const { tableLines, timestamp } = await import("./admin/terminal.js");
    const file = await readProfiles();
    const entries = Object.entries(file.profiles);
    if (opts.json) {
      for (const [name, p] of entries)
        stdout.json({ profile: name, url: p.url, savedAt: p.savedAt, default: name === file.default });
      return;
    }
    if (entries.length === 0) return stdout.line("no profiles (save one: modelhub login <url>)");
    stdout.lines(
      tableLines([
        ["PROFILE", "URL", "SAVED", "DEFAULT"],
        ...entries.map(([name, p]) => [name, p.url, timestamp(p.savedAt), name === file.default ? "yes" : ""]),
      ]),
    );
  });

program
  .command("completion")
  .description('Print a shell completion script: eval "$(modelhub completion bash)" in ~/.bashrc, or zsh in ~/.zshrc.')
  .argument("<shell>", "bash or zsh")
  .action(async (shell: string) => {
    const { bashCompletion, zshCompletion } = await import("./admin/completion.js");
    if (shell !== "bash" && shell !== "zsh")
      fail("completion", `'${shell}' is not a shell this knows: bash or zsh.`, 2);
    stdout.lines((shell === "bash" ? bashCompletion(program) : zshCompletion(program)).trimEnd().split("\n"));
  });

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

program.parseAsync(process.argv).catch((err: unknown) => fail("", err instanceof Error ? err.message : String(err), 1));
