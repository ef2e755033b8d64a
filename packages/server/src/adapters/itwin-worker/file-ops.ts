// Worker operations on a single iModel file: an uploaded file made a baseline, an empty baseline, a changeset's id,
// and what a file says about itself.
import { copyFile, mkdir, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { discard, exists, finish, isSqlite, tempPath } from "./scratch-files.js";
import type { NativeDb } from "./worker-itwin.js";
import {
  backend,
  IModelNative,
  isTooNew,
  nativeMessage,
  openNative,
  Rejected,
  sentence,
  workerNote,
} from "./worker-itwin.js";

/** Where iTwin.js keeps a file's parent changeset (be_Local): the legacy id and the {id, index} JSON. */
const PARENT_CHANGESET_VALUES = ["ParentChangeSetId", "parentChangeset"] as const;

/** The local value iTwin.js reads to turn the lock server off for every briefcase of an iModel. */
const NO_LOCKING = "NoLocking";
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

export const fileOps = {
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
};
