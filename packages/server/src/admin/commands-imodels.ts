// `modelhub imodels …`: create, list, show, delete iModels.
import { basename, resolve } from "node:path";
import type { Command } from "commander";
import type { IModel } from "@modelhub/client";
import { megabytes } from "./progress.js";
import { confirmDelete, stderr } from "./terminal.js";
import type { HubFlags } from "./commands-api-support.js";
import {
  quietUnder,
  out,
  json,
  integer,
  hubCommand,
  run,
  usageExitCode2,
  printTable,
  when,
  iTwinIdOf,
  IMODEL_ARG,
  findIModel,
  iModelIdOf,
} from "./commands-api-support.js";

export function registerIModel(program: Command): void {
  const imodel = usageExitCode2(
    program
      .command("imodels")
      .alias("imodel")
      .description("iModels of an iTwin: create (from a .bim file), list, show, delete."),
  );

  hubCommand(
    imodel,
    "create",
    "Create an iModel, empty or from a .bim file (uploaded with progress), and wait until the hub initialized it.",
  )
    .requiredOption(
      "--itwin <name|id>",
      "the iTwin: one of yours by name, or an id (an id the hub never saw creates that iTwin, yours)",
    )
    .requiredOption("--name <name>", "the iModel's name, unique in the iTwin")
    .option("--description <text>", "what it is")
    .option("--from <file.bim>", "the baseline: a .bim file (a snapshot or a standalone iModel)")
    .option("--timeout <seconds>", "how long to wait for the initialization", integer, 600)
    .action((opts: HubFlags & { itwin: string; name: string; description?: string; from?: string; timeout: number }) =>
      run("imodels create", opts, async (client) => {
        const input = {
          iTwinId: await iTwinIdOf(client, opts.itwin),
          name: opts.name,
          ...(opts.description !== undefined ? { description: opts.description } : {}),
        };
        let iModel: IModel;
        if (opts.from !== undefined) {
          const path = resolve(opts.from);
          const progress = quietUnder(opts.json, `uploading ${basename(path)}`);
          try {
            iModel = await client.createIModelFromFile({
              ...input,
              path,
              onProgress: progress.onProgress,
              timeoutMs: opts.timeout * 1000,
              onCreated: (created) => {
                if (!opts.json) stderr.line(`created iModel ${created.id}; uploading its baseline…`);
              },
            });
          } finally {
            progress.stop();
          }
        } else {
          const created = await client.createIModel(input);
          await client.waitForInitialization(created.id, opts.timeout * 1000);
          iModel = await client.getIModel(created.id);
        }
        if (opts.json) json(iModel);
        else out.line(`iModel ${iModel.id} '${iModel.name}' in iTwin ${iModel.iTwinId}: ${iModel.state}`);
      }),
    );

  hubCommand(
    imodel,
    "list",
    "List iModels: id, name, state (failed ones too, with the reason), created; one iTwin's, or all of yours.",
  )
    .option("--itwin <name|id>", "only this iTwin's (one of yours by name, or an id); without it, every iTwin of yours")
    .option("--search <text>", "only those whose name contains this")
    .action((opts: HubFlags & { itwin?: string; search?: string }) =>
      run("imodels list", opts, async (client) => {
        const iTwins: { id: string; displayName: string }[] = [];
        if (opts.itwin !== undefined) iTwins.push({ id: await iTwinIdOf(client, opts.itwin), displayName: "" });
        else for await (const iTwin of client.iTwins()) iTwins.push(iTwin);
        const rows = [
          opts.itwin !== undefined ? ["ID", "NAME", "STATE", "CREATED"] : ["ID", "NAME", "ITWIN", "STATE", "CREATED"],
        ];
        for (const iTwin of iTwins) {
          // Failed creations too (the hub's $includeFailed extension): hidden, the only trace of one is an error message.
          for await (const m of client.iModels(iTwin.id, {
            includeFailed: true,
            ...(opts.search !== undefined ? { search: opts.search } : {}),
          })) {
            // Not initialized: being created, or failed; its create operation says which (and why).
            const creation =
              m.state === "notInitialized" ? await client.getCreateOperation(m.id).catch(() => undefined) : undefined;
            const state =
              creation?.state === "failed"
                ? `failed${creation.failureReason ? `: ${creation.failureReason}` : ""}`
                : creation
                  ? `${m.state} (${creation.state})`
                  : m.state;
            if (opts.json)
              json({
                ...m,
                ...(creation
                  ? {
                      createOperation: {
                        state: creation.state,
                        ...(creation.failureReason ? { failureReason: creation.failureReason } : {}),
                      },
                    }
                  : {}),
              });
            else if (opts.itwin !== undefined) rows.push([m.id, m.name, state, when(m.createdDateTime)]);
            else rows.push([m.id, m.name, iTwin.displayName, state, when(m.createdDateTime)]);
          }
        }
        if (!opts.json) printTable(rows, "no iModels");
      }),
    );

  hubCommand(
    imodel,
    "show",
    "Show an iModel: name, state, iTwin, created, its newest changeset and its checkpoints' disk use.",
  )
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .action((imodelRef: string, opts: HubFlags & { itwin?: string }) =>
      run("imodels show", opts, async (client) => {
        const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
        const iModel = await client.getIModel(iModelId);
        const latest = await client.latestChangeset(iModelId);
        // Disk use: every changeset file plus every checkpoint file (the baseline is checkpoint 0).
        let changesetBytes = 0;
        let changesetCount = 0;
        for await (const c of client.changesets(iModelId, { pageSize: 1000 })) {
          changesetBytes += c.fileSize;
          changesetCount++;
        }
        const checkpoints = await client.checkpoints(iModelId);
        const diskUse = {
          changesets: changesetBytes,
          checkpoints: checkpoints.totalSize,
          total: changesetBytes + checkpoints.totalSize,
        };
        const shown = {
          ...iModel,
          latestChangeset: latest
            ? { index: latest.index, id: latest.id, pushDateTime: latest.pushDateTime, creatorId: latest.creatorId }
            : null,
          diskUse,
        };
        if (opts.json) return json(shown);
        const successful = checkpoints.checkpoints.filter((c) => c.state === "successful").length;
        out.lines([
          `id:          ${iModel.id}`,
          `name:        ${iModel.name}`,
          `description: ${iModel.description ?? "-"}`,
          `iTwin:       ${iModel.iTwinId}`,
          `state:       ${iModel.state}`,
          `created:     ${when(iModel.createdDateTime)}`,
          `changesets:  ${latest ? `${latest.index} (newest ${latest.id}, ${when(latest.pushDateTime)} by ${latest.creatorId})` : "0"}`,
          `disk use:    ${megabytes(diskUse.total)} (${changesetCount} changeset files ${megabytes(changesetBytes)}, ${successful} checkpoints ${megabytes(checkpoints.totalSize)})`,
        ]);
      }),
    );

  hubCommand(imodel, "delete", "Delete an iModel with its changesets, versions and files (needs imodels_delete).")
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .option("-y, --yes", "do not ask (needed without a terminal)")
    .action((ref: string, opts: HubFlags & { itwin?: string; yes?: boolean }) =>
      run("imodels delete", opts, async (client) => {
        const iModel = await findIModel(client, ref, opts.itwin);
        const iModelId = iModel.id;
        await confirmDelete(
          "imodels delete",
          `iModel '${iModel.name}' (${iModel.id}) with its changesets, named versions and files`,
          opts.yes,
          opts.json === true,
        );
        await client.deleteIModel(iModelId);
        if (opts.json) json({ deleted: true, iModelId });
        else out.line(`deleted iModel ${iModelId}`);
      }),
    );
}
