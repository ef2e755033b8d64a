// `modelhub backup` and `modelhub restore`: a consistent copy of a data directory while a hub serves it, and its
// restore into an empty directory. The backend's own steps come from the registry (embeddedBackup: the SQLite file's
// online copy and deletion hold); a hub on PostgreSQL or Azure Blob Storage is refused by name.
import { createHash, randomUUID } from "node:crypto";
import type { Dirent } from "node:fs";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobSpec, EmbeddedBackup, MetadataCopyContents, MetadataSpec } from "../adapters/registry.js";
import { BackendRefusal, embeddedBackup } from "../adapters/registry.js";
import { blobKeys } from "../domain/blob-keys.js";
import { exists } from "../util/fs.js";

/** A backup holds what the data directory holds (token hashes, the audit log, the link key): its user's alone. */
const PRIVATE_DIR = { recursive: true, mode: 0o700 } as const;
const PRIVATE_FILE_MODE = 0o600;

export const MANIFEST_FILE = "manifest.json";
const METADATA_FILE = "metadata.db";
const SECRET_FILE = "secret.key";
/** Only completed objects' folders: the store's `.tmp` and `.blocks` (partial writes) stay behind. */
const BLOB_FILES_DIR = join("blobs", "files");

export interface FileEntry {
  /** Path inside the backup, `/`-separated (e.g. `blobs/files/<iModelId>/changesets/<id>.cs`). */
  path: string;
  bytes: number;
  sha256: string;
}

/** `manifest.json` of a backup folder: what it holds, and a checksum of every file in it. */
export interface BackupManifest {
  format: "modelhub-backup";
  formatVersion: 1;
  createdAt: string;
  /** The data directory it was taken from. */
  source: string;
  schemaVersion: number;
  metadata: FileEntry;
  secretKey: FileEntry | null;
  blobs: { count: number; bytes: number; files: FileEntry[] };
  contents: { iModels: number; changesets: number; checkpoints: number };
}

/** One line of progress: `step` is stable (for --json readers), `message` is for people. */
export interface Step {
  step: string;
  message: string;
  ms: number;
}

/** The embedded backend's backup steps; a hub on another backend is refused by name (nothing was changed). */
function backendOf(backends: { metadata?: MetadataSpec; blobs?: BlobSpec }): EmbeddedBackup {
  try {
    return embeddedBackup({
      metadata: backends.metadata ?? { kind: "sqlite" },
      blobs: backends.blobs ?? { kind: "fs" },
    });
  } catch (err) {
    throw err instanceof BackendRefusal ? new AdminRefusal(err.message) : err;
  }
}

/** A refusal (bad target, bad backup, too new schema): nothing was changed. */
export class AdminRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdminRefusal";
  }
}

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

async function readManifest(from: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(join(from, MANIFEST_FILE), "utf8");
  } catch {
    throw new AdminRefusal(`${from} is not a modelhub backup (no readable ${MANIFEST_FILE}).`);
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text) as BackupManifest;
  } catch {
    throw new AdminRefusal(`${join(from, MANIFEST_FILE)} is not valid JSON.`);
  }
  if (manifest.format !== "modelhub-backup" || manifest.formatVersion !== 1) {
    throw new AdminRefusal(`${join(from, MANIFEST_FILE)} is not a modelhub backup manifest of a known format.`);
  }
  const entries = [
    manifest.metadata,
    ...(manifest.secretKey ? [manifest.secretKey] : []),
    ...(manifest.blobs?.files ?? []),
  ];
  for (const entry of entries) {
    if (!isSafeEntry(entry))
      throw new AdminRefusal(`${join(from, MANIFEST_FILE)} lists a file that is not valid: ${JSON.stringify(entry)}.`);
  }
  if (manifest.metadata.path !== METADATA_FILE || !Number.isInteger(manifest.schemaVersion))
    throw new AdminRefusal(`${join(from, MANIFEST_FILE)} is incomplete.`);
  return manifest;
}

/** A manifest entry names a file inside the backup: no absolute path, no `..`, a size and a sha256. */
function isSafeEntry(entry: FileEntry | undefined): entry is FileEntry {
  if (
    !entry ||
    typeof entry.path !== "string" ||
    !Number.isInteger(entry.bytes) ||
    !/^[0-9a-f]{64}$/.test(String(entry.sha256))
  )
    return false;
  const parts = entry.path.split("/");
  return parts.every((p) => p !== "" && p !== "." && p !== ".." && !p.includes("\\") && !p.includes("\0"));
}

/** Keys the metadata refers to that the copy lacks (or has with another size). */
function missingReferences(contents: MetadataCopyContents, files: readonly FileEntry[]): string[] {
  const sizes = new Map(files.map((f) => [f.path.slice("blobs/".length), f.bytes]));
  const missing: string[] = [];
  for (const c of contents.changesets) {
    const key = blobKeys.changeset(c.iModelId, c.id);
    if (sizes.get(key) !== c.fileSize) missing.push(key);
  }
  for (const c of contents.checkpoints) {
    if (sizes.get(c.blobKey) !== c.size) missing.push(c.blobKey);
  }
  return missing;
}

/**
 * Copies every file under `source` to `target`, sorted by path. A file that vanishes meanwhile is skipped: the
 * hold keeps every file the metadata snapshot refers to, so a vanished one is unreferenced (the verify step proves it).
 */
async function copyTree(source: string, target: string, prefix: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  let entries: Dirent[];
  try {
    entries = await readdir(source, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return out;
    throw err;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    const path = `${prefix.split(sep).join("/")}/${entry.name}`;
    if (entry.isDirectory()) {
      await mkdir(to, PRIVATE_DIR);
      out.push(...(await copyTree(from, to, path)));
    } else if (entry.isFile()) {
      try {
        out.push(await copyFileHashed(from, to, path));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
  }
  return out;
}

/** Streams a file to a new file (flushed to disk), hashing on the way; never a hard link (see README). */
async function copyFileHashed(from: string, to: string, path: string): Promise<FileEntry> {
  const hash = createHash("sha256");
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(
    createReadStream(from),
    tap,
    createWriteStream(to, { flags: "wx", flush: true, mode: PRIVATE_FILE_MODE }),
  );
  return { path, bytes, sha256: hash.digest("hex") };
}

/** Copies one file of a backup into the restore folder and checks its size and checksum against the manifest. */
async function copyChecked(from: string, target: string, entry: FileEntry): Promise<void> {
  const to = join(target, ...entry.path.split("/"));
  await mkdir(dirname(to), PRIVATE_DIR);
  let copied: FileEntry;
  try {
    copied = await copyFileHashed(join(from, ...entry.path.split("/")), to, entry.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new AdminRefusal(`The backup lacks ${entry.path}, listed in its manifest.`);
    throw err;
  }
  if (copied.bytes !== entry.bytes || copied.sha256 !== entry.sha256) {
    throw new AdminRefusal(
      `${entry.path} in the backup does not match its manifest (${copied.bytes} bytes, sha256 ${copied.sha256}; expected ${entry.bytes}, ${entry.sha256}).`,
    );
  }
}

async function describe(dir: string, path: string): Promise<FileEntry> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(join(dir, path)) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { path, bytes, sha256: hash.digest("hex") };
}

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, "wx", PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } catch {
    // Some filesystems cannot fsync a directory; the rename is still atomic.
  } finally {
    await handle.close();
  }
}

/** Steps as they end: kept for the result and told to `onStep` (the CLI prints them as they come). */
function stepRecorder(onStep: ((step: Step) => void) | undefined): {
  steps: Step[];
  step: (name: string, message: string, since: number) => void;
} {
  const steps: Step[] = [];
  const step = (name: string, message: string, since: number) => {
    const s = { step: name, message, ms: Math.round(performance.now() - since) };
    steps.push(s);
    onStep?.(s);
  };
  return { steps, step };
}

async function isNonEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length > 0;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    if (code === "ENOTDIR") return true;
    throw err;
  }
}

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}

function mb(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
