// The iTwin.js this worker process runs, loaded once for every operation, and how its native errors are told.
// MODELHUB_ITWIN_ROOT (optional) is a folder where another iTwin.js 5.x is installed (`npm install
// @itwin/core-backend@5.x` there): the worker then runs on that one instead of the hub's own, so a hub can make
// checkpoints of files pushed by a newer iTwin.js without being rebuilt.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreBentley from "@itwin/core-bentley";
import type * as CoreCommon from "@itwin/core-common";
import type { WorkerITwin } from "./ipc.js";

const itwinRoot = process.env.MODELHUB_ITWIN_ROOT ? resolve(process.env.MODELHUB_ITWIN_ROOT) : undefined;
const require = createRequire(itwinRoot ? join(itwinRoot, "package.json") : import.meta.url);

/**
 * Which iTwin.js this worker runs: named in /ready, in the hub's start-up log and in every error it cannot help.
 * Checked before anything is loaded: another iTwin.js must be a 5.x (the worker reaches 5.x internals), and one older
 * than the hub's own is reported (`behind`): what the hub's supported clients push may be beyond it.
 */
export const itwin: WorkerITwin = (() => {
  const version = (path: string) => (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  let backendPackage: string;
  try {
    backendPackage = require.resolve("@itwin/core-backend/package.json");
  } catch {
    return fail(
      `MODELHUB_ITWIN_ROOT: no @itwin/core-backend is installed in ${itwinRoot} (npm install @itwin/core-backend@5 there).`,
    );
  }
  const coreBackend = version(backendPackage);
  const native = version(createRequire(backendPackage).resolve("@bentley/imodeljs-native/package.json"));
  if (!itwinRoot) return { coreBackend, native };
  if (Number(coreBackend.split(".")[0]) !== 5)
    return fail(`MODELHUB_ITWIN_ROOT: ${itwinRoot} has iTwin.js ${coreBackend}; the hub's worker runs iTwin.js 5.x.`);
  const own = version(createRequire(import.meta.url).resolve("@itwin/core-backend/package.json"));
  return { coreBackend, native, root: itwinRoot, ...(compareVersions(coreBackend, own) < 0 ? { behind: own } : {}) };
})();

/** Ends the process with one line on stderr: ITwinWorker reports the last line as why the worker could not start. */
export function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export type Backend = typeof CoreBackend;
export const backend = require("@itwin/core-backend") as Backend;
export const bentley = require("@itwin/core-bentley") as typeof CoreBentley;
export const common = require("@itwin/core-common") as typeof CoreCommon;
// Not in the barrel of 5.x; the package has no exports map, so the deep path resolves.
export const { IModelNative } = require("@itwin/core-backend/lib/cjs/internal/NativePlatform.js") as {
  IModelNative: { platform: { DgnDb: { computeChangesetId(args: { parentId: string; pathname: string }): string } } };
};
export const { _nativeDb } = require("@itwin/core-backend/lib/cjs/internal/Symbols.js") as { _nativeDb: symbol };
export const itwinName = `iTwin.js ${itwin.coreBackend} (native ${itwin.native})`;

/** Said after a native error: which iTwin.js failed, and (isTooNew) what to do if a newer one wrote the input. */
export function workerNote(tooNew: boolean): string {
  const runs = `The hub's worker runs ${itwinName}`;
  return tooNew
    ? `${runs}; if a newer iTwin.js wrote it, run the worker on that version (MODELHUB_ITWIN_ROOT, see docs/deploy.md) and schedule the checkpoint again.`
    : `${runs}.`;
}

/** "message." — native messages come with and without a final period. */
export function sentence(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/**
 * Native open/apply errors that can mean "written by a newer iTwin.js": a newer file profile, or a changeset format
 * this native does not know (a corrupt changeset reads the same way, hence the "if" of the hint).
 */
export function isTooNew(err: unknown): boolean {
  const n = (err as { errorNumber?: number }).errorNumber;
  const tooNew = [
    bentley.DbResult.BE_SQLITE_ERROR_ProfileTooNew,
    bentley.DbResult.BE_SQLITE_ERROR_ProfileTooNewForReadWrite,
    bentley.DbResult.BE_SQLITE_ERROR_InvalidProfileVersion,
  ];
  return (
    (n !== undefined && tooNew.includes(n)) ||
    /too new|newer version|ProfileTooNew|unsupported.*version/i.test(err instanceof Error ? err.message : String(err))
  );
}

/** Raised for bad input: the parent turns it into FileRejected. */
export class Rejected extends Error {}

export type NativeDb = ReturnType<Backend["IModelDb"]["openDgnDb"]>;

/** Where iTwin.js keeps a file's parent changeset (be_Local): the legacy id and the {id, index} JSON. */
export const PARENT_CHANGESET_VALUES = ["ParentChangeSetId", "parentChangeset"] as const;

/** The local value iTwin.js reads to turn the lock server off for every briefcase of an iModel. */
export const NO_LOCKING = "NoLocking";

export function openNative(path: string, mode: "read" | "write"): NativeDb {
  return backend.IModelDb.openDgnDb(
    { path },
    mode === "write" ? bentley.OpenMode.ReadWrite : bentley.OpenMode.Readonly,
  );
}

/**
 * The native message without our scratch paths (a user reads it as the reason an upload failed):
 * "error opening iModel [/x/y.tmp]: rc=11, … (BE_SQLITE_CORRUPT), /x/y.tmp" → "error opening iModel: rc=11, … (BE_SQLITE_CORRUPT)".
 */
export function nativeMessage(err: unknown, ...paths: string[]): string {
  const mark = "\u0000";
  let message = err instanceof Error ? err.message : String(err);
  for (const path of paths) message = message.split(path).join(mark);
  return message
    .replaceAll(` [${mark}]`, "")
    .replace(new RegExp(`,? *${mark}$`), "")
    .replaceAll(mark, "the file")
    .trim();
}
