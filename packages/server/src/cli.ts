#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, DEFAULTS, makeConfig } from "./config.js";
import { startServer } from "./main.js";

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("Not a whole number.");
  return Number(value);
}

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
  .action(async (opts: { port: number; host: string; data: string; publicUrl?: string; logLevel: string; pushTimeout: number; rateLimit: number; checkpointEvery: number; checkpointEveryMb: number; keepCheckpoints: number; verifyChangesetIds: boolean }) => {
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
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`modelhub: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    const server = await startServer(config);
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

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`modelhub: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
