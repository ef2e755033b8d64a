// `modelhub gates …`: an iTwin's gates (issue 21; docs/events.md "Gates"), the URLs the hub asks before it accepts
// a push or creates a named version. Over HTTP through @modelhub/client; managers of the iTwin only.
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { Gate, GateFailureMode, GateInput, ModelHubClient } from "@modelhub/client";
import { ModelHubError } from "@modelhub/client";
import { confirmDelete } from "./terminal.js";
import type { HubFlags } from "./commands-api-support.js";
import {
  UsageError,
  hubCommand,
  iTwinIdOf,
  json,
  out,
  printTable,
  run,
  usageExitCode2,
  when,
} from "./commands-api-support.js";

interface GateFlags extends HubFlags {
  itwin: string;
}

interface GateFields {
  gateUrl?: string;
  name?: string;
  timeout?: number;
  failure?: GateFailureMode;
  secretEnv?: string;
  unsigned?: boolean;
}

/** `5s`, `500ms`, `1.5s` → milliseconds (the hub checks the range: 100 ms to 60 s). */
function duration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("Give a duration such as 5s or 500ms.");
  return Math.round(Number(match[1]) * (match[2] === "ms" ? 1 : 1000));
}

function failureMode(value: string): GateFailureMode {
  if (value !== "closed" && value !== "open")
    throw new InvalidArgumentError("'closed' (no answer refuses) or 'open' (no answer accepts).");
  return value;
}

/** The fields a create or update sends; a secret only from the environment (a command line is visible to others). */
function inputOf(opts: GateFields): Partial<GateInput> {
  if (opts.secretEnv !== undefined && opts.unsigned)
    throw new UsageError("give either --secret-env or --unsigned, not both.");
  let secret: string | null | undefined;
  if (opts.unsigned) secret = null;
  else if (opts.secretEnv !== undefined) {
    secret = process.env[opts.secretEnv];
    if (!secret) throw new UsageError(`the environment variable ${opts.secretEnv} (--secret-env) is not set.`);
  }
  return {
    ...(opts.gateUrl !== undefined ? { url: opts.gateUrl } : {}),
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {}),
    ...(opts.failure !== undefined ? { failure: opts.failure } : {}),
    ...(secret !== undefined ? { secret } : {}),
  };
}

/** A gate of the iTwin named by its id or its name (any case; the id when names repeat). */
async function findGate(client: ModelHubClient, iTwinId: string, ref: string): Promise<Gate> {
  const gates = await client.gates(iTwinId);
  const byId = gates.find((g) => g.id === ref.trim());
  if (byId) return byId;
  const named = gates.filter((g) => g.name.toLowerCase() === ref.trim().toLowerCase());
  if (named.length > 1)
    throw new UsageError(`${named.length} gates are named '${ref}': give the id (modelhub gates list shows them).`);
  if (named.length === 1) return named[0]!;
  throw new ModelHubError(404, "NotFound", `The iTwin has no gate '${ref}' (modelhub gates list shows its gates).`);
}

const seconds = (ms: number) => `${ms / 1000}s`;

function gateLines(g: Gate): string[] {
  return [
    `id:       ${g.id}`,
    `name:     ${g.name}`,
    `url:      ${g.url}`,
    `failure:  ${g.failure} (${g.failure === "closed" ? "no answer refuses" : "no answer accepts"})`,
    `timeout:  ${seconds(g.timeoutMs)}`,
    `signed:   ${g.signed ? "yes" : "no"}`,
    `created:  ${when(g.createdDateTime)} by ${g.createdBy}`,
  ];
}

/** The options a create and an update share. */
function fieldOptions(command: Command): Command {
  return command
    .option("--name <name>", "its name, the start of its refusals' message (default: the URL's host)")
    .option("--timeout <duration>", "how long the hub waits for its answer, 100ms to 60s (default 10s)", duration)
    .option(
      "--failure <mode>",
      "what no answer (timeout, 5xx, unreachable) means: closed refuses, open accepts",
      failureMode,
    )
    .option("--secret-env <VAR>", "sign calls with the secret (≥ 32 characters) in this environment variable")
    .option("--unsigned", "do not sign its calls");
}

export function registerGates(program: Command): void {
  const gates = usageExitCode2(
    program
      .command("gates")
      .alias("gate")
      .description(
        "An iTwin's gates: URLs the hub asks before it accepts a push or creates a named version; a 4xx answer refuses (managers of the iTwin).",
      ),
  );
  const ITWIN = ["--itwin <itwin>", "the iTwin's name or id"] as const;

  hubCommand(gates, "list", "List an iTwin's gates in calling order: id, name, URL, failure mode, timeout, signed.")
    .requiredOption(...ITWIN)
    .action((opts: GateFlags) =>
      run("gates list", opts, async (client) => {
        const list = await client.gates(await iTwinIdOf(client, opts.itwin));
        if (opts.json) return list.forEach((g) => json(g));
        const rows = [["ID", "NAME", "URL", "FAILURE", "TIMEOUT", "SIGNED"]];
        for (const g of list)
          rows.push([g.id, g.name, g.url, g.failure, seconds(g.timeoutMs), g.signed ? "yes" : "no"]);
        printTable(rows, "no gates (add one: modelhub gates create <url> --itwin <itwin>)");
      }),
    );

  fieldOptions(
    hubCommand(
      gates,
      "create",
      "Register a gate on an iTwin; without --secret-env or --unsigned the hub makes a secret and prints it this once.",
    )
      .argument("<url>", "the gate (https:, or http: to hosts on the hub's outbound allow-list)")
      .requiredOption(...ITWIN),
  ).action((url: string, opts: GateFlags & GateFields) =>
    run("gates create", opts, async (client) => {
      const iTwinId = await iTwinIdOf(client, opts.itwin);
      const gate = await client.createGate(iTwinId, { ...inputOf(opts), url });
      if (opts.json) return json(gate);
      out.line(`gate ${gate.id} '${gate.name}' now checks the pushes and named versions of iTwin ${iTwinId}`);
      out.lines(gateLines(gate));
      if (gate.secret)
        out.lines([
          `secret:   ${gate.secret}`,
          "          shown only now: give it to the gate, which checks each call's Signature header with it.",
        ]);
    }),
  );

  hubCommand(gates, "show", "Show a gate of an iTwin (never its secret).")
    .argument("<gate>", "the gate's name or id")
    .requiredOption(...ITWIN)
    .action((ref: string, opts: GateFlags) =>
      run("gates show", opts, async (client) => {
        const gate = await findGate(client, await iTwinIdOf(client, opts.itwin), ref);
        if (opts.json) json(gate);
        else out.lines(gateLines(gate));
      }),
    );

  fieldOptions(
    hubCommand(gates, "update", "Change a gate of an iTwin: only the options given.")
      .argument("<gate>", "the gate's name or id")
      .requiredOption(...ITWIN)
      .option("--gate-url <url>", "its new URL"),
  ).action((ref: string, opts: GateFlags & GateFields) =>
    run("gates update", opts, async (client) => {
      const change = inputOf(opts);
      if (Object.keys(change).length === 0)
        throw new UsageError(
          "nothing to change: give --gate-url, --name, --timeout, --failure, --secret-env or --unsigned.",
        );
      const iTwinId = await iTwinIdOf(client, opts.itwin);
      const gate = await client.updateGate(iTwinId, (await findGate(client, iTwinId, ref)).id, change);
      if (opts.json) json(gate);
      else out.lines(gateLines(gate));
    }),
  );

  hubCommand(gates, "delete", "Delete a gate of an iTwin: its pushes and named versions are no longer checked by it.")
    .argument("<gate>", "the gate's name or id")
    .requiredOption(...ITWIN)
    .option("-y, --yes", "do not ask (needed without a terminal)")
    .action((ref: string, opts: GateFlags & { yes?: boolean }) =>
      run("gates delete", opts, async (client) => {
        const iTwinId = await iTwinIdOf(client, opts.itwin);
        const gate = await findGate(client, iTwinId, ref);
        await confirmDelete("gates delete", `gate '${gate.name}' (${gate.id})`, opts.yes, opts.json === true);
        await client.deleteGate(iTwinId, gate.id);
        if (opts.json) json({ deleted: true, gateId: gate.id, iTwinId });
        else out.line(`deleted gate ${gate.id} '${gate.name}'`);
      }),
    );
}
