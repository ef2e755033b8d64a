// The command-line side of backup/restore: progress lines (or one JSON object) and exit codes.
import { parseBlobSpec, parseMetadataSpec } from "../adapters/store-specs.js";
import { ConfigError } from "../config-error.js";
import type { Step } from "./backup-manifest.js";
import { AdminRefusal } from "./backup-manifest.js";
import { backup } from "./backup.js";
import { restore } from "./restore.js";
import { fail as failWith, stdout } from "./terminal.js";

/** Exit codes: 0 done, 1 failed (nothing left behind), 2 refused (bad target or backup; nothing changed). */
function fail(command: string, err: unknown, json: boolean): never {
  const refused = err instanceof AdminRefusal || err instanceof ConfigError;
  const message = err instanceof Error ? err.message : String(err);
  failWith(
    command,
    json ? message : `${refused ? "refused" : "failed"}: ${message}`,
    refused ? 2 : 1,
    refused ? "Refused" : "Failed",
    json,
  );
}

const line = (command: string, json: boolean) => (s: Step) => {
  if (!json) stdout.line(`modelhub ${command}: ${s.message} (${s.ms} ms)`);
};

export async function runBackupCommand(options: {
  to: string;
  dataDir: string;
  metadata?: string;
  blobs?: string;
  json: boolean;
}): Promise<void> {
  try {
    const backends = {
      ...(options.metadata !== undefined ? { metadata: parseMetadataSpec(options.metadata) } : {}),
      ...(options.blobs !== undefined ? { blobs: parseBlobSpec(options.blobs) } : {}),
    };
    const result = await backup({
      dataDir: options.dataDir,
      to: options.to,
      onStep: line("backup", options.json),
      ...backends,
    });
    const { manifest } = result;
    if (options.json) {
      const { blobs, ...rest } = manifest;
      stdout.json({
        ok: true,
        to: result.to,
        durationMs: result.durationMs,
        steps: result.steps,
        manifest: { ...rest, blobs: { count: blobs.count, bytes: blobs.bytes } },
      });
    } else {
      stdout.line(
        `modelhub backup: done in ${(result.durationMs / 1000).toFixed(1)} s: ${manifest.contents.iModels} iModels, ${manifest.contents.changesets} changesets, ${manifest.blobs.count} files (${manifest.blobs.bytes} bytes) in ${result.to}`,
      );
    }
  } catch (err) {
    fail("backup", err, options.json);
  }
}

export async function runRestoreCommand(options: { from: string; dataDir: string; json: boolean }): Promise<void> {
  try {
    const result = await restore({
      from: options.from,
      dataDir: options.dataDir,
      onStep: line("restore", options.json),
    });
    const { manifest } = result;
    if (options.json) {
      const { blobs, ...rest } = manifest;
      stdout.json({
        ok: true,
        dataDir: result.dataDir,
        durationMs: result.durationMs,
        steps: result.steps,
        manifest: { ...rest, blobs: { count: blobs.count, bytes: blobs.bytes } },
      });
    } else {
      stdout.line(
        `modelhub restore: done in ${(result.durationMs / 1000).toFixed(1)} s: ${manifest.contents.iModels} iModels, ${manifest.contents.changesets} changesets, ${manifest.blobs.count} files in ${result.dataDir}; start it with: modelhub serve --data ${result.dataDir}`,
      );
    }
  } catch (err) {
    fail("restore", err, options.json);
  }
}
