// `modelhub backup` and `modelhub restore`: a consistent copy of a data directory while a hub serves it, and its
// restore into an empty directory. The backend's own steps come from the registry (embeddedBackup: the SQLite file's
// online copy and deletion hold); a hub on PostgreSQL or Azure Blob Storage is refused by name.
import { randomUUID } from "node:crypto";
import { chmod, mkdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { BlobSpec, MetadataSpec } from "../adapters/registry.js";
import { exists } from "../util/fs.js";
import { copyFileHashed, copyTree, describe, isInside, isNonEmptyDir, syncDir, writeDurably } from "./backup-files.js";
import type { BackupManifest, Step } from "./backup-manifest.js";
import {
  AdminRefusal,
  backendOf,
  BLOB_FILES_DIR,
  MANIFEST_FILE,
  mb,
  METADATA_FILE,
  missingReferences,
  PRIVATE_DIR,
  PRIVATE_FILE_MODE,
  SECRET_FILE,
  stepRecorder,
} from "./backup-manifest.js";

export interface BackupOptions {
  dataDir: string;
  /** The hub's `--metadata` and `--blobs` (default: the embedded file and folder); other backends are refused by name. */
  metadata?: MetadataSpec;
  blobs?: BlobSpec;
  to: string;
  /** Lifetime of the deletion hold; renewed every `holdRenewMs` while copying. Defaults 120 s / 30 s. */
  holdTtlMs?: number;
  holdRenewMs?: number;
  onStep?: (step: Step) => void;
}

export interface BackupResult {
  to: string;
  manifest: BackupManifest;
  steps: Step[];
  durationMs: number;
}

/**
 * Backs up a data directory, safely while a hub serves it:
 * 1. a blob deletion hold (the hub deletes no blob while it is live; it writes blobs before any metadata refers to
 *    them, and completed blobs never change), so every blob the snapshot refers to stays until it is copied;
 * 2. SQLite's online backup of `metadata.db` (a consistent snapshot);
 * 3. every blob under `blobs/files/` and `secret.key`, with a checksum each;
 * 4. a check that every file the snapshot refers to is in the copy, with its size;
 * 5. the hold is released (also on failure), `manifest.json` written, the folder renamed to `to` in one step.
 */
export async function backup(options: BackupOptions): Promise<BackupResult> {
  const started = performance.now();
  const { steps, step } = stepRecorder(options.onStep);
  const dataDir = resolve(options.dataDir);
  const to = resolve(options.to);
  const backend = backendOf({
    ...(options.metadata ? { metadata: options.metadata } : {}),
    ...(options.blobs ? { blobs: options.blobs } : {}),
  });
  const dbPath = join(dataDir, METADATA_FILE);
  if (!(await exists(dbPath)))
    throw new AdminRefusal(`${dataDir} is not a modelhub data directory (no ${METADATA_FILE}).`);
  if (await isNonEmptyDir(to))
    throw new AdminRefusal(`${to} exists and is not empty: a backup goes to a new (or empty) folder.`);
  if ((await exists(to)) && !(await stat(to)).isDirectory())
    throw new AdminRefusal(`${to} exists and is not a folder.`);
  if (isInside(to, dataDir)) throw new AdminRefusal(`${to} is inside the data directory ${dataDir}.`);

  const partial = join(dirname(to), `.${basename(to)}.partial-${randomUUID()}`);
  const holdTtlMs = options.holdTtlMs ?? 120_000;
  const holder = `backup:${randomUUID()}`;
  let t = performance.now();
  const source = backend.openSource(dbPath);
  let renewal: NodeJS.Timeout | undefined;
  let renewalError: unknown;
  try {
    await source.hold(holder, Date.now() + holdTtlMs);
    renewal = setInterval(() => {
      source.hold(holder, Date.now() + holdTtlMs).catch((err: unknown) => (renewalError ??= err));
    }, options.holdRenewMs ?? 30_000);
    step("hold", `blob deletions held (${holder}, ${Math.round(holdTtlMs / 1000)} s, renewed while copying)`, t);

    await mkdir(join(partial, BLOB_FILES_DIR), PRIVATE_DIR);
    t = performance.now();
    const copied = await source.copyTo(join(partial, METADATA_FILE));
    await chmod(join(partial, METADATA_FILE), PRIVATE_FILE_MODE);
    const contents = backend.readCopy(join(partial, METADATA_FILE));
    const metadata = await describe(partial, METADATA_FILE);
    step(
      "metadata",
      `metadata.db: online copy of ${mb(copied.bytes)} (schema ${contents.schemaVersion}: ${contents.iModels} iModels, ${contents.changesets.length} changesets, ${contents.checkpoints.length} checkpoints)`,
      t,
    );

    t = performance.now();
    const files = await copyTree(join(dataDir, BLOB_FILES_DIR), join(partial, BLOB_FILES_DIR), BLOB_FILES_DIR);
    const blobBytes = files.reduce((sum, f) => sum + f.bytes, 0);
    step("blobs", `blobs: ${files.length} files, ${mb(blobBytes)} copied`, t);

    t = performance.now();
    const secretKey = (await exists(join(dataDir, SECRET_FILE)))
      ? await copyFileHashed(join(dataDir, SECRET_FILE), join(partial, SECRET_FILE), SECRET_FILE)
      : null;
    step(
      "secret",
      secretKey
        ? "secret.key copied (signed links stay valid after a restore)"
        : "no secret.key (a restored hub makes a new one)",
      t,
    );

    t = performance.now();
    if (renewalError) throw new Error(`The blob deletion hold could not be renewed: ${String(renewalError)}`);
    const missing = missingReferences(contents, files);
    if (missing.length > 0) {
      throw new Error(
        `The copy lacks ${missing.length} file(s) its metadata refers to, e.g. ${missing.slice(0, 3).join(", ")}.`,
      );
    }
    step(
      "verify",
      `every file the metadata refers to is in the copy (${contents.changesets.length + contents.checkpoints.length} files, sizes checked)`,
      t,
    );

    const manifest: BackupManifest = {
      format: "modelhub-backup",
      formatVersion: 1,
      createdAt: new Date().toISOString(),
      source: dataDir,
      schemaVersion: contents.schemaVersion,
      metadata,
      secretKey,
      blobs: { count: files.length, bytes: blobBytes, files },
      contents: {
        iModels: contents.iModels,
        changesets: contents.changesets.length,
        checkpoints: contents.checkpoints.length,
      },
    };
    await writeDurably(join(partial, MANIFEST_FILE), JSON.stringify(manifest, null, 1));
    // An empty target folder is replaced; a non-empty one was refused above.
    if (await exists(to)) await rmdir(to);
    await rename(partial, to);
    await syncDir(dirname(to));
    t = performance.now();
    clearInterval(renewal);
    renewal = undefined;
    await source.release(holder);
    step("release", "blob deletion hold released", t);
    return { to, manifest, steps, durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  } finally {
    if (renewal) clearInterval(renewal);
    // On failure the hold goes too (it would expire by itself anyway).
    await source.release(holder).catch(() => undefined);
    source.close();
  }
}
