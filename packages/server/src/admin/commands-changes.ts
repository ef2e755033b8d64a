// `modelhub changes <imodel> <changeset>` and `modelhub diff <imodel> --from <point> --to <point>`: element-level
// changes (docs/changes.md) for people. Exit codes as the other API commands: 0 done, 1 the hub refused (an unknown
// iModel, changeset or version; summaries not ready in time), 2 usage.
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { ChangedElement, CountByModelAndClass, ModelHubClient } from "@modelhub/client";
import { compareVersions, getChangesetChanges } from "@modelhub/client";
import type { HubFlags } from "./commands-api.js";
import { UsageError, hubCommand, iModelIdOf, printTable, run, usageExitCode2 } from "./commands-api.js";
import { stdout as out, stderr } from "./terminal.js";

const OPS = ["inserted", "updated", "deleted", "reinserted"] as const;

function seconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("Not a whole number of seconds.");
  return Number(value);
}

function op(value: string): (typeof OPS)[number] {
  const found = OPS.find((o) => o === value.toLowerCase());
  if (!found) throw new InvalidArgumentError(`One of ${OPS.join(", ")}.`);
  return found;
}

/** A point of history as the user names it: a number is a changeset index, anything else a named version. */
function point(value: string): number | string {
  if (value.trim() === "") throw new InvalidArgumentError("Give a changeset index or a named version's name.");
  return /^\d+$/.test(value) ? Number(value) : value;
}

const SIGN = { inserted: "+", updated: "~", deleted: "-", reinserted: "±" } as const;

function elementRows(elements: readonly ChangedElement[]): string[][] {
  return [
    ["OP", "ID", "CLASS", "MODEL", "LABEL", "PROPERTIES"],
    ...elements.map((e) => [
      e.op,
      e.id,
      e.classFullName,
      e.previousModelId ? `${e.previousModelId} → ${e.modelId}` : e.modelId,
      e.label ?? "",
      (e.properties ?? []).join(","),
    ]),
  ];
}

function countRows(counts: readonly CountByModelAndClass[]): string[][] {
  return [
    ["MODEL", "CLASS", "+", "~", "-", "±"],
    ...counts.map((c) => [
      c.modelId,
      c.classFullName,
      String(c.inserted),
      String(c.updated),
      String(c.deleted),
      String(c.reinserted ?? 0),
    ]),
  ];
}

function headline(c: {
  inserted: number;
  updated: number;
  deleted: number;
  reinserted?: number;
  countsByModelAndClass: readonly CountByModelAndClass[];
}): string {
  const models = new Set(c.countsByModelAndClass.map((x) => x.modelId)).size;
  return `${SIGN.inserted}${c.inserted} ${SIGN.updated}${c.updated} ${SIGN.deleted}${c.deleted}${c.reinserted ? ` ${SIGN.reinserted}${c.reinserted}` : ""} in ${models} model${models === 1 ? "" : "s"}`;
}

/** Asks until the answer is no longer `pending` or `waitSeconds` passed (summaries are made a moment after a push). */
async function whenReady<T extends { state: string }>(
  ask: () => Promise<T>,
  waitSeconds: number,
  pending: (answer: T) => string,
): Promise<T> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const answer = await ask();
    if (answer.state !== "pending") return answer;
    if (Date.now() >= deadline) throw new Error(pending(answer));
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export function registerChangeCommands(program: Command): void {
  usageExitCode2(
    hubCommand(
      program,
      "changes",
      "What one changeset did, element by element: inserted, updated (which properties), deleted; counts by model and class.",
    )
      .argument("<imodel>", "the iModel: its id, or its name in one of your iTwins")
      .argument("<changeset>", "its index or id")
      .option("--op <op>", `only elements with this operation (${OPS.slice(0, 3).join(", ")})`, op)
      .option("--model <id>", "only elements of this model")
      .option("--class <name>", "only elements of this class (Schema:Class)")
      .option("--wait <seconds>", "how long to wait for a summary still being made", seconds, 60),
  ).action(
    (
      iModelId: string,
      changeset: string,
      opts: HubFlags & { op?: (typeof OPS)[number]; model?: string; class?: string; wait: number },
    ) =>
      run("changes", opts, async (client: ModelHubClient) => {
        if (!/^\d+$/.test(changeset) && !/^[0-9a-fA-F]{40}$/.test(changeset))
          throw new UsageError("<changeset> is an index (a number) or an id (40 hexadecimal characters).");
        const id = await iModelIdOf(client, iModelId);
        const query = {
          ...(opts.op ? { op: opts.op } : {}),
          ...(opts.model ? { modelId: opts.model } : {}),
          ...(opts.class ? { classFullName: opts.class } : {}),
        };
        const c = await whenReady(
          () => getChangesetChanges(client, id, changeset, query),
          opts.wait,
          (a) =>
            `changeset ${a.changesetIndex} has no summary yet (the hub makes it after the push); try again, or give --wait a longer time.`,
        );
        if (c.state === "failed")
          throw new Error(
            `changeset ${c.changesetIndex} could not be summarized: ${c.failureReason ?? "no reason given"}`,
          );
        if (opts.json) {
          out.json({
            changesetIndex: c.changesetIndex,
            changesetId: c.changesetId,
            inserted: c.inserted,
            updated: c.updated,
            deleted: c.deleted,
            schemaChanged: c.schemaChanged,
            schemas: c.schemas,
            countsByModelAndClass: c.countsByModelAndClass,
            elements: c.elements,
          });
          return;
        }
        out.line(
          `changeset ${c.changesetIndex} (${c.changesetId}): ${headline(c)}${c.schemaChanged ? `; schema changes: ${c.schemas.map((s) => `${s.name} ${s.op}`).join(", ") || "yes"}` : ""}`,
        );
        if (c.countsByModelAndClass.length > 0)
          printTable(
            countRows(c.countsByModelAndClass).map((r) => r.slice(0, 5)),
            "",
          );
        printTable(elementRows(c.elements), "no element changed");
      }),
  );

  usageExitCode2(
    hubCommand(
      program,
      "diff",
      "The net effect between two points of history (changeset index or named version): inserted then deleted is nothing, updates merged.",
    )
      .argument("<imodel>", "the iModel: its id, or its name in one of your iTwins")
      .requiredOption("--from <point>", "a changeset index (0 = version 0) or a named version's name", point)
      .requiredOption("--to <point>", "a changeset index or a named version's name", point)
      .option("--op <op>", `only elements with this net operation (${OPS.join(", ")})`, op)
      .option("--model <id>", "only elements of this model")
      .option("--class <name>", "only elements of this class (Schema:Class)")
      .option("--wait <seconds>", "how long to wait for summaries still being made", seconds, 60),
  ).action(
    (
      iModelId: string,
      opts: HubFlags & {
        from: number | string;
        to: number | string;
        op?: (typeof OPS)[number];
        model?: string;
        class?: string;
        wait: number;
      },
    ) =>
      run("diff", opts, async (client: ModelHubClient) => {
        const id = await iModelIdOf(client, iModelId);
        const query = {
          ...(opts.op ? { op: opts.op } : {}),
          ...(opts.model ? { modelId: opts.model } : {}),
          ...(opts.class ? { classFullName: opts.class } : {}),
        };
        const c = await whenReady(
          () => compareVersions(client, id, opts.from, opts.to, query),
          opts.wait,
          (a) =>
            `changesets ${a.pendingChangesets.join(", ")} have no summary yet (the hub makes them after each push); try again, or give --wait a longer time.`,
        );
        // Changesets the hub could not read are left out of the net effect: said on stderr, the answer still given.
        for (const f of c.failedChangesets ?? []) {
          const message = `changeset ${f.changesetIndex} could not be summarized and is left out: ${f.failureReason}`;
          if (opts.json) stderr.json({ warning: { command: "modelhub diff", message } });
          else stderr.line(`modelhub diff: warning: ${message}`);
        }
        if (opts.json) {
          out.json({
            from: c.from.changesetIndex,
            to: c.to.changesetIndex,
            inserted: c.inserted,
            updated: c.updated,
            deleted: c.deleted,
            reinserted: c.reinserted,
            ...(c.failedChangesets?.length ? { failedChangesets: c.failedChangesets } : {}),
            elements: c.elements.map((e) => ({
              id: e.id,
              op: e.op,
              classFullName: e.classFullName,
              modelId: e.modelId,
              label: e.label,
              ...(e.properties ? { properties: e.properties } : {}),
            })),
          });
          return;
        }
        const name = (p: typeof c.from) => `${p.changesetIndex}${p.namedVersion ? ` (${p.namedVersion.name})` : ""}`;
        out.line(`from ${name(c.from)} to ${name(c.to)}: ${headline(c)}`);
        for (const s of c.schemaChanges)
          out.line(
            `schema changes in changeset ${s.changesetIndex}: ${s.schemas.map((x) => `${x.name} ${x.op}`).join(", ")}`,
          );
        if (c.countsByModelAndClass.length > 0) printTable(countRows(c.countsByModelAndClass), "");
        printTable(elementRows(c.elements), "no element changed");
      }),
  );
}
