// `modelhub webhooks …`: webhooks (issue 21) for people: register, list, change, delete, and their delivery log.
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { Webhook } from "@modelhub/client";
import { Webhooks } from "@modelhub/client";
import { WEBHOOK_EVENT_TYPES } from "@modelhub/protocol";
import { confirmDelete } from "./terminal.js";
import type { HubFlags } from "./commands-api-support.js";
import {
  UsageError,
  iTwinIdOf,
  json,
  hubCommand,
  out,
  printTable,
  run,
  usageExitCode2,
  when,
} from "./commands-api-support.js";

const EVENTS_HELP = `event types (repeatable or comma-separated): ${WEBHOOK_EVENT_TYPES.join(", ")}`;

function events(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean),
  ];
}

function onOff(value: string): boolean {
  if (value === "true" || value === "on") return true;
  if (value === "false" || value === "off") return false;
  throw new InvalidArgumentError("Give true or false.");
}

function lines(w: Webhook): string[] {
  return [
    `id:          ${w.id}`,
    `scope:       ${w.scope}${w.scopeId ? ` ${w.scopeId}` : " (the whole hub)"}`,
    `callback:    ${w.callbackUrl}`,
    `events:      ${w.eventTypes.join(", ")}`,
    `active:      ${w.active ? "yes" : "no"}`,
    `expires:     ${when(w.expirationDateTime)}`,
    `created:     ${when(w.createdDateTime)} by ${w.createdBy}`,
  ];
}

export function registerWebhooks(program: Command): void {
  const webhooks = usageExitCode2(
    program
      .command("webhooks")
      .alias("webhook")
      .description("Webhooks: the hub POSTs signed events (changeset pushed, named version created…) to your URL."),
  );

  hubCommand(
    webhooks,
    "create",
    "Register a webhook (iTwin managers; --account: administrators). Prints its secret once.",
  )
    .requiredOption("--callback <url>", "where to POST the events (https:, or http: to an allow-listed host)")
    .requiredOption("--events <types>", EVENTS_HELP, events)
    .option("--itwin <itwin>", "the iTwin (name or id) whose events to send")
    .option("--account", "every event of the hub (administrators)")
    .option("--secret <secret>", "the signing key, at least 32 characters (default: one is generated)")
    .option("--expires <dateTime>", "when it stops (ISO 8601; default in 30 days)")
    .option("--inactive", "create it switched off")
    .action(
      (
        opts: HubFlags & {
          callback: string;
          events: string[];
          itwin?: string;
          account?: boolean;
          secret?: string;
          expires?: string;
          inactive?: boolean;
        },
      ) =>
        run("webhooks create", opts, async (client) => {
          if ((opts.itwin === undefined) === (opts.account !== true))
            throw new UsageError("give either --itwin <itwin> or --account.");
          const created = await new Webhooks(client).create({
            callbackUrl: opts.callback,
            eventTypes: opts.events,
            ...(opts.account
              ? { scope: "Account" as const }
              : { scope: "iTwin" as const, scopeId: await iTwinIdOf(client, opts.itwin!) }),
            ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
            ...(opts.expires !== undefined ? { expirationDateTime: opts.expires } : {}),
            ...(opts.inactive ? { active: false } : {}),
          });
          if (opts.json) return json(created);
          out.lines([
            ...lines(created),
            `secret:      ${created.secret ?? "-"}  (shown only now: keep it to verify signatures)`,
          ]);
        }),
    );

  hubCommand(webhooks, "list", "List the webhooks you manage: id, scope, callback, events, active, expiry.").action(
    (opts: HubFlags) =>
      run("webhooks list", opts, async (client) => {
        const rows = [["ID", "SCOPE", "CALLBACK", "EVENTS", "ACTIVE", "EXPIRES"]];
        for await (const w of new Webhooks(client).list()) {
          if (opts.json) json(w);
          else
            rows.push([
              w.id,
              w.scopeId ?? "Account",
              w.callbackUrl,
              String(w.eventTypes.length),
              w.active ? "yes" : "no",
              when(w.expirationDateTime),
            ]);
        }
        if (!opts.json)
          printTable(
            rows,
            "no webhooks (register one: modelhub webhooks create --itwin <itwin> --callback <url> --events …)",
          );
      }),
  );

  hubCommand(webhooks, "show", "Show a webhook (never its secret).")
    .argument("<webhookId>", "the webhook's id")
    .action((id: string, opts: HubFlags) =>
      run("webhooks show", opts, async (client) => {
        const w = await new Webhooks(client).get(id);
        if (opts.json) json(w);
        else out.lines(lines(w));
      }),
    );

  hubCommand(webhooks, "update", "Change a webhook: callback, events, secret, expiry, on/off.")
    .argument("<webhookId>", "the webhook's id")
    .option("--callback <url>", "where to POST the events")
    .option("--events <types>", EVENTS_HELP, events)
    .option("--secret <secret>", "a new signing key, at least 32 characters")
    .option("--expires <dateTime>", "when it stops (ISO 8601)")
    .option("--active <true|false>", "switch it on or off", onOff)
    .action(
      (
        id: string,
        opts: HubFlags & { callback?: string; events?: string[]; secret?: string; expires?: string; active?: boolean },
      ) =>
        run("webhooks update", opts, async (client) => {
          const change = {
            ...(opts.callback !== undefined ? { callbackUrl: opts.callback } : {}),
            ...(opts.events !== undefined ? { eventTypes: opts.events } : {}),
            ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
            ...(opts.expires !== undefined ? { expirationDateTime: opts.expires } : {}),
            ...(opts.active !== undefined ? { active: opts.active } : {}),
          };
          if (Object.keys(change).length === 0)
            throw new UsageError("say what to change: --callback, --events, --secret, --expires or --active.");
          const w = await new Webhooks(client).update(id, change);
          if (opts.json) json(w);
          else out.lines(lines(w));
        }),
    );

  hubCommand(webhooks, "delete", "Delete a webhook and its delivery log.")
    .argument("<webhookId>", "the webhook's id")
    .option("-y, --yes", "do not ask (needed without a terminal)")
    .action((id: string, opts: HubFlags & { yes?: boolean }) =>
      run("webhooks delete", opts, async (client) => {
        const hooks = new Webhooks(client);
        const w = await hooks.get(id);
        await confirmDelete("webhooks delete", `webhook ${w.id} (${w.callbackUrl})`, opts.yes, opts.json === true);
        await hooks.delete(w.id);
        if (opts.json) json({ deleted: true, webhookId: w.id });
        else out.line(`deleted webhook ${w.id}`);
      }),
    );

  hubCommand(webhooks, "deliveries", "A webhook's delivery log, newest first: status, attempts, last answer, duration.")
    .argument("<webhookId>", "the webhook's id")
    .option("--limit <n>", "at most this many (default 50)", (v) => Number.parseInt(v, 10), 50)
    .action((id: string, opts: HubFlags & { limit: number }) =>
      run("webhooks deliveries", opts, async (client) => {
        const rows = [["ID", "EVENT", "STATUS", "ATTEMPTS", "LAST", "MS", "ENQUEUED"]];
        let n = 0;
        for await (const d of new Webhooks(client).deliveries(id, { pageSize: Math.min(opts.limit, 1000) })) {
          if (++n > opts.limit) break;
          if (opts.json) json(d);
          else
            rows.push([
              d.id,
              d.eventType,
              d.status,
              String(d.attempts),
              d.lastStatus !== null ? String(d.lastStatus) : (d.lastAnswer?.slice(0, 40) ?? "-"),
              d.durationMs !== null ? String(Math.round(d.durationMs)) : "-",
              when(d.enqueuedDateTime),
            ]);
        }
        if (!opts.json) printTable(rows, "no deliveries yet");
      }),
    );

  hubCommand(webhooks, "redeliver", "Send a delivery again, now.")
    .argument("<webhookId>", "the webhook's id")
    .argument("<deliveryId>", "the delivery's id (modelhub webhooks deliveries <webhookId>)")
    .action((id: string, deliveryId: string, opts: HubFlags) =>
      run("webhooks redeliver", opts, async (client) => {
        const d = await new Webhooks(client).redeliver(id, deliveryId);
        if (opts.json) json(d);
        else out.line(`delivery ${d.id} (${d.eventType}) is queued again`);
      }),
    );
}
