// `modelhub audit`: reads the audit log over HTTP (a manager's or an administrator's token), one line per entry.
import type { AuditLogEntry } from "@modelhub/client";
import type { HubConnection } from "./hub-connection.js";
import { HubCommandError, withClient } from "./hub-connection.js";
import { printer, stdout } from "./terminal.js";

export interface AuditCommandOptions extends HubConnection {
  iModelId?: string;
  iTwinId?: string;
  user?: string;
  action?: string;
  /** ISO time, or a lifetime back from now: 30m, 24h, 7d, 2w. */
  since?: string;
  until?: string;
  /** Stop after this many entries (default: all). */
  limit?: number;
  /** Newest first. */
  newestFirst?: boolean;
  json: boolean;
  /** Where lines go (tests); stdout by default. */
  write?: (text: string) => void;
}

const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `--since 7d` → the ISO time 7 days ago; an ISO time as is. */
export function parseSince(value: string, now = Date.now()): string {
  const relative = /^(\d+)([mhdw])$/.exec(value.trim());
  if (relative) return new Date(now - Number(relative[1]) * UNITS[relative[2]!]!).toISOString();
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(time)) {
    throw new HubCommandError(
      `'${value}' is not a time: use an ISO time (2026-01-31 or 2026-01-31T12:00:00Z) or an age such as 30m, 24h, 7d, 2w.`,
      2,
    );
  }
  return new Date(time).toISOString();
}

export async function runAudit(options: AuditCommandOptions): Promise<number> {
  const out = options.write ? printer(options.write) : stdout;
  if (options.iModelId !== undefined && options.iTwinId !== undefined)
    throw new HubCommandError("Give --imodel or --itwin, not both.", 2);
  const since = options.since !== undefined ? parseSince(options.since) : undefined;
  const until = options.until !== undefined ? parseSince(options.until) : undefined;
  let printed = 0;
  if (options.limit !== undefined && options.limit <= 0) return printed;
  await withClient(options, async (client) => {
    const entries = client.auditLog({
      ...(options.iModelId !== undefined ? { iModelId: options.iModelId } : {}),
      ...(options.iTwinId !== undefined ? { iTwinId: options.iTwinId } : {}),
      ...(options.user !== undefined ? { userId: options.user } : {}),
      ...(options.action !== undefined ? { action: options.action } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(options.newestFirst ? { newestFirst: true } : {}),
      pageSize: Math.min(1000, options.limit ?? 1000),
    });
    for await (const entry of entries) {
      if (options.json) out.json(entry);
      else out.line(formatEntry(entry));
      printed++;
      // Leaving the loop stops the paging: no page after the last one printed is asked for.
      if (options.limit !== undefined && printed >= options.limit) break;
    }
  });
  return printed;
}

/** One line: time, user, action, status/outcome, then where and what (printed escaped: see terminal.ts). */
export function formatEntry(e: AuditLogEntry): string {
  const parts = [e.at, e.userId ?? "-", e.action, `${e.status} ${e.outcome}`];
  if (e.iModelId) parts.push(`imodel=${e.iModelId}`);
  if (e.iTwinId) parts.push(`itwin=${e.iTwinId}`);
  if (e.target) parts.push(`target=${e.target}`);
  if (e.details?.errorCode) parts.push(`error=${String(e.details.errorCode)}`);
  // A row summing up a client's repeated refusals (auth.refused): how many, until when.
  if (typeof e.details?.count === "number") parts.push(`count=${e.details.count}`, `until=${String(e.details.until)}`);
  if (e.address) parts.push(`from=${e.address}`);
  if (e.requestId) parts.push(`request=${e.requestId}`);
  return parts.join("  ");
}
