// `modelhub itwins …`: the iTwins API for people.
import type { Command } from "commander";
import type { IModel, ITwin } from "@modelhub/client";
import { confirmDelete, tableLines } from "./terminal.js";
import type { HubFlags } from "./commands-api-support.js";
import { out, json, hubCommand, run, usageExitCode2, when, SUBCLASSES, subClass } from "./commands-api-support.js";

export function registerITwin(program: Command): void {
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
