// The backup folder's format, shared by `modelhub backup` (backup.ts) and `modelhub restore` (restore.ts): the
// manifest, its checks, which backend can be backed up, and the refusals and progress steps both commands report.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { BlobSpec, EmbeddedBackup, MetadataCopyContents, MetadataSpec } from "../adapters/registry.js";
import { BackendRefusal, embeddedBackup } from "../adapters/registry.js";
import { blobKeys } from "../domain/blob-keys.js";

/** A backup holds what the data directory holds (token hashes, the audit log, the link key): its user's alone. */
export const PRIVATE_DIR = { recursive: true, mode: 0o700 } as const;
export const PRIVATE_FILE_MODE = 0o600;

export const MANIFEST_FILE = "manifest.json";
export const METADATA_FILE = "metadata.db";
export const SECRET_FILE = "secret.key";
/** Only completed objects' folders: the store's `.tmp` and `.blocks` (partial writes) stay behind. */
export const BLOB_FILES_DIR = join("blobs", "files");

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
export function backendOf(backends: { metadata?: MetadataSpec; blobs?: BlobSpec }): EmbeddedBackup {
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

export async function readManifest(from: string): Promise<BackupManifest> {
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
export function isSafeEntry(entry: FileEntry | undefined): entry is FileEntry {
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
export function missingReferences(contents: MetadataCopyContents, files: readonly FileEntry[]): string[] {
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

/** Steps as they end: kept for the result and told to `onStep` (the CLI prints them as they come). */
export function stepRecorder(onStep: ((step: Step) => void) | undefined): {
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

export function mb(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
