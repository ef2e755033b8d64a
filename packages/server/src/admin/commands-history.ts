// `modelhub changesets|versions|locks …`: an iModel's history, its names and its locks.
import { resolve } from "node:path";
import type { Command } from "commander";
import type { ChangesetRef, NamedVersion } from "@modelhub/client";
import { megabytes } from "./progress.js";
import type { HubFlags } from "./commands-api-support.js";
import {
  quietUnder,
  UsageError,
  out,
  json,
  integer,
  changesetRef,
  hubCommand,
  run,
  usageExitCode2,
  printTable,
  when,
  IMODEL_ARG,
  iModelIdOf,
  changesetRow,
  lockCount,
} from "./commands-api-support.js";

export function registerChangesets(program: Command): void {
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

export function registerVersions(program: Command): void {
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

export function registerLocks(program: Command): void {
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
