// A pull's changesets: listed (small files inline in the list's answer), downloaded into iTwin.js's folder through
// the changeset cache, and checked against their ids.
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { ChangesetFileProps, ChangesetProps } from "@itwin/core-common";
import type { ModelHubClient } from "@modelhub/client";
import type { Changeset } from "@modelhub/protocol";
import { callHub, cancelled as cancelledError } from "./errors.js";
import { bentley, changesetIdRule, common, hasChangesetId } from "./host.js";
import type { Retrying } from "./transfers.js";
import { downloadFile, runLimited, TransferAborted, writeWholeFile } from "./transfers.js";
import { changesetCache } from "./changeset-cache.js";

export interface DownloadSettings {
  retry: Retrying;
  /** Files downloaded at once. */
  concurrency: number;
  wholeFileLimit: number;
  verifyIds: boolean;
  /** Bytes of small files per list page the hub is asked to send inline (0: never). */
  inlineFileBytes: number;
}

/** The changesets of `range`; with `inline`, the files the hub sent with the list are put there by index. */
export async function listChangesets(
  hub: ModelHubClient,
  iModelId: string,
  range: { first: number; end?: number } | undefined,
  inlineFileBytes: number,
  inline?: Map<number, Buffer>,
): Promise<Changeset[]> {
  const first = range?.first ?? 0;
  const end = range?.end;
  if (end !== undefined && end < first) return [];
  const filter = {
    afterIndex: Math.max(0, first - 1),
    ...(end !== undefined ? { lastIndex: end } : {}),
    pageSize: 1000,
  };
  return callHub("queryChangesets", async () => {
    const all: Changeset[] = [];
    if (inline) {
      inline.clear(); // a retried call starts over
      for await (const { changeset, file } of hub.changesetsWithFiles(iModelId, filter, inlineFileBytes)) {
        all.push(changeset);
        if (file) inline.set(changeset.index, file);
      }
    } else for await (const c of hub.changesets(iModelId, filter)) all.push(c);
    return all;
  });
}

/**
 * Downloads `changesets` into `targetDir` for iTwin.js to apply: each under a name of this call's own
 * (changesetCache.handOut), since iTwin.js deletes what it applied. `links` are download links a list page
 * already carried, `inline` files it carried whole.
 */
export async function downloadChangesets(
  hub: ModelHubClient,
  iModelId: string,
  changesets: ChangesetProps[],
  targetDir: string,
  settings: DownloadSettings,
  progress?: (downloaded: number, total: number) => number,
  links?: Map<number, string | undefined>,
  inline?: ReadonlyMap<number, Buffer>,
): Promise<ChangesetFileProps[]> {
  const total = changesets.reduce((sum, c) => sum + (c.size ?? 0), 0);
  let downloaded = 0;
  let cancelled = false;
  const files = changesets.map((c) => ({ ...c, pathname: join(targetDir, `${c.id}.cs`) }) as ChangesetFileProps);
  const handedOut = new Map<ChangesetFileProps, string>();
  // Each file is checked against its id where the host knows iTwin.js's id rule (5.x), also a file already present.
  const computeId = settings.verifyIds ? changesetIdRule() : undefined;
  const hasId = (file: ChangesetFileProps) => hasChangesetId(computeId!, file.parentId, file.pathname, file.id);
  try {
    await runLimited(settings.concurrency, files, async (file) => {
      const onBytes = (bytes: number) => {
        downloaded += bytes;
        if (progress && progress(downloaded, total) !== 0) cancelled = true;
        return cancelled;
      };
      const fresh = async (): Promise<string> => {
        const changeset = await callHub("downloadChangeset", () => hub.getChangeset(iModelId, file.index));
        if (!changeset._links.download)
          throw new common.IModelError(
            bentley.IModelHubStatus.FileDoesNotExist,
            `changeset ${file.index} has no file to download`,
          );
        return changeset._links.download.href;
      };
      // One writer per file in this process: the prefetcher may be fetching this very file (then it is waited for).
      await changesetCache.exclusive(file.pathname, async () => {
        // A file checked when it was written (by the prefetcher) and not touched since is taken as it is.
        const present = statSync(file.pathname, { throwIfNoEntry: false });
        if (computeId && changesetCache.isVerified(file.pathname, present)) {
          if (onBytes(file.size ?? 0)) throw new TransferAborted();
          handedOut.set(file, await changesetCache.handOut(file.pathname));
          return;
        }
        const carried = inline?.get(file.index);
        const inlined = carried?.length === file.size ? carried : undefined;
        let counted = false;
        if (inlined && present?.size !== file.size) {
          // A file the list carried (small, in memory) is written straight under this call's own name, synchronously:
          // microseconds, where each of the file-system calls of a download waited in libuv's pool behind
          // iTwin.js's native work (about 0.2 ms a file of a 50-changeset pull). Bytes that are not the changeset
          // are dropped and the file is downloaded through its link below.
          if (onBytes(inlined.length)) throw new TransferAborted();
          counted = true;
          const own = await changesetCache.ownName(file.pathname);
          mkdirSync(targetDir, { recursive: true });
          writeFileSync(own, inlined);
          if (!computeId || hasChangesetId(computeId, file.parentId, own, file.id)) {
            handedOut.set(file, own);
            return;
          }
          rmSync(own, { force: true });
        }
        // A list page already carries download links; a fresh one is asked for only when it is missing or failed
        // (signed links expire). A broken download resumes where it stopped, on whichever link. A file already
        // there with the right size (e.g. prefetched) is kept.
        if (inlined && !counted) await writeWholeFile(file.pathname, inlined, onBytes);
        else
          await downloadFile(
            links?.get(file.index) ?? (await fresh()),
            file.pathname,
            file.size,
            settings.retry,
            counted ? () => cancelled : onBytes,
            fresh,
            settings.wholeFileLimit,
          );
        if (computeId && !hasId(file)) {
          // Right size, wrong bytes: fetch it once more (not counted as progress again), then give up.
          changesetCache.forget(file.pathname);
          await rm(file.pathname, { force: true });
          await downloadFile(
            await fresh(),
            file.pathname,
            file.size,
            settings.retry,
            () => cancelled,
            fresh,
            settings.wholeFileLimit,
          );
          if (!hasId(file)) {
            await rm(file.pathname, { force: true });
            throw new common.IModelError(
              bentley.ChangeSetStatus.CorruptedChangeStream,
              `changeset ${file.index} downloaded from modelhub does not have the id ${file.id}`,
            );
          }
        }
        handedOut.set(file, await changesetCache.handOut(file.pathname));
      });
    });
  } catch (err) {
    // Nobody will apply (and so delete) the files already handed out to this call.
    await Promise.all([...handedOut.values()].map((path) => rm(path, { force: true })));
    if (err instanceof TransferAborted || cancelled) throw cancelledError("changeset download");
    throw err;
  }
  return files.map((file) => ({ ...file, pathname: handedOut.get(file) ?? file.pathname }));
}
