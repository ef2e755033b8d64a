// `modelhub restore`: a backup (backup.ts) into a new or empty data directory, every file checked against the manifest.
import { randomUUID } from "node:crypto";
import { mkdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { exists } from "../util/fs.js";
import { copyChecked, isNonEmptyDir, syncDir } from "./backup-files.js";
import type { BackupManifest, Step } from "./backup-manifest.js";
import {
  AdminRefusal,
  backendOf,
  mb,
  METADATA_FILE,
  missingReferences,
  PRIVATE_DIR,
  readManifest,
  stepRecorder,
} from "./backup-manifest.js";

export interface RestoreOptions {
  from: string;
  dataDir: string;
  onStep?: (step: Step) => void;
}

export interface RestoreResult {
  dataDir: string;
  manifest: BackupManifest;
  steps: Step[];
  durationMs: number;
}

/**
 * Restores a backup into a new (or empty) data directory: refuses anything else, a backup of a newer schema than
 * this build knows, and a backup whose files do not match its manifest (each file's size and sha256 are checked
 * while it is copied). Writes into a temp folder beside the target and renames it at the end.
 */
export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const { steps, step } = stepRecorder(options.onStep);
  const from = resolve(options.from);
  const dataDir = resolve(options.dataDir);
  let t = performance.now();
  const backend = backendOf({});
  const manifest = await readManifest(from);
  if (manifest.schemaVersion > backend.newestSchemaVersion()) {
    throw new AdminRefusal(
      `The backup's metadata is at schema version ${manifest.schemaVersion}; this modelhub knows versions up to ${backend.newestSchemaVersion()}. Restore it with a newer modelhub.`,
    );
  }
  if (await isNonEmptyDir(dataDir))
    throw new AdminRefusal(`${dataDir} exists and is not empty: restore goes to a new (or empty) folder.`);
  if ((await exists(dataDir)) && !(await stat(dataDir)).isDirectory())
    throw new AdminRefusal(`${dataDir} exists and is not a folder.`);
  step(
    "manifest",
    `backup of ${manifest.createdAt}: schema ${manifest.schemaVersion}, ${manifest.contents.iModels} iModels, ${manifest.contents.changesets} changesets, ${manifest.blobs.count} files (${mb(manifest.blobs.bytes)})`,
    t,
  );

  const partial = join(dirname(dataDir), `.${basename(dataDir)}.restoring-${randomUUID()}`);
  try {
    t = performance.now();
    await mkdir(partial, PRIVATE_DIR);
    await copyChecked(from, partial, manifest.metadata);
    const contents = backend.readCopy(join(partial, METADATA_FILE));
    if (contents.schemaVersion !== manifest.schemaVersion) {
      throw new AdminRefusal(
        `metadata.db is at schema version ${contents.schemaVersion}, the manifest says ${manifest.schemaVersion}.`,
      );
    }
    step("metadata", `metadata.db restored (${mb(manifest.metadata.bytes)}, checksum verified)`, t);

    t = performance.now();
    for (const file of manifest.blobs.files) await copyChecked(from, partial, file);
    step("blobs", `blobs: ${manifest.blobs.count} files, ${mb(manifest.blobs.bytes)} restored (checksums verified)`, t);
    if (manifest.secretKey) await copyChecked(from, partial, manifest.secretKey);

    t = performance.now();
    const missing = missingReferences(contents, manifest.blobs.files);
    if (missing.length > 0)
      throw new AdminRefusal(
        `The backup lacks ${missing.length} file(s) its metadata refers to, e.g. ${missing.slice(0, 3).join(", ")}.`,
      );
    step(
      "verify",
      `every file the metadata refers to is there (${contents.changesets.length + contents.checkpoints.length} files)`,
      t,
    );

    if (await exists(dataDir)) await rmdir(dataDir);
    await rename(partial, dataDir);
    await syncDir(dirname(dataDir));
    return { dataDir, manifest, steps, durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
}
