// What the `modelhub` commands over @modelhub/client share: running a call against a hub, its flags and exit codes,
// tables, and finding an iTwin, iModel or named version by name or id.
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { Changeset, ChangesetRef, IModel, Lock } from "@modelhub/client";
import { ModelHubClient, ModelHubError } from "@modelhub/client";
import { megabytes, transferProgress } from "./progress.js";
import type { TransferProgress } from "./progress.js";
import { DEFAULT_URL, resolveConnection } from "./profiles.js";
import { AmbiguousIModel, findIModel as findIModelByRef, isGuid } from "./imodel-ref.js";
import { fail, stderr, stdout, tableLines, timestamp } from "./terminal.js";

/** Progress on stderr, except under --json: there stderr carries JSON only (an error, a warning). */
export function quietUnder(json: boolean | undefined, label: string): TransferProgress {
  return json ? { onProgress: () => undefined, stop: () => undefined } : transferProgress(label);
}

export interface HubFlags {
  url?: string;
  token?: string;
  profile?: string;
  json?: boolean;
}

/** A usage mistake found after parsing (exit code 2). */
export class UsageError extends Error {}

export const out = stdout;
export const json = (value: unknown) => out.json(value);

export function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("Not a whole number.");
  return Number(value);
}

/** A changeset as the user names it: a number is its index, 40 hex characters its id. */
export function changesetRef(value: string): ChangesetRef {
  if (/^\d+$/.test(value)) return Number(value);
  if (/^[0-9a-fA-F]{40}$/.test(value)) return value.toLowerCase();
  throw new InvalidArgumentError("Give a changeset index (a number) or id (40 hexadecimal characters).");
}

export function hubCommand(
  parent: Command,
  name: string,
  description: string,
  options: { isDefault?: boolean } = {},
): Command {
  return parent
    .command(name, options)
    .description(description)
    .option("--url <origin>", `the hub (default: $MODELHUB_URL, the profile's, or ${DEFAULT_URL})`)
    .option(
      "--token <token>",
      "a bearer token (default: $MODELHUB_TOKEN or the profile's; prefer those: a command line is visible to other users)",
    )
    .option(
      "--profile <name>",
      "a connection saved by modelhub login (default: $MODELHUB_PROFILE, or the last one logged in to)",
    )
    .option("--json", "print JSON (lists: one object per line)");
}

/** Runs a command against the hub: refusals become one error (a line, or a JSON object under --json) on stderr and exit code 1, usage mistakes exit code 2. */
export async function run(
  name: string,
  flags: HubFlags,
  body: (client: ModelHubClient) => Promise<void>,
): Promise<void> {
  const json = flags.json === true;
  const connection = await resolveConnection(flags).catch((err: unknown) =>
    fail(name, err instanceof Error ? err.message : String(err), 2, "UsageError", json),
  );
  if (!connection.token)
    return fail(
      name,
      "give a token with --token or MODELHUB_TOKEN (in open mode: your user name), or save one with modelhub login.",
      2,
      "UsageError",
      json,
    );
  let client: ModelHubClient;
  try {
    client = new ModelHubClient({
      url: connection.url,
      accessToken: connection.token,
      retry: { baseDelayMs: 250 },
      onWarning: (warning) =>
        json
          ? stderr.json({ warning: { command: `modelhub ${name}`, message: warning } })
          : stderr.line(`modelhub ${name}: warning: ${warning}`),
    });
  } catch (err) {
    return fail(name, err instanceof Error ? err.message : String(err), 2, "UsageError", json);
  }
  try {
    await body(client);
  } catch (err) {
    if (err instanceof UsageError) return fail(name, err.message, 2, "UsageError", json);
    if (err instanceof ModelHubError) return fail(name, json ? err.message : err.describe(), 1, err.code, json);
    // A local failure (a file that cannot be read or written…): still one line.
    return fail(name, err instanceof Error ? err.message : String(err), 1, "Failed", json);
  }
}

/** Usage errors exit with 2 (set on the whole program in cli.ts); kept as a marker of the groups defined here. */
export function usageExitCode2(command: Command): Command {
  return command;
}

/** A table, or `empty` when it has no rows under its head. */
export function printTable(rows: string[][], empty: string): void {
  if (rows.length > 1) out.lines(tableLines(rows));
  else out.line(empty);
}

export const when = timestamp;

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The iTwin an `--itwin` option names: a GUID is taken as it is (an iModel created under an id the hub has never
 * seen creates that iTwin, as the official clients expect), anything else is one of the caller's iTwins by name.
 */
export async function iTwinIdOf(client: ModelHubClient, idOrName: string): Promise<string> {
  if (idOrName.trim() === "") throw new UsageError("--itwin needs an iTwin's name or id.");
  return GUID.test(idOrName.trim()) ? idOrName.trim() : (await client.findITwin(idOrName)).id;
}

export const IMODEL_ARG = "the iModel's name or id (a name is looked up in --itwin, or in all your iTwins)";

/**
 * The iModel a `<imodel>` argument names (imodel-ref.ts): its id, or its name in `--itwin` (a name or id) or in every
 * iTwin of the caller's; a name found in several iTwins is a usage error that lists them.
 */
export async function findIModel(client: ModelHubClient, ref: string, iTwin?: string): Promise<IModel> {
  try {
    return await findIModelByRef(
      client,
      ref,
      iTwin !== undefined && !isGuid(ref) ? await iTwinIdOf(client, iTwin) : undefined,
      iTwin,
    );
  } catch (err) {
    if (err instanceof AmbiguousIModel) throw new UsageError(err.message);
    throw err;
  }
}

/** The id of the iModel a command's `<imodel>` argument names (see findIModel); an id is used as it is. */
export async function iModelIdOf(client: ModelHubClient, ref: string, iTwin?: string): Promise<string> {
  return GUID.test(ref.trim()) ? ref.trim().toLowerCase() : (await findIModel(client, ref, iTwin)).id;
}

export const SUBCLASSES = ["Project", "Program", "WorkPackage", "Asset", "Portfolio"];

export function subClass(value: string): string {
  const found = SUBCLASSES.find((s) => s.toLowerCase() === value.toLowerCase());
  if (!found) throw new InvalidArgumentError(`One of ${SUBCLASSES.join(", ")}.`);
  return found;
}

export function changesetRow(c: Changeset): string[] {
  return [String(c.index), c.id, c.description ?? "", c.creatorId, when(c.pushDateTime), megabytes(c.fileSize)];
}

export function lockCount(lock: Lock): number {
  return lock.lockedObjects.reduce((n, g) => n + g.objectIds.length, 0);
}

/** A named version given by its id (a GUID) or its name (exact). */
export async function namedVersionIdOf(client: ModelHubClient, iModelId: string, ref: string): Promise<string> {
  if (GUID.test(ref.trim())) return ref.trim().toLowerCase();
  for await (const v of client.namedVersions(iModelId)) if (v.name === ref) return v.id;
  throw new ModelHubError(
    404,
    "NamedVersionNotFound",
    `The iModel has no named version '${ref}' (modelhub versions list shows them).`,
  );
}
