// The iTwin.js worker process: everything that needs the native iModel library runs here, one request at a time,
// so the server's event loop never blocks on it and a native crash only costs a respawn.
import { copyFile, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreBentley from "@itwin/core-bentley";
import type { WorkerRequest, WorkerResponse } from "./protocol.js";

const require = createRequire(import.meta.url);
type Backend = typeof CoreBackend;
const backend = require("@itwin/core-backend") as Backend;
const bentley = require("@itwin/core-bentley") as typeof CoreBentley;
const { IModelNative } = require("@itwin/core-backend/lib/cjs/internal/NativePlatform.js") as {
  IModelNative: { platform: { DgnDb: { computeChangesetId(args: { parentId: string; pathname: string }): string } } };
};

const { _nativeDb } = require("@itwin/core-backend/lib/cjs/internal/Symbols.js") as { _nativeDb: symbol };

/** Raised for bad input: the parent turns it into FileRejected. */
class Rejected extends Error {}

type NativeDb = ReturnType<Backend["IModelDb"]["openDgnDb"]>;

function openNative(path: string, mode: "read" | "write"): NativeDb {
  return backend.IModelDb.openDgnDb({ path }, mode === "write" ? bentley.OpenMode.ReadWrite : bentley.OpenMode.Readonly);
}

async function isSqlite(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const header = Buffer.alloc(16);
    await handle.read(header, 0, 16, 0);
    return header.toString("latin1") === "SQLite format 3\u0000";
  } finally {
    await handle.close();
  }
}

/** Stamps ids, clears txns and the briefcase id, and folds any WAL into the file (LocalHub does the same). */
function stamp(path: string, iModelId: string, iTwinId: string): void {
  const db = openNative(path, "write");
  try {
    db.setITwinId(iTwinId);
    db.setIModelId(iModelId);
    db.saveChanges();
    db.deleteAllTxns();
    db.resetBriefcaseId(0);
    db.saveChanges();
    db.performCheckpoint();
  } finally {
    db.closeFile();
  }
}

async function finish(temp: string, outputPath: string): Promise<number> {
  await rm(`${temp}-wal`, { force: true });
  await rm(`${temp}-shm`, { force: true });
  await rename(temp, outputPath);
  return (await stat(outputPath)).size;
}

const ops = {
  async initializeBaseline(args: { inputPath: string; outputPath: string; iModelId: string; iTwinId: string }) {
    if (!(await isSqlite(args.inputPath))) throw new Rejected("The uploaded file is not an iModel: it is not an SQLite database.");
    const temp = `${args.outputPath}.${process.pid}.tmp`;
    await mkdir(dirname(args.outputPath), { recursive: true });
    await copyFile(args.inputPath, temp);
    try {
      let changesetId: string;
      try {
        const probe = openNative(temp, "write");
        try {
          changesetId = probe.getCurrentChangeset().id;
        } finally {
          probe.closeFile();
        }
      } catch (err) {
        throw new Rejected(`The uploaded file is not an iModel: ${(err as Error).message}`);
      }
      stamp(temp, args.iModelId, args.iTwinId);
      const fileSize = await finish(temp, args.outputPath);
      return { fileSize, changesetId };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  },

  async createEmptyBaseline(args: { outputPath: string; iModelId: string; iTwinId: string; rootSubjectName: string; rootSubjectDescription?: string }) {
    const temp = `${args.outputPath}.${process.pid}.tmp`;
    await mkdir(dirname(args.outputPath), { recursive: true });
    await rm(temp, { force: true });
    backend.SnapshotDb.createEmpty(temp, {
      rootSubject: { name: args.rootSubjectName, ...(args.rootSubjectDescription ? { description: args.rootSubjectDescription } : {}) },
    }).close();
    stamp(temp, args.iModelId, args.iTwinId);
    return { fileSize: await finish(temp, args.outputPath) };
  },

  async computeChangesetId(args: { parentId: string; pathname: string }) {
    try {
      return { id: IModelNative.platform.DgnDb.computeChangesetId({ parentId: args.parentId, pathname: args.pathname }) };
    } catch (err) {
      throw new Rejected(`The file is not a changeset: ${(err as Error).message}`);
    }
  },

  async inspect(args: { path: string }) {
    const db = openNative(args.path, "read");
    try {
      const changeset = db.getCurrentChangeset();
      return { iModelId: db.getIModelId(), iTwinId: db.getITwinId(), changesetId: changeset.id, changesetIndex: changeset.index, briefcaseId: db.getBriefcaseId() };
    } finally {
      db.closeFile();
    }
  },

  async makeCheckpoint(args: { basePath: string; outputPath: string; changesets: { id: string; index: number; parentId: string; pathname: string; changesType: number }[] }) {
    const temp = `${args.outputPath}.${process.pid}.tmp`;
    await mkdir(dirname(args.outputPath), { recursive: true });
    await copyFile(args.basePath, temp);
    try {
      const db = backend.SnapshotDb.openForApplyChangesets(temp);
      const nativeDb = (db as unknown as Record<symbol, NativeDb | undefined>)[_nativeDb] ?? nativeDbOf(db);
      try {
        if (nativeDb.hasPendingTxns()) nativeDb.deleteAllTxns();
        if (nativeDb.getBriefcaseId() !== 0) nativeDb.resetBriefcaseId(0);
        for (const cs of args.changesets) {
          // The native apply does not check that the changeset continues the file's timeline (it applied changeset 2
          // onto version0 in a test), so check it here.
          const at = nativeDb.getCurrentChangeset().id;
          if (cs.parentId !== at) {
            throw new Rejected(`Changeset ${cs.index} ('${cs.id}') could not be applied: its parent is '${cs.parentId}' but the file is at '${at}'.`);
          }
          if (cs.changesType === 1 || cs.changesType === 65) db.clearCaches();
          try {
            nativeDb.applyChangeset({ ...cs, changesType: cs.changesType } as never, true);
          } catch (err) {
            throw new Rejected(`Changeset ${cs.index} ('${cs.id}') could not be applied: ${(err as Error).message}`);
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
      await rm(temp, { force: true });
      throw err;
    }
  },
};

function nativeDbOf(db: object): NativeDb {
  for (const sym of Object.getOwnPropertySymbols(db)) {
    const value = (db as Record<symbol, unknown>)[sym] as { applyChangeset?: unknown } | undefined;
    if (value && typeof value.applyChangeset === "function") return value as unknown as NativeDb;
  }
  throw new Error("Cannot reach the native database of a SnapshotDb in this iTwin.js version.");
}

async function main(): Promise<void> {
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
  process.on("message", (message: WorkerRequest) => {
    queue = queue.then(async () => {
      let response: WorkerResponse;
      try {
        const op = ops[message.op] as (args: unknown) => Promise<unknown>;
        if (!op) throw new Error(`Unknown operation '${message.op}'.`);
        response = { id: message.id, ok: true, result: await op(message.args) };
      } catch (err) {
        response = { id: message.id, ok: false, error: { message: err instanceof Error ? err.message : String(err), rejected: err instanceof Rejected } };
      }
      process.send?.(response);
    });
  });
  process.on("disconnect", () => {
    void backend.IModelHost.shutdown().finally(() => process.exit(0));
  });
  process.send?.({ ready: true });
}

void main().catch((err: unknown) => {
  process.stderr.write(`iTwin.js worker failed to start: ${String(err)}\n`);
  process.exit(1);
});
