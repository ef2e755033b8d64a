// `<data>/serve.json`: what the last `modelhub serve` on a data directory ran with (version, auth mode, URL). The
// admin commands that work on the data directory directly read it to warn about a mismatch: a token made for a hub
// that does not check tokens (`--auth open` or `oidc`) lets nobody in and protects nothing.
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface ServeRecord {
  version: string;
  authMode: "open" | "oidc" | "tokens";
  url: string;
  pid: number;
  startedAt: string;
}

export const SERVE_RECORD = "serve.json";

export async function writeServeRecord(dataDir: string, record: ServeRecord): Promise<void> {
  const path = join(dataDir, SERVE_RECORD);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

export async function readServeRecord(dataDir: string): Promise<ServeRecord | undefined> {
  const path = join(dataDir, SERVE_RECORD);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, "utf8")) as ServeRecord;
  } catch {
    return undefined;
  }
}

/** The warning `modelhub tokens create` prints for the data directory's hub, if any. */
export async function tokensModeWarning(dataDir: string): Promise<string | undefined> {
  const record = await readServeRecord(dataDir);
  if (!record)
    return `no hub has served ${dataDir} yet: start it with --auth tokens (modelhub serve --data ${dataDir} --auth tokens) for the token to be checked.`;
  if (record.authMode !== "tokens") {
    return `the hub serving ${dataDir} (last started ${record.startedAt}, ${record.url}) runs with --auth ${record.authMode}: it does not check hub tokens. Restart it with --auth tokens for this token to be the way in.`;
  }
  return undefined;
}
