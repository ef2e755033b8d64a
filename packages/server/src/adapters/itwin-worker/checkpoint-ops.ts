// Worker operations that make and publish checkpoints: changesets applied onto an earlier checkpoint, and a
// checkpoint's databases uploaded to or deleted from a CloudSqlite container (V2 checkpoints).
import { copyFile, mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import { discard, finish, tempPath } from "./scratch-files.js";
import type { NativeDb } from "./worker-itwin.js";
import { _nativeDb, backend, isTooNew, nativeMessage, Rejected, sentence, workerNote } from "./worker-itwin.js";

export const checkpointOps = {
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
