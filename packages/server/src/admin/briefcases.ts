// `modelhub briefcases list|release`: the lost-laptop case over HTTP. A manager (imodels_manage) releases another
// user's briefcase and with it all its locks; that user's next lock or push with it is refused.
import type { ModelHubClient } from "@modelhub/client";
import type { HubConnection } from "./hub-connection.js";
import { HubCommandError, withClient } from "./hub-connection.js";
import { printer, stdout, tableLines, timestamp } from "./terminal.js";

export interface BriefcaseCommandOptions extends HubConnection {
  iModelId: string;
  json: boolean;
  write?: (text: string) => void;
}

const out = (options: BriefcaseCommandOptions) => (options.write ? printer(options.write) : stdout);

/** Every briefcase of the iModel (optionally one user's) with its number of locks. */
export async function runBriefcasesList(options: BriefcaseCommandOptions & { user?: string }): Promise<void> {
  const print = out(options);
  const rows = [["BRIEFCASE", "OWNER", "DEVICE", "ACQUIRED", "LOCKS"]];
  await withClient(options, async (client) => {
    for await (const b of client.briefcases(options.iModelId, {
      pageSize: 1000,
      ...(options.user !== undefined ? { ownerId: options.user } : {}),
    })) {
      const locks = await countLocks(client, options.iModelId, b.briefcaseId);
      if (options.json)
        print.json({
          briefcaseId: b.briefcaseId,
          ownerId: b.ownerId,
          deviceName: b.deviceName,
          acquiredDateTime: b.acquiredDateTime,
          locks,
        });
      else
        rows.push([
          String(b.briefcaseId),
          b.ownerId,
          b.deviceName ?? "-",
          timestamp(b.acquiredDateTime),
          String(locks),
        ]);
    }
  });
  if (!options.json) print.lines(rows.length > 1 ? tableLines(rows) : ["no briefcases"]);
}

/** Releases the briefcase and all its locks (one request: the hub does both in one transaction). */
export async function runBriefcaseRelease(options: BriefcaseCommandOptions & { briefcaseId: number }): Promise<void> {
  if (!Number.isInteger(options.briefcaseId) || options.briefcaseId < 1)
    throw new HubCommandError(`'${options.briefcaseId}' is not a briefcase id.`, 2);
  const { b, locks } = await withClient(options, async (client) => {
    const briefcase = await client.getBriefcase(options.iModelId, options.briefcaseId);
    const count = await countLocks(client, options.iModelId, options.briefcaseId);
    await client.releaseBriefcase(options.iModelId, options.briefcaseId);
    return { b: briefcase, locks: count };
  });
  if (options.json)
    out(options).json({
      released: true,
      iModelId: options.iModelId,
      briefcaseId: b.briefcaseId,
      ownerId: b.ownerId,
      deviceName: b.deviceName,
      locksReleased: locks,
    });
  else
    out(options).line(
      `released briefcase ${b.briefcaseId} of ${b.ownerId}${b.deviceName ? ` (${b.deviceName})` : ""} and its ${locks} locks`,
    );
}

async function countLocks(client: ModelHubClient, iModelId: string, briefcaseId: number): Promise<number> {
  let count = 0;
  for (const l of await client.locks(iModelId, { briefcaseId, pageSize: 1000 }))
    for (const g of l.lockedObjects) count += g.objectIds.length;
  return count;
}
