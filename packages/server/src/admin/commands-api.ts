// `modelhub itwins|imodels|changesets|versions|locks|checkpoints|gates|demo …` (singular aliases too): the iTwins and
// iModels APIs for people, over HTTP through @modelhub/client (one file per noun, shared parts in
// commands-api-support.ts). Exit codes: 0 done, 1 the hub refused or failed (one line: its error code and
// message), 2 usage.
import type { Command } from "commander";
import { registerITwin } from "./commands-itwins.js";
import { registerWebhooks } from "./commands-webhooks.js";
import { registerIModel } from "./commands-imodels.js";
import { registerChangesets, registerLocks, registerVersions } from "./commands-history.js";
import { registerCheckpoints } from "./commands-checkpoints.js";
import { registerGates } from "./commands-gates.js";
import type { HubFlags } from "./commands-api-support.js";
import { out, json, hubCommand, run, usageExitCode2 } from "./commands-api-support.js";

export type { HubFlags } from "./commands-api-support.js";
export { UsageError, hubCommand, iModelIdOf, printTable, run, usageExitCode2 } from "./commands-api-support.js";

export function registerApiCommands(program: Command): void {
  registerITwin(program);
  registerIModel(program);
  registerChangesets(program);
  registerVersions(program);
  registerLocks(program);
  registerCheckpoints(program);
  registerGates(program);
  registerWebhooks(program);
  registerDemo(program);
}

function registerDemo(program: Command): void {
  usageExitCode2(
    hubCommand(
      program,
      "demo",
      "Put a sample iModel on the hub: an iTwin (yours, created or reused by name), an iModel from the sample baseline shipped with modelhub, three changesets pushed through a briefcase, and two named versions; then open the printed link in the web UI.",
    )
      .option(
        "--itwin-name <name>",
        "the iTwin to put it in (created when you have none of that name)",
        "modelhub demo",
      )
      .option("--imodel-name <name>", "the iModel's name (must not exist in that iTwin yet)", "Sample plant"),
  ).action((opts: HubFlags & { itwinName: string; imodelName: string }) =>
    run("demo", opts, async (client) => {
      const { runDemo } = await import("./demo.js");
      const result = await runDemo(client, {
        iTwinName: opts.itwinName,
        iModelName: opts.imodelName,
        progress: (line) => (opts.json ? undefined : out.line(line)),
      });
      if (opts.json) json(result);
      else
        out.lines([
          `done: iModel '${result.iModel.name}' (${result.iModel.id}) with ${result.changesets} changesets and ${result.namedVersions.length} named versions.`,
          `open it in the web UI: ${result.webUrl}`,
        ]);
    }),
  );
}
