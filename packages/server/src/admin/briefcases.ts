// `modelhub briefcases list|release`: the lost-laptop case over HTTP. A manager (imodels_manage) releases another
// user's briefcase and with it all its locks; that user's next lock or push with it is refused.
import type { HubConnection } from "./hub-client.js";
import { HubCommandError, callHub } from "./hub-client.js";

interface BriefcaseJson {
  briefcaseId: number;
  ownerId: string;
  deviceName: string | null;
  acquiredDateTime: string;
}

interface LocksPage {
  locks: { briefcaseId: number; lockedObjects: { lockLevel: string; objectIds: string[] }[] }[];
  _links: { next: { href: string } | null };
}

export interface BriefcaseCommandOptions extends HubConnection {
  iModelId: string;
  json: boolean;
  write?: (text: string) => void;
}

const out = (options: BriefcaseCommandOptions) => options.write ?? ((text: string) => void process.stdout.write(text));

/** Every briefcase of the iModel (optionally one user's) with its number of locks. */
export async function runBriefcasesList(options: BriefcaseCommandOptions & { user?: string }): Promise<void> {
  const base = `/imodels/${encodeURIComponent(options.iModelId)}`;
  const filter = options.user !== undefined ? `&ownerId=${encodeURIComponent(options.user)}` : "";
  let next: string | null = `${base}/briefcases?$top=1000${filter}`;
  const write = out(options);
  while (next) {
    const page: { briefcases: BriefcaseJson[]; _links: { next: { href: string } | null } } = await callHub(options, "GET", next, [200]);
    for (const b of page.briefcases) {
      const locks = await countLocks(options, b.briefcaseId);
      write(
        options.json
          ? `${JSON.stringify({ briefcaseId: b.briefcaseId, ownerId: b.ownerId, deviceName: b.deviceName, acquiredDateTime: b.acquiredDateTime, locks })}\n`
          : `${b.briefcaseId}  ${b.ownerId}  ${b.deviceName ?? "-"}  acquired ${b.acquiredDateTime}  ${locks} locks\n`,
      );
    }
    next = page._links.next?.href ?? null;
  }
}

/** Releases the briefcase and all its locks (one request: the hub does both in one transaction). */
export async function runBriefcaseRelease(options: BriefcaseCommandOptions & { briefcaseId: number }): Promise<void> {
  if (!Number.isInteger(options.briefcaseId) || options.briefcaseId < 1) throw new HubCommandError(`'${options.briefcaseId}' is not a briefcase id.`, 2);
  const base = `/imodels/${encodeURIComponent(options.iModelId)}`;
  const briefcase: { briefcase: BriefcaseJson } = await callHub(options, "GET", `${base}/briefcases/${options.briefcaseId}`);
  const locks = await countLocks(options, options.briefcaseId);
  await callHub(options, "DELETE", `${base}/briefcases/${options.briefcaseId}`, [204]);
  const b = briefcase.briefcase;
  out(options)(
    options.json
      ? `${JSON.stringify({ released: true, iModelId: options.iModelId, briefcaseId: b.briefcaseId, ownerId: b.ownerId, deviceName: b.deviceName, locksReleased: locks })}\n`
      : `released briefcase ${b.briefcaseId} of ${b.ownerId}${b.deviceName ? ` (${b.deviceName})` : ""} and its ${locks} locks\n`,
  );
}

async function countLocks(options: BriefcaseCommandOptions, briefcaseId: number): Promise<number> {
  let next: string | null = `/imodels/${encodeURIComponent(options.iModelId)}/locks?briefcaseId=${briefcaseId}&$top=1000`;
  let count = 0;
  while (next) {
    const page: LocksPage = await callHub<LocksPage>(options, "GET", next);
    for (const l of page.locks) for (const g of l.lockedObjects) count += g.objectIds.length;
    next = page._links.next?.href ?? null;
  }
  return count;
}
