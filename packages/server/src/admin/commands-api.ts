// `modelhub itwins|imodels|changesets|versions|locks|checkpoints|demo …` (singular aliases too): the iTwins and iModels APIs for people,
// over HTTP through @modelhub/client. Exit codes: 0 done, 1 the hub refused or failed (one line: its error code and
// message), 2 usage.
import { basename, resolve } from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { Changeset, ChangesetRef, Checkpoint, IModel, ITwin, Lock, NamedVersion } from "@modelhub/client";
import { ModelHubClient, ModelHubError } from "@modelhub/client";
import { megabytes, transferProgress } from "./progress.js";
import type { TransferProgress } from "./progress.js";

/** Progress on stderr, except under --json: there stderr carries JSON only (an error, a warning). */
function quietUnder(json: boolean | undefined, label: string): TransferProgress {
  return json ? { onProgress: () => undefined, stop: () => undefined } : transferProgress(label);
}
import { DEFAULT_URL, resolveConnection } from "./profiles.js";
import { AmbiguousIModel, findIModel as findIModelByRef, isGuid } from "./imodel-ref.js";
import { confirmDelete, fail, stderr, stdout, tableLines, timestamp } from "./terminal.js";

export interface HubFlags {
  url?: string;
  token?: string;
  profile?: string;
  json?: boolean;
}

/** A usage mistake found after parsing (exit code 2). */
export class UsageError extends Error {}

const out = stdout;
const json = (value: unknown) => out.json(value);

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("Not a whole number.");
  return Number(value);
}

/** A changeset as the user names it: a number is its index, 40 hex characters its id. */
function changesetRef(value: string): ChangesetRef {
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

const when = timestamp;

export function registerApiCommands(program: Command): void {
  registerITwin(program);
  registerIModel(program);
  registerChangesets(program);
  registerVersions(program);
  registerLocks(program);
  registerCheckpoints(program);
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

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The iTwin an `--itwin` option names: a GUID is taken as it is (an iModel created under an id the hub has never
 * seen creates that iTwin, as the official clients expect), anything else is one of the caller's iTwins by name.
 */
async function iTwinIdOf(client: ModelHubClient, idOrName: string): Promise<string> {
  if (idOrName.trim() === "") throw new UsageError("--itwin needs an iTwin's name or id.");
  return GUID.test(idOrName.trim()) ? idOrName.trim() : (await client.findITwin(idOrName)).id;
}

const IMODEL_ARG = "the iModel's name or id (a name is looked up in --itwin, or in all your iTwins)";

/**
 * The iModel a `<imodel>` argument names (imodel-ref.ts): its id, or its name in `--itwin` (a name or id) or in every
 * iTwin of the caller's; a name found in several iTwins is a usage error that lists them.
 */
async function findIModel(client: ModelHubClient, ref: string, iTwin?: string): Promise<IModel> {
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

const SUBCLASSES = ["Project", "Program", "WorkPackage", "Asset", "Portfolio"];

function subClass(value: string): string {
  const found = SUBCLASSES.find((s) => s.toLowerCase() === value.toLowerCase());
  if (!found) throw new InvalidArgumentError(`One of ${SUBCLASSES.join(", ")}.`);
  return found;
}

function registerITwin(program: Command): void {
  // Plural nouns everywhere (itwins, imodels, changesets…); the singular still works.
  const itwin = usageExitCode2(
    program
      .command("itwins")
      .alias("itwin")
      .description("iTwins: create one (you become its Owner), list yours, show one by name or id."),
  );

  hubCommand(
    itwin,
    "create",
    "Create an iTwin; you become its Owner (every permission, and who may give it to others).",
  )
    .requiredOption("--name <name>", "its display name, unique on the hub")
    .option("--number <number>", "a number or code, unique on the hub (default: its id)")
    .option("--subclass <subClass>", `what it is: ${SUBCLASSES.join(", ")} (default Project)`, subClass)
    .action((opts: HubFlags & { name: string; number?: string; subclass?: string }) =>
      run("itwins create", opts, async (client) => {
        const created = await client.createITwin({
          displayName: opts.name,
          ...(opts.number !== undefined ? { number: opts.number } : {}),
          ...(opts.subclass !== undefined ? { subClass: opts.subclass as ITwin["subClass"] } : {}),
        });
        if (opts.json) json(created);
        else
          out.lines([
            `iTwin ${created.id} '${created.displayName}' (${created.subClass}): you are its Owner`,
            `next: modelhub imodels create --itwin '${created.displayName}' --name <name> [--from file.bim]`,
          ]);
      }),
    );

  hubCommand(
    itwin,
    "list",
    "List your iTwins (administrators: --all for every one): id, name, number, kind, status, created.",
  )
    .option("--search <text>", "only those whose name or number contains this")
    .option("--all", "every iTwin of the hub (administrators; others still see theirs)")
    .option("--include-inactive", "also iTwins whose status is Inactive")
    .action((opts: HubFlags & { search?: string; all?: boolean; includeInactive?: boolean }) =>
      run("itwins list", opts, async (client) => {
        const rows = [["ID", "NAME", "NUMBER", "KIND", "STATUS", "CREATED"]];
        const filter = {
          ...(opts.search !== undefined ? { search: opts.search } : {}),
          ...(opts.all ? { all: true } : {}),
          ...(opts.includeInactive ? { includeInactive: true } : {}),
        };
        for await (const t of client.iTwins(filter)) {
          if (opts.json) json(t);
          else
            rows.push([
              t.id,
              t.displayName,
              t.number === t.id ? "-" : t.number,
              t.subClass,
              t.status,
              when(t.createdDateTime),
            ]);
        }
        if (!opts.json)
          out.lines(
            rows.length > 1 ? tableLines(rows) : ["no iTwins (create one: modelhub itwins create --name <name>)"],
          );
      }),
    );

  hubCommand(itwin, "show", "Show an iTwin: its fields, your permissions, its Owners and its iModels.")
    .argument("<itwin>", "the iTwin's name or id")
    .action((idOrName: string, opts: HubFlags) =>
      run("itwins show", opts, async (client) => {
        const iTwin = await client.findITwin(idOrName);
        const permissions = await client.iTwinPermissions(iTwin.id);
        const members = await client.members(iTwin.id).catch(() => []);
        const owners = members.filter((m) => m.roles.some((r) => r.displayName === "Owner")).map((m) => m.id);
        const iModels: IModel[] = [];
        for await (const m of client.iModels(iTwin.id)) iModels.push(m);
        if (opts.json)
          return json({
            ...iTwin,
            permissions,
            owners,
            iModels: iModels.map((m) => ({ id: m.id, name: m.name, state: m.state })),
          });
        out.lines([
          `id:          ${iTwin.id}`,
          `name:        ${iTwin.displayName}`,
          `number:      ${iTwin.number}`,
          `kind:        ${iTwin.class} / ${iTwin.subClass}`,
          `status:      ${iTwin.status}`,
          `created:     ${when(iTwin.createdDateTime)} by ${iTwin.createdBy}`,
          `owners:      ${owners.join(", ") || "-"}`,
          `you may:     ${permissions.map((p) => p.replace("imodels_", "")).join(", ") || "nothing"}`,
          `iModels:     ${iModels.length}`,
          ...iModels.map((m) => `  ${m.id}  ${m.name}${m.state === "initialized" ? "" : `  (${m.state})`}`),
        ]);
      }),
    );

  hubCommand(itwin, "rename", "Give an iTwin another display name (imodels_manage on it).")
    .argument("<itwin>", "the iTwin's name or id")
    .requiredOption("--name <name>", "the new display name, unique on the hub")
    .action((idOrName: string, opts: HubFlags & { name: string }) =>
      run("itwins rename", opts, async (client) => {
        const renamed = await client.updateITwin((await client.findITwin(idOrName)).id, { displayName: opts.name });
        if (opts.json) json(renamed);
        else out.line(`iTwin ${renamed.id} is now '${renamed.displayName}'`);
      }),
    );

  hubCommand(itwin, "delete", "Delete an iTwin that holds no iModels (its Owners); its id is never used again.")
    .argument("<itwin>", "the iTwin's name or id")
    .option("-y, --yes", "do not ask (needed without a terminal)")
    .action((idOrName: string, opts: HubFlags & { yes?: boolean }) =>
      run("itwins delete", opts, async (client) => {
        const iTwin = await client.findITwin(idOrName);
        await confirmDelete(
          "itwins delete",
          `iTwin '${iTwin.displayName}' (${iTwin.id})`,
          opts.yes,
          opts.json === true,
        );
        await client.deleteITwin(iTwin.id);
        if (opts.json) json({ deleted: true, iTwinId: iTwin.id });
        else out.line(`deleted iTwin ${iTwin.id} '${iTwin.displayName}'`);
      }),
    );
}

function registerIModel(program: Command): void {
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

  hubCommand(imodel, "list", "List an iTwin's iModels: id, name, state (failed ones too, with the reason), created.")
    .requiredOption("--itwin <name|id>", "the iTwin: one of yours by name, or an id")
    .option("--search <text>", "only those whose name contains this")
    .action((opts: HubFlags & { itwin: string; search?: string }) =>
      run("imodels list", opts, async (client) => {
        const rows = [["ID", "NAME", "STATE", "CREATED"]];
        // Failed creations too (the hub's $includeFailed extension): hidden, the only trace of one is an error message.
        for await (const m of client.iModels(await iTwinIdOf(client, opts.itwin), {
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
          else rows.push([m.id, m.name, state, when(m.createdDateTime)]);
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

function changesetRow(c: Changeset): string[] {
  return [String(c.index), c.id, c.description ?? "", c.creatorId, when(c.pushDateTime), megabytes(c.fileSize)];
}

function registerChangesets(program: Command): void {
  const changesets = usageExitCode2(
    program
      .command("changesets")
      .alias("changeset")
      .description(
        "An iModel's history: list it (the default: modelhub changesets <imodel>), download a changeset's file.",
      ),
  );
  usageExitCode2(
    hubCommand(
      changesets,
      "list",
      "List an iModel's changesets: index, id, description, who, when, size (oldest first; all pages).",
      { isDefault: true },
    )
      .argument("<imodel>", IMODEL_ARG)
      .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
      .option("--after <index>", "only changesets after this index", integer)
      .option("--last <index>", "only changesets up to this index (inclusive)", integer)
      .option("--top <n>", "at most this many", integer)
      .option("--newest-first", "newest first")
      .option("--page-size <n>", "changesets per request (1–1000)", integer, 100),
  ).action(
    (
      imodelRef: string,
      opts: HubFlags & { itwin?: string } & {
        after?: number;
        last?: number;
        top?: number;
        newestFirst?: boolean;
        pageSize: number;
      },
    ) =>
      run("changesets list", opts, async (client) => {
        const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
        if (opts.pageSize < 1 || opts.pageSize > 1000) throw new UsageError("--page-size must be 1 to 1000.");
        const rows = [["INDEX", "ID", "DESCRIPTION", "WHO", "WHEN", "SIZE"]];
        let count = 0;
        const query = {
          pageSize: opts.top !== undefined ? Math.min(opts.pageSize, Math.max(1, opts.top)) : opts.pageSize,
          ...(opts.after !== undefined ? { afterIndex: opts.after } : {}),
          ...(opts.last !== undefined ? { lastIndex: opts.last } : {}),
          ...(opts.newestFirst ? { descending: true } : {}),
        };
        if (opts.top !== 0) {
          for await (const c of client.changesets(iModelId, query)) {
            if (opts.json) json(c);
            else rows.push(changesetRow(c));
            if (++count === opts.top) break;
          }
        }
        if (!opts.json) printTable(rows, "no changesets");
      }),
  );

  hubCommand(changesets, "download", "Download a changeset's file (with progress).")
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .argument("<changeset>", "its index or id", changesetRef)
    .option("--to <file>", "where to write it (default: <changeset id>.cs here)")
    .action((imodelRef: string, ref: ChangesetRef, opts: HubFlags & { itwin?: string } & { to?: string }) =>
      run("changesets download", opts, async (client) => {
        const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
        const record = await client.getChangeset(iModelId, ref);
        const path = resolve(opts.to ?? `${record.id}.cs`);
        const progress = quietUnder(opts.json, `changeset ${record.index}`);
        try {
          await client.downloadChangeset(iModelId, record.id, path, progress.onProgress);
        } finally {
          progress.stop();
        }
        if (opts.json) json({ iModelId, index: record.index, id: record.id, path, size: record.fileSize });
        else out.line(`changeset ${record.index} (${record.id}) → ${path} (${megabytes(record.fileSize)})`);
      }),
    );
}

function registerVersions(program: Command): void {
  const versions = usageExitCode2(
    program.command("versions").alias("version").description("Named versions: names given to changesets."),
  );
  hubCommand(versions, "list", "List an iModel's named versions: name, changeset index and id, created.")
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .action((imodelRef: string, opts: HubFlags & { itwin?: string }) =>
      run("versions list", opts, async (client) => {
        const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
        const rows = [["NAME", "CHANGESET", "CHANGESET ID", "CREATED", "ID"]];
        for await (const v of client.namedVersions(iModelId)) {
          if (opts.json) json(v);
          else
            rows.push([v.name, String(v.changesetIndex), v.changesetId ?? "(baseline)", when(v.createdDateTime), v.id]);
        }
        if (!opts.json) printTable(rows, "no named versions");
      }),
    );
  hubCommand(versions, "create", "Name a changeset (by default the newest).")
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .requiredOption("--name <name>", "the version's name, unique in the iModel")
    .option("--changeset <index|id>", "the changeset (0: the baseline; default: the newest)", changesetRef)
    .option("--description <text>", "what it is")
    .action(
      (
        imodelRef: string,
        opts: HubFlags & { itwin?: string } & { name: string; changeset?: ChangesetRef; description?: string },
      ) =>
        run("versions create", opts, async (client) => {
          const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
          const changeset = opts.changeset ?? (await client.latestChangeset(iModelId))?.index ?? 0;
          const v: NamedVersion = await client.createNamedVersion(iModelId, {
            name: opts.name,
            changeset,
            ...(opts.description !== undefined ? { description: opts.description } : {}),
          });
          if (opts.json) json(v);
          else out.line(`named version '${v.name}' (${v.id}) at changeset ${v.changesetIndex}`);
        }),
    );
}

function lockCount(lock: Lock): number {
  return lock.lockedObjects.reduce((n, g) => n + g.objectIds.length, 0);
}

function registerLocks(program: Command): void {
  const locks = usageExitCode2(
    program
      .command("locks")
      .alias("lock")
      .description("Who holds which locks; release a lost briefcase's locks (imodels_manage)."),
  );
  hubCommand(locks, "list", "List the locks held: briefcase, owner, level, object ids.")
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .option("--briefcase <id>", "only this briefcase's", integer)
    .action((imodelRef: string, opts: HubFlags & { itwin?: string } & { briefcase?: number }) =>
      run("locks list", opts, async (client) => {
        const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
        const held = await client.locks(iModelId, opts.briefcase !== undefined ? { briefcaseId: opts.briefcase } : {});
        const owners = new Map<number, string>();
        for await (const b of client.briefcases(iModelId)) owners.set(b.briefcaseId, b.ownerId);
        if (opts.json) {
          for (const l of held) json({ ...l, ownerId: owners.get(l.briefcaseId) ?? null });
          return;
        }
        const rows = [["BRIEFCASE", "OWNER", "LEVEL", "OBJECTS"]];
        for (const l of held)
          for (const g of l.lockedObjects)
            rows.push([String(l.briefcaseId), owners.get(l.briefcaseId) ?? "-", g.lockLevel, g.objectIds.join(" ")]);
        printTable(rows, "no locks held");
      }),
    );
  hubCommand(
    locks,
    "release",
    "Release all locks of a briefcase (yours, or anyone's with imodels_manage); the briefcase stays.",
  )
    .argument("<imodel>", IMODEL_ARG)
    .option("--itwin <name|id>", "look the iModel's name up in this iTwin only")
    .requiredOption("--briefcase <id>", "the briefcase (see modelhub locks list)", integer)
    .action((imodelRef: string, opts: HubFlags & { itwin?: string } & { briefcase: number }) =>
      run("locks release", opts, async (client) => {
        const iModelId = await iModelIdOf(client, imodelRef, opts.itwin);
        const briefcase = await client.getBriefcase(iModelId, opts.briefcase);
        const before = (await client.locks(iModelId, { briefcaseId: opts.briefcase })).reduce(
          (n, l) => n + lockCount(l),
          0,
        );
        await client.releaseLocks(iModelId, opts.briefcase);
        if (opts.json)
          json({
            released: true,
            iModelId,
            briefcaseId: opts.briefcase,
            ownerId: briefcase.ownerId,
            locksReleased: before,
          });
        else out.line(`released ${before} locks of briefcase ${opts.briefcase} (${briefcase.ownerId})`);
      }),
    );
}

function registerCheckpoints(program: Command): void {
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

/** A named version given by its id (a GUID) or its name (exact). */
async function namedVersionIdOf(client: ModelHubClient, iModelId: string, ref: string): Promise<string> {
  if (GUID.test(ref.trim())) return ref.trim().toLowerCase();
  for await (const v of client.namedVersions(iModelId)) if (v.name === ref) return v.id;
  throw new ModelHubError(
    404,
    "NamedVersionNotFound",
    `The iModel has no named version '${ref}' (modelhub versions list shows them).`,
  );
}
