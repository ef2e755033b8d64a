// `modelhub backup`, `restore`, `migrate`, `doctor` and `tokens`: commands on a hub's data directory and stores.
import { resolve } from "node:path";
import type { Command } from "commander";
import { ConfigError, DEFAULTS } from "../config.js";
import { parseBlobSpec, parseMetadataSpec } from "../adapters/store-specs.js";
import { DEFAULT_TOKEN_LIFETIME } from "./token-lifetime.js";
import { stderr, stdout } from "./terminal.js";
import { integer } from "./cli-options.js";

/** Adds the commands that work on a hub's stores (not over HTTP) to the CLI. */
export function registerMaintenanceCommands(program: Command): void {
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
    .action(async (opts: { to: string; data: string; metadata: string; blobs: string; json?: boolean }) =>
      (await import("./commands.js")).runBackupCommand({
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
    .action(async (opts: { from: string; data: string; json?: boolean }) =>
      (await import("./commands.js")).runRestoreCommand({
        from: opts.from,
        dataDir: opts.data,
        json: opts.json === true,
      }),
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
      const { runMigrateCommand } = await import("./migrate.js");
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
        const { doctorLines, needsRepair, runDoctor } = await import("./doctor.js");
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
      async (opts: {
        user: string;
        description?: string;
        expires: string;
        data: string;
        metadata: string;
        json?: boolean;
      }) =>
        (await import("./tokens.js")).runTokensCreate({
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
    .action(async (opts: { user?: string; data: string; metadata: string; json?: boolean }) =>
      (await import("./tokens.js")).runTokensList({
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
    .action(async (id: string, opts: { data: string; metadata: string; json?: boolean }) =>
      (await import("./tokens.js")).runTokensRevoke({
        dataDir: opts.data,
        metadata: opts.metadata,
        id,
        json: opts.json === true,
      }),
    );
}
