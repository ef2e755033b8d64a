// The iTwin.js worker process: everything that needs the native iModel library runs here, one request at a time,
// so the server's event loop never blocks on it and a native crash only costs a respawn.
// Started by ITwinWorker (itwin-worker.ts) with Node IPC; MODELHUB_WORKER_DIR is its scratch directory.
// MODELHUB_ITWIN_ROOT (optional) is a folder where another iTwin.js 5.x is installed (`npm install
// @itwin/core-backend@5.x` there): the worker then runs on that one instead of the hub's own, so a hub can make
// checkpoints of files pushed by a newer iTwin.js without being rebuilt.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreBentley from "@itwin/core-bentley";
import type * as CoreCommon from "@itwin/core-common";
import type { WorkerITwin, WorkerPing, WorkerPong, WorkerReady, WorkerRequest, WorkerResponse } from "./ipc.js";
import type { SummarizeArgs } from "../../ports/change-summary-store.js";
import { summarizeChangesets } from "./change-summarizer.js";

const itwinRoot = process.env.MODELHUB_ITWIN_ROOT ? resolve(process.env.MODELHUB_ITWIN_ROOT) : undefined;
const require = createRequire(itwinRoot ? join(itwinRoot, "package.json") : import.meta.url);

/**
 * Which iTwin.js this worker runs: named in /ready, in the hub's start-up log and in every error it cannot help.
 * Checked before anything is loaded: another iTwin.js must be a 5.x (the worker reaches 5.x internals), and one older
 * than the hub's own is reported (`behind`): what the hub's supported clients push may be beyond it.
 */
const itwin: WorkerITwin = (() => {
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
function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

type Backend = typeof CoreBackend;
const backend = require("@itwin/core-backend") as Backend;
const bentley = require("@itwin/core-bentley") as typeof CoreBentley;
const common = require("@itwin/core-common") as typeof CoreCommon;
// Not in the barrel of 5.x; the package has no exports map, so the deep path resolves.
const { IModelNative } = require("@itwin/core-backend/lib/cjs/internal/NativePlatform.js") as {
  IModelNative: { platform: { DgnDb: { computeChangesetId(args: { parentId: string; pathname: string }): string } } };
};
const { _nativeDb } = require("@itwin/core-backend/lib/cjs/internal/Symbols.js") as { _nativeDb: symbol };
const itwinName = `iTwin.js ${itwin.coreBackend} (native ${itwin.native})`;

/** Said after a native error: which iTwin.js failed, and (isTooNew) what to do if a newer one wrote the input. */
function workerNote(tooNew: boolean): string {
  const runs = `The hub's worker runs ${itwinName}`;
  return tooNew
    ? `${runs}; if a newer iTwin.js wrote it, run the worker on that version (MODELHUB_ITWIN_ROOT, see docs/deploy.md) and schedule the checkpoint again.`
    : `${runs}.`;
}

/** "message." — native messages come with and without a final period. */
function sentence(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/**
 * Native open/apply errors that can mean "written by a newer iTwin.js": a newer file profile, or a changeset format
 * this native does not know (a corrupt changeset reads the same way, hence the "if" of the hint).
 */
function isTooNew(err: unknown): boolean {
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
class Rejected extends Error {}

type NativeDb = ReturnType<Backend["IModelDb"]["openDgnDb"]>;

/** Where iTwin.js keeps a file's parent changeset (be_Local): the legacy id and the {id, index} JSON. */
const PARENT_CHANGESET_VALUES = ["ParentChangeSetId", "parentChangeset"] as const;

/** The local value iTwin.js reads to turn the lock server off for every briefcase of an iModel. */
const NO_LOCKING = "NoLocking";

function openNative(path: string, mode: "read" | "write"): NativeDb {
  return backend.IModelDb.openDgnDb(
    { path },
    mode === "write" ? bentley.OpenMode.ReadWrite : bentley.OpenMode.Readonly,
  );
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function isSqlite(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const header = Buffer.alloc(16);
    const { bytesRead } = await handle.read(header, 0, 16, 0);
    return bytesRead === 16 && header.toString("latin1") === "SQLite format 3\u0000";
  } finally {
    await handle.close();
  }
}

/**
 * The native message without our scratch paths (a user reads it as the reason an upload failed):
 * "error opening iModel [/x/y.tmp]: rc=11, … (BE_SQLITE_CORRUPT), /x/y.tmp" → "error opening iModel: rc=11, … (BE_SQLITE_CORRUPT)".
 */
function nativeMessage(err: unknown, ...paths: string[]): string {
  const mark = "\u0000";
  let message = err instanceof Error ? err.message : String(err);
  for (const path of paths) message = message.split(path).join(mark);
  return message
    .replaceAll(` [${mark}]`, "")
    .replace(new RegExp(`,? *${mark}$`), "")
    .replaceAll(mark, "the file")
    .trim();
}

/**
 * Makes an open file a baseline, the way LocalHub makes checkpoint 0: ids stamped, no txns, briefcase id 0 (which
 * BriefcaseManager requires of a checkpoint), NoLocking set/cleared when asked (kept otherwise: the official
 * client sets it in the file it uploads for `noLocks`).
 */
function stamp(db: NativeDb, args: { iModelId: string; iTwinId: string; noLocks?: boolean }): void {
  db.setITwinId(args.iTwinId);
  db.setIModelId(args.iModelId);
  db.saveChanges();
  db.deleteAllTxns(); // must precede resetBriefcaseId
  db.resetBriefcaseId(0);
  if (args.noLocks !== undefined) db.saveLocalValue(NO_LOCKING, args.noLocks ? "true" : undefined);
  db.saveChanges();
  db.performCheckpoint(3 /* WalCheckpointMode.Truncate */);
}

function tempPath(outputPath: string): string {
  return `${outputPath}.${randomUUID()}.tmp`;
}

/** Renames the finished temp file into place (closing the only connection has already folded the WAL in). */
async function finish(temp: string, outputPath: string): Promise<number> {
  await rm(`${temp}-wal`, { force: true });
  await rm(`${temp}-shm`, { force: true });
  await rename(temp, outputPath);
  return (await stat(outputPath)).size;
}

async function discard(temp: string): Promise<void> {
  for (const path of [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]) await rm(path, { force: true });
}

const ops = {
  summarizeChangesets: (args: SummarizeArgs) => summarizeChangesets(args, (message) => new Rejected(message)),

  async initializeBaseline(args: {
    inputPath: string;
    outputPath: string;
    iModelId: string;
    iTwinId: string;
    noLocks?: boolean;
    resetParentChangeset?: boolean;
  }) {
    if (!(await isSqlite(args.inputPath)))
      throw new Rejected("The uploaded file is not an iModel: it is not an SQLite database.");
    await mkdir(dirname(args.outputPath), { recursive: true });
    const temp = tempPath(args.outputPath);
    try {
      await copyFile(args.inputPath, temp);
      let db: NativeDb;
      try {
        db = openNative(temp, "write");
      } catch (err) {
        if (isTooNew(err))
          throw new Rejected(
            `The uploaded iModel cannot be opened: ${sentence(nativeMessage(err, temp))} ${workerNote(true)}`,
          );
        throw new Rejected(`The uploaded file is not an iModel: ${nativeMessage(err, temp)}`);
      }
      let changeset: { id: string; index?: number };
      try {
        // Where the file is on its own timeline: "" for a version 0 (a snapshot, or a file never pushed).
        changeset = db.getCurrentChangeset();
        if (args.resetParentChangeset) {
          // A squashed copy (fork without history, template): the content at changeset N becomes a version 0.
          // iTwin.js 5.1.9 keeps the parent changeset only in these two local values (checked by reopening).
          for (const name of PARENT_CHANGESET_VALUES) db.saveLocalValue(name, undefined);
          db.saveChanges();
          changeset = db.getCurrentChangeset();
        }
        stamp(db, args);
      } finally {
        db.closeFile();
      }
      const fileSize = await finish(temp, args.outputPath);
      return {
        fileSize,
        changesetId: changeset.id,
        ...(changeset.index !== undefined ? { changesetIndex: changeset.index } : {}),
      };
    } catch (err) {
      await discard(temp);
      throw err;
    }
  },

  async createEmptyBaseline(args: {
    outputPath: string;
    iModelId: string;
    iTwinId: string;
    rootSubjectName: string;
    rootSubjectDescription?: string;
    noLocks?: boolean;
  }) {
    await mkdir(dirname(args.outputPath), { recursive: true });
    const temp = tempPath(args.outputPath);
    try {
      backend.SnapshotDb.createEmpty(temp, {
        rootSubject: {
          name: args.rootSubjectName,
          ...(args.rootSubjectDescription ? { description: args.rootSubjectDescription } : {}),
        },
      }).close();
      const db = openNative(temp, "write");
      try {
        stamp(db, args);
      } finally {
        db.closeFile();
      }
      return { fileSize: await finish(temp, args.outputPath) };
    } catch (err) {
      await discard(temp);
      throw err;
    }
  },

  async computeChangesetId(args: { parentId: string; pathname: string }) {
    // A missing file is the server's fault, not the uploader's: a plain failure.
    if (!(await exists(args.pathname))) throw new Error(`No changeset file at '${args.pathname}'.`);
    if (!/^([0-9a-fA-F]{40})?$/.test(args.parentId)) {
      throw new Rejected(`Invalid parent changeset id '${args.parentId}': expected "" or 40 hexadecimal digits.`);
    }
    try {
      return {
        id: IModelNative.platform.DgnDb.computeChangesetId({ parentId: args.parentId, pathname: args.pathname }),
      };
    } catch (err) {
      throw new Rejected(nativeMessage(err, args.pathname));
    }
  },

  async inspect(args: { path: string }) {
    // A read-only open of a WAL-mode file (every iTwin.js file is) creates empty -wal/-shm files that SQLite cannot
    // delete from a read-only connection: remove the ones this call made, so hub-owned files stay single files.
    const wal = `${args.path}-wal`;
    const shm = `${args.path}-shm`;
    const hadWal = await exists(wal);
    const hadShm = await exists(shm);
    try {
      const db = openNative(args.path, "read");
      try {
        const changeset = db.getCurrentChangeset();
        return {
          iModelId: db.getIModelId(),
          iTwinId: db.getITwinId(),
          changesetId: changeset.id,
          ...(changeset.index !== undefined ? { changesetIndex: changeset.index } : {}),
          briefcaseId: db.getBriefcaseId(),
          noLocks: db.queryLocalValue(NO_LOCKING) === "true",
        };
      } finally {
        db.closeFile();
      }
    } finally {
      if (
        !hadWal &&
        !hadShm &&
        (await stat(wal).then(
          (s) => s.size === 0,
          () => true,
        ))
      ) {
        await rm(wal, { force: true });
        await rm(shm, { force: true });
      }
    }
  },

  /**
   * What people call the elements (or models) of `ids` in the file at `path` (a checkpoint): label, class and model,
   * for the web UI's lock list. Ids the file does not have (created later, or never pushed) are not in the answer.
   */
  async describeElements(args: { path: string; ids: string[] }) {
    const db = backend.SnapshotDb.openFile(args.path);
    try {
      const reader = db.createQueryReader(DESCRIBE_ECSQL, new common.QueryBinder().bindIdSet(1, args.ids), {
        rowFormat: common.QueryRowFormat.UseECSqlPropertyIndexes,
      });
      const elements: ElementDescription[] = [];
      for await (const row of reader) {
        const [id, className, code, label, modelId, modelClass, modelCode, modelLabel] = row.toArray() as (
          string | undefined
        )[];
        elements.push({
          id: String(id),
          className: String(className ?? ""),
          label: label || code || null,
          model: modelId
            ? { id: String(modelId), className: modelClass ?? null, label: modelLabel || modelCode || null }
            : null,
        });
      }
      return { elements, changesetId: db.changeset.id };
    } finally {
      db.close();
    }
  },

  async makeCheckpoint(args: {
    basePath: string;
    outputPath: string;
    changesets: { id: string; index: number; parentId: string; pathname: string; changesType: number }[];
  }) {
    await mkdir(dirname(args.outputPath), { recursive: true });
    const temp = tempPath(args.outputPath);
    try {
      await copyFile(args.basePath, temp);
      let db: CoreBackend.SnapshotDb;
      try {
        db = backend.SnapshotDb.openForApplyChangesets(temp);
      } catch (err) {
        if (isTooNew(err))
          throw new Rejected(
            `The checkpoint this one starts from cannot be opened: ${sentence(nativeMessage(err, temp))} ${workerNote(true)}`,
          );
        throw err;
      }
      const nativeDb = (db as unknown as Record<symbol, NativeDb | undefined>)[_nativeDb] ?? nativeDbOf(db);
      try {
        if (nativeDb.hasPendingTxns()) nativeDb.deleteAllTxns();
        if (nativeDb.getBriefcaseId() !== 0) nativeDb.resetBriefcaseId(0);
        for (const cs of args.changesets) {
          // The native apply does not check that the changeset continues the file's timeline (it applied changeset 2
          // onto version0 in a test), so check it here.
          const at = nativeDb.getCurrentChangeset().id;
          if (cs.parentId !== at) {
            throw new Rejected(
              `Changeset ${cs.index} ('${cs.id}') could not be applied: its parent is '${cs.parentId}' but the file is at '${at}'.`,
            );
          }
          if (cs.changesType === 1 || cs.changesType === 65) db.clearCaches();
          try {
            nativeDb.applyChangeset({ ...cs, changesType: cs.changesType } as never, true);
          } catch (err) {
            throw new Rejected(
              `Changeset ${cs.index} ('${cs.id}') could not be applied: ${sentence(nativeMessage(err, temp, cs.pathname))} ${workerNote(isTooNew(err))}`,
            );
          }
        }
        db.saveChanges();
        nativeDb.performCheckpoint();
        const changesetId = nativeDb.getCurrentChangeset().id;
        db.close();
        return { fileSize: await finish(temp, args.outputPath), changesetId };
      } catch (err) {
        if (db.isOpen) db.close();
        throw err;
      }
    } catch (err) {
      await discard(temp);
      throw err;
    }
  },

  /**
   * Publishes a checkpoint file as database `dbName` of a CloudSqlite container (a V2 checkpoint: what iTwin.js's
   * V2CheckpointManager attaches or downloads), uploaded block by block under the container's write lock.
   * `initialize`: the container is new (or was never set up): it gets CloudSqlite's layout first, with 4 MB blocks.
   */
  async uploadCheckpointBlocks(args: {
    localPath: string;
    baseUri: string;
    containerId: string;
    accessToken: string;
    dbName: string;
    initialize: boolean;
    blockSize: number;
  }) {
    const container = backend.CloudSqlite.createCloudContainer({
      baseUri: args.baseUri,
      containerId: args.containerId,
      storageType: "azure",
      accessToken: args.accessToken,
      writeable: true,
      // A token good for this one upload: never refreshed through a BlobContainer service the worker has none of.
      tokenRefreshSeconds: -1,
    });
    if (args.initialize) container.initializeContainer({ blockSize: args.blockSize });
    container.connect(backend.CloudSqlite.CloudCaches.getCache({ cacheName: "checkpoint-upload" }));
    try {
      await backend.CloudSqlite.withWriteLock(
        { user: WRITER, container, busyHandler: waitForWriteLock() },
        async () => {
          await backend.CloudSqlite.transferDb("upload", container, {
            dbName: args.dbName,
            localFileName: args.localPath,
          });
        },
      );
      return { blockSize: container.blockSize };
    } finally {
      container.disconnect({ detach: true });
    }
  },

  /**
   * Deletes databases of a CloudSqlite container (pruned V2 checkpoints) under its write lock, and the blocks that
   * earlier deletions left unused for over an hour (readers that attached a database keep theirs meanwhile).
   */
  async deleteCheckpointBlocks(args: { baseUri: string; containerId: string; accessToken: string; dbNames: string[] }) {
    const container = backend.CloudSqlite.createCloudContainer({
      baseUri: args.baseUri,
      containerId: args.containerId,
      storageType: "azure",
      accessToken: args.accessToken,
      writeable: true,
      tokenRefreshSeconds: -1,
    });
    container.connect(backend.CloudSqlite.CloudCaches.getCache({ cacheName: "checkpoint-upload" }));
    try {
      const present = new Set(container.queryDatabases());
      const deleted: string[] = [];
      await backend.CloudSqlite.withWriteLock(
        { user: WRITER, container, busyHandler: waitForWriteLock() },
        async () => {
          for (const dbName of args.dbNames) {
            if (!present.has(dbName)) continue;
            await container.deleteDatabase(dbName);
            deleted.push(dbName);
          }
        },
      );
      await backend.CloudSqlite.cleanDeletedBlocks(container, { findOrphanedBlocks: false });
      return { deleted };
    } finally {
      container.disconnect({ detach: true });
    }
  },
};

interface ElementDescription {
  id: string;
  className: string;
  label: string | null;
  model: { id: string; className: string | null; label: string | null } | null;
}

/** Elements by id with their class, label (user label, else code) and their model's (its modeled element's). */
const DESCRIBE_ECSQL = `SELECT e.ECInstanceId, ec_classname(e.ECClassId, 's:c'), e.CodeValue, e.UserLabel, e.Model.Id,
  ec_classname(m.ECClassId, 's:c'), m.CodeValue, m.UserLabel
  FROM bis.Element e LEFT JOIN bis.Element m ON m.ECInstanceId = e.Model.Id
  WHERE InVirtualSet(?, e.ECInstanceId)`;

/** Who holds a container's write lock: this worker, by name (two nodes must never look like the same writer). */
const WRITER = `modelhub ${hostname()} ${process.pid}`;

/**
 * Another node's checkpoint job may hold a container's write lock (one upload at a time per container): wait for it,
 * up to 5 minutes (a writer that died keeps it until it expires, an hour: the publish then fails and is logged).
 */
function waitForWriteLock(): () => Promise<"stop" | undefined> {
  const deadline = Date.now() + 5 * 60_000;
  return async () => {
    if (Date.now() > deadline) return "stop";
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return undefined;
  };
}

function nativeDbOf(db: object): NativeDb {
  for (const sym of Object.getOwnPropertySymbols(db)) {
    const value = (db as Record<symbol, unknown>)[sym] as { applyChangeset?: unknown } | undefined;
    if (value && typeof value.applyChangeset === "function") return value as unknown as NativeDb;
  }
  throw new Error("Cannot reach the native database of a SnapshotDb in this iTwin.js version.");
}

async function main(): Promise<void> {
  if (!process.send) throw new Error("The iTwin.js worker must be started by ITwinWorker (it talks over Node IPC).");
  const workDir = process.env.MODELHUB_WORKER_DIR ?? join(process.cwd(), ".modelhub-worker");
  await mkdir(workDir, { recursive: true });
  await backend.IModelHost.startup({ cacheDir: join(workDir, "cache") });
  // Opening an IModelDb loads the geographic coordinate system data from a public cloud container
  // (geocoord-workspace.itwinjs.org). The worker never reprojects, and a self-hosted server must not depend on
  // that site: without network access the first open stalls ~15 s on DNS before giving up.
  backend.IModelHost.appWorkspace.settings.addDictionary(
    { name: "modelhub-worker", priority: backend.SettingsPriority.application },
    { "itwin/core/gcs/disableWorkspaces": true },
  );

  let queue = Promise.resolve();
  process.on("message", (message: WorkerRequest | WorkerPing) => {
    // Pings skip the queue: they show the process and its event loop are alive, even behind a long request.
    if ("ping" in message) {
      if (process.connected) process.send!({ pong: message.ping } satisfies WorkerPong);
      return;
    }
    queue = queue.then(async () => {
      let response: WorkerResponse;
      try {
        const op = (ops as Record<string, ((args: unknown) => Promise<unknown>) | undefined>)[message.op];
        if (!op) throw new Error(`Unknown operation '${message.op}'.`);
        response = { id: message.id, ok: true, result: await op(message.args) };
      } catch (err) {
        const kind = err instanceof Rejected ? "rejected" : "failed";
        response = {
          id: message.id,
          ok: false,
          error: { message: err instanceof Error ? err.message : String(err), kind },
        };
      }
      if (process.connected) process.send!(response);
    });
  });
  // The parent closed the channel (close(), or it died): finish the current request, shut down, exit.
  process.once("disconnect", () => {
    void queue.then(() => backend.IModelHost.shutdown()).finally(() => process.exit(0));
  });
  process.send({ ready: true, itwin } satisfies WorkerReady);
}

void main().catch((err: unknown) => {
  process.stderr.write(
    `iTwin.js worker (${itwinName}) failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
