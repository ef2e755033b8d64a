// `modelhub checkpoints …`: list, show and download checkpoints.
import { resolve } from "node:path";
import type { Command } from "commander";
import type { ChangesetRef, Checkpoint } from "@modelhub/client";
import { ModelHubError } from "@modelhub/client";
import { megabytes } from "./progress.js";
import type { HubFlags } from "./commands-api-support.js";
import {
  quietUnder,
  UsageError,
  out,
  json,
  changesetRef,
  hubCommand,
  run,
  usageExitCode2,
  printTable,
  IMODEL_ARG,
  iModelIdOf,
  namedVersionIdOf,
} from "./commands-api-support.js";

export function registerCheckpoints(program: Command): void {
  const checkpoints = usageExitCode2(
    program
      .command("checkpoints")
      .alias("checkpoint")
      .description("Checkpoints: an iModel's state at a changeset as a .bim file."),
  );
  hubCommand(checkpoints, "list", "List an iModel's checkpoints: changeset, state, size; and the disk they use.")
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .action((imodelRef: string, opts: HubFlags & { itwin?: string }) =>
      run("checkpoints list", opts, async (client) => {
        const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
        const list = await client.checkpoints(iModelId);
        // A list: one object per line (the total is their sizes' sum).
        if (opts.json) return list.checkpoints.forEach((c) => json(c));
        const rows = [["CHANGESET", "CHANGESET ID", "STATE", "SIZE", "NOTE"]];
        for (const c of list.checkpoints)
          rows.push([
            String(c.changesetIndex),
            c.changesetId || "(baseline)",
            c.state,
            c.state === "successful" ? megabytes(c.size) : "-",
            c.failureReason ?? "",
          ]);
        printTable(rows, "no checkpoints");
        out.line(`disk used: ${megabytes(list.totalSize)}`);
      }),
    );
  hubCommand(
    checkpoints,
    "download",
    "Download an iModel's state as a .bim file: the checkpoint at a changeset, or a named version's. The hub keeps checkpoints at some changesets only: a changeset without one is refused unless --nearest takes the nearest before it (the file is named for the changeset it really holds).",
  )
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .option("--changeset <index|id>", "the changeset (default: the newest that has a checkpoint)", changesetRef)
    .option("--version <name|id>", "a named version (its name or id) instead")
    .option("--nearest", "with --changeset: take the nearest checkpoint before it when it has none")
    .option("--to <file>", "where to write it (default: <imodel>-<changeset index>.bim here)")
    .action(
      (
        imodelRef: string,
        opts: HubFlags & { itwin?: string } & {
          changeset?: ChangesetRef;
          version?: string;
          nearest?: boolean;
          to?: string;
        },
      ) =>
        run("checkpoints download", opts, async (client) => {
          const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
          if (opts.changeset !== undefined && opts.version !== undefined)
            throw new UsageError("give --changeset or --version, not both.");
          let checkpoint: Checkpoint;
          if (opts.version !== undefined) {
            checkpoint = await client.checkpointOfNamedVersion(
              iModelId,
              await namedVersionIdOf(client, iModelId, opts.version),
            );
          } else if (opts.changeset !== undefined) {
            const wanted = await client.getChangeset(iModelId, opts.changeset).then(
              (c) => c.index,
              (err: unknown) => {
                // Changeset 0 is the baseline, which is no changeset record.
                if (opts.changeset === 0) return 0;
                throw err;
              },
            );
            checkpoint = await client.nearestCheckpoint(iModelId, wanted);
            if (checkpoint.changesetIndex !== wanted && !opts.nearest) {
              throw new ModelHubError(
                404,
                "CheckpointNotFound",
                `The hub has no checkpoint at changeset ${wanted}; the nearest before it is at changeset ${checkpoint.changesetIndex}. Download that one with --nearest (the file then holds changeset ${checkpoint.changesetIndex}, not ${wanted}) and apply the changesets after it with iTwin.js, or name changeset ${wanted} as a version (modelhub versions create) so the hub makes its checkpoint.`,
              );
            }
          } else {
            checkpoint = await client.nearestCheckpoint(iModelId, (await client.latestChangeset(iModelId))?.index ?? 0);
          }
          const path = resolve(opts.to ?? `${iModelId}-${checkpoint.changesetIndex}.bim`);
          const progress = quietUnder(opts.json, `checkpoint ${checkpoint.changesetIndex}`);
          let size: number;
          try {
            size = await client.downloadCheckpoint(checkpoint, path, progress.onProgress);
          } finally {
            progress.stop();
          }
          if (opts.json)
            json({
              iModelId,
              changesetIndex: checkpoint.changesetIndex,
              changesetId: checkpoint.changesetId,
              path,
              size,
            });
          else out.line(`checkpoint at changeset ${checkpoint.changesetIndex} → ${path} (${megabytes(size)})`);
        }),
    );
}
