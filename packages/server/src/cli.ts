#!/usr/bin/env node
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, DEFAULTS, makeConfig } from "./config.js";
import { startServer } from "./main.js";
import { runBackupCommand, runRestoreCommand } from "./admin/commands.js";

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("Not a whole number.");
  return Number(value);
}

/** The serve options of housekeeping (see config.ts). */
interface MaintenanceFlags {
  sweepInterval: number;
  orphanScanInterval: number;
  nodeId?: string;
}

/** The serve options of HTTP hardening (see config.ts). */
interface HardeningOptions {
  maxUploads: number;
  maxConnections?: number;
  uploadStallTimeout: number;
  allowedHost: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

const program = new Command()
  .name("modelhub")
  .description("A self-hosted iModelHub for iTwin.js.")
  .showHelpAfterError();

program
  .command("serve")
  .description("Serve the iModels API v2 on embedded storage (SQLite metadata, files on local disk).")
  .option("-p, --port <port>", "TCP port (0 picks a free one)", integer, DEFAULTS.port)
  .option("-H, --host <host>", "address to listen on (open mode allows loopback only)", DEFAULTS.host)
  .option("-d, --data <dir>", "where metadata and files are kept", DEFAULTS.dataDir)
  .option("--public-url <origin>", "origin to use in links when behind a proxy")
  .option("--log-level <level>", "fatal|error|warn|info|debug|trace|silent", DEFAULTS.logLevel)
  .option("--push-timeout <seconds>", "how long an unfinished push blocks other briefcases", integer, DEFAULTS.pendingPushTimeoutMs / 1000)
  .option("--rate-limit <perMinute>", "requests per minute per access token (0 = unlimited)", integer, DEFAULTS.rateLimitPerMinute)
  .option("--checkpoint-every <changesets>", "make a checkpoint after this many changesets (0 = only for named versions)", integer, DEFAULTS.checkpoints.everyChangesets)
  .option("--checkpoint-every-mb <megabytes>", "…or after this many MB of changesets (0 = off)", integer, DEFAULTS.checkpoints.everyBytes / (1024 * 1024))
  .option("--keep-checkpoints <n>", "automatic checkpoints kept (the baseline and named versions' are always kept)", integer, DEFAULTS.checkpoints.keepAutomatic)
  .option("--no-verify-changeset-ids", "do not recompute changeset ids from their files")
  .option("--max-uploads <n>", "storage uploads at once; more are answered 503 ServerBusy (retry-after)", integer, DEFAULTS.maxUploads)
  .option("--max-connections <n>", "open connections at once (default: what the file-descriptor limit allows)", integer)
  .option("--upload-stall-timeout <seconds>", "cut off an upload that sends less than 64 KiB in this time", integer, DEFAULTS.uploadStallTimeoutMs / 1000)
  .option("--allowed-host <host>", "also answer for this Host header (name or name:port; repeatable); loopback names always work", collect, [])
  .option("--no-metrics", "do not serve Prometheus metrics on /metrics")
  .option("--sweep-interval <seconds>", "how often left-over temp files and deleted iModels' files are removed", integer, DEFAULTS.sweepIntervalMs / 1000)
  .option("--orphan-scan-interval <minutes>", "how often files nothing refers to are looked for and removed (0 = never)", integer, DEFAULTS.orphanScanIntervalMs / 60_000)
  .option("--node-id <name>", "this machine's name among hub processes sharing the data (default: the host name)")
  .action(async (opts: { port: number; host: string; data: string; publicUrl?: string; logLevel: string; pushTimeout: number; rateLimit: number; checkpointEvery: number; checkpointEveryMb: number; keepCheckpoints: number; verifyChangesetIds: boolean; metrics: boolean } & HardeningOptions & MaintenanceFlags) => {
    let config;
    try {
      config = makeConfig({
        port: opts.port,
        host: opts.host,
        dataDir: opts.data,
        publicUrl: opts.publicUrl,
        logLevel: opts.logLevel as never,
        pendingPushTimeoutMs: opts.pushTimeout * 1000,
        verifyChangesetIds: opts.verifyChangesetIds,
        rateLimitPerMinute: opts.rateLimit,
        checkpoints: { everyChangesets: opts.checkpointEvery, everyBytes: opts.checkpointEveryMb * 1024 * 1024, keepAutomatic: opts.keepCheckpoints },
        maxUploads: opts.maxUploads,
        maxConnections: opts.maxConnections,
        uploadStallTimeoutMs: opts.uploadStallTimeout * 1000,
        allowedHosts: opts.allowedHost,
        sweepIntervalMs: opts.sweepInterval * 1000,
        orphanScanIntervalMs: opts.orphanScanInterval * 60_000,
        nodeId: opts.nodeId,
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`modelhub: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    const server = await startServer(config, { metrics: opts.metrics });
    process.stdout.write(`modelhub listening on ${server.url}\n`);
    process.stdout.write(`  API base URL for the iModels clients: ${server.url}/imodels\n  data: ${config.dataDir}\n`);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`modelhub: ${signal} received, finishing requests in flight…\n`);
      server.close().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`modelhub: shutdown failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });

program
  .command("backup")
  .description("Copy a data directory (consistently, also while a hub serves it) into a new folder.")
  .requiredOption("--to <dir>", "the backup folder to create (must not exist, or be empty)")
  .option("-d, --data <dir>", "the data directory to back up", DEFAULTS.dataDir)
  .option("--json", "print one JSON result instead of progress lines")
  .action((opts: { to: string; data: string; json?: boolean }) => runBackupCommand({ to: opts.to, dataDir: opts.data, json: opts.json === true }));

program
  .command("restore")
  .description("Restore a backup into a new (or empty) data directory.")
  .requiredOption("--from <dir>", "the backup folder")
  .requiredOption("-d, --data <dir>", "the data directory to create (must not exist, or be empty)")
  .option("--json", "print one JSON result instead of progress lines")
  .action((opts: { from: string; data: string; json?: boolean }) => runRestoreCommand({ from: opts.from, dataDir: opts.data, json: opts.json === true }));

program
  .command("doctor")
  .description("Report (and with --repair remove) what nothing will use again: interrupted uploads, scratch folders of dead processes, files no record refers to. Safe while the hub runs.")
  .option("-d, --data <dir>", "the hub's data directory", DEFAULTS.dataDir)
  .option("--repair", "remove what is found (orphans only once older than --grace)")
  .option("--grace <minutes>", "leave files younger than this alone (an operation may still be using them)", integer, DEFAULTS.orphanGraceMs / 60_000)
  .option("--json", "print the report as JSON")
  .action(async (opts: { data: string; repair?: boolean; grace: number; json?: boolean }) => {
    const { needsRepair, runDoctor } = await import("./admin/doctor.js");
    const report = await runDoctor({ dataDir: resolve(opts.data), repair: opts.repair === true, graceMs: opts.grace * 60_000 });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const verb = report.repaired ? "removed" : "found";
      const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
      const lines = [
        `data: ${report.dataDir}`,
        `interrupted uploads (temp files of writers that are gone): ${report.leftovers.files} ${verb} (${mb(report.leftovers.bytes)})`,
        `scratch folders of processes that are gone: ${report.scratchFolders} ${verb}`,
        `files scanned: ${report.blobsScanned}; nothing refers to: ${report.orphans.length}${report.repaired ? `, ${report.orphansDeleted} removed (${mb(report.orphanBytesDeleted)})` : ""}${report.orphansTooRecent ? `, ${report.orphansTooRecent} younger than ${opts.grace} min left alone` : ""}`,
        ...report.orphans.map((o) => `  ${o.key} (${o.size} bytes, ${o.lastModified.toISOString()}): ${o.reason}`),
        `deletions waiting (a running hub does them within its sweep interval): ${report.pendingDeletions}${report.deletionsHeld ? " — held by a backup in progress" : ""}`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
      if (!report.repaired && needsRepair(report)) process.stdout.write("Run again with --repair to remove them.\n");
    }
    process.exitCode = needsRepair(report) ? 1 : 0;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`modelhub: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
