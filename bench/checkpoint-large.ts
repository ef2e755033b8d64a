// A named version's checkpoint on a large iModel (issue 23: `successful` ≤ 30 s for 1 GB with ≤ 100 changesets since
// the last checkpoint), `npm run bench -- checkpoint-large`. A `modelhub serve` process (embedded storage, automatic
// checkpoints off so that the baseline is the last checkpoint) gets a 1 GB iModel and 100 changesets made by
// iTwin.js; a named version at the tip is then timed from its POST until its checkpoint is `successful`. Reference,
// in the same run: copying the 1 GB file once on this disk (fs.copyFile), which any checkpoint of it has to do.
// The iModel and its changesets are made once (bench/make-large-imodel.ts, a few minutes) and cached under
// os.tmpdir()/modelhub-fixtures, keyed by LARGE_VERSION, the size and iTwin.js's version.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { acquireBriefcase, pushChangeset, putFile } from "@modelhub/test-support/flows.js";
import { hubAt } from "@modelhub/test-support/hub.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const run = promisify(execFile);
/** Bump when make-large-imodel.ts changes what it makes. */
const LARGE_VERSION = 1;
const MEGABYTES = 1024;
const CHANGESETS = 100;
const ITWIN = "3b2a1908-f7e6-4d5c-8b4a-3f2e1d0c9b8a";
const USER = "bench";
const ITWIN_JS = (
  JSON.parse(readFileSync(createRequire(import.meta.url).resolve("@itwin/core-backend/package.json"), "utf8")) as {
    version: string;
  }
).version;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface LargeCheckpointFigures {
  fileBytes: number;
  changesets: number;
  /** From the named version's POST to its checkpoint's `successful`. */
  checkpointMs: number;
  /** fs.copyFile of the iModel file on this disk. */
  copyMs: number;
}

interface Manifest {
  changesets: { id: string; parentId: string; index: number; changesType: number; description: string; file: string }[];
}

/** The cached iModel and changesets, made first if missing (older versions of the cache are removed). */
async function ensureLarge(log: (line: string) => void): Promise<{ dir: string; manifest: Manifest }> {
  const cache = join(tmpdir(), "modelhub-fixtures");
  const key = `large-v${LARGE_VERSION}-itwin${ITWIN_JS}-${MEGABYTES}mb-cs${CHANGESETS}`;
  const dir = join(cache, key);
  const manifestPath = join(dir, "manifest.json");
  const cached = await readFile(manifestPath, "utf8").catch(() => undefined);
  if (cached) return { dir, manifest: JSON.parse(cached) as Manifest };
  await mkdir(cache, { recursive: true });
  // A gigabyte each: keep only the current one (and any being made right now).
  for (const name of await readdir(cache))
    if (name.startsWith("large-") && !name.endsWith(".tmp"))
      await rm(join(cache, name), { recursive: true, force: true });
  const temp = `${dir}.${process.pid}.tmp`;
  const start = Date.now();
  log(`  making the ${MEGABYTES} MB iModel and ${CHANGESETS} changesets with iTwin.js (once; cached in ${dir})`);
  try {
    await run(
      process.execPath,
      ["--import", "tsx", "bench/make-large-imodel.ts", temp, String(MEGABYTES), String(CHANGESETS)],
      { maxBuffer: 1 << 24 },
    );
    await rename(temp, dir);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  log(`  made in ${((Date.now() - start) / 1000).toFixed(0)} s`);
  return { dir, manifest: JSON.parse(await readFile(manifestPath, "utf8")) as Manifest };
}

export async function benchLargeCheckpoint(log: (line: string) => void): Promise<LargeCheckpointFigures> {
  const { dir, manifest } = await ensureLarge(log);
  const version0 = join(dir, "version0.bim");
  const fileBytes = (await stat(version0)).size;
  const work = await mkdtemp(join(tmpdir(), "modelhub-bench-cp-large-"));
  const node = await startHubProcess({
    logLevel: "error",
    args: ["--checkpoint-every", "0", "--checkpoint-every-mb", "0"],
  });
  const hub = hubAt(node.url);
  try {
    let t = Date.now();
    const created = await hub.api<Json>("POST", "", {
      user: USER,
      body: { iTwinId: ITWIN, name: "large", baselineFile: { size: fileBytes } },
    });
    if (created.status !== 201) throw new Error(`create failed: ${created.status} ${created.text}`);
    const iModelId = created.body.iModel.id as string;
    const upload = await putFile(created.body.iModel._links.upload.href, version0);
    if (upload.status !== 201) throw new Error(`upload failed: ${upload.status}`);
    const completed = await hub.api<Json>("POST", `/${iModelId}/baselinefile`, { user: USER, body: {} });
    if (completed.status !== 200) throw new Error(`complete failed: ${completed.status} ${completed.text}`);
    for (let state = ""; state !== "initialized"; await sleep(200)) {
      state = (await hub.api<Json>("GET", `/${iModelId}/baselinefile`, { user: USER })).body.baselineFile.state;
      if (state === "initializationFailed") throw new Error("the baseline's initialization failed");
      if (Date.now() - t > 900_000) throw new Error("the baseline was not initialized within 15 minutes");
    }
    log(
      `  ${(fileBytes / 1e9).toFixed(2)} GB baseline uploaded and initialized in ${((Date.now() - t) / 1000).toFixed(1)} s`,
    );
    t = Date.now();
    const briefcaseId = await acquireBriefcase(hub, iModelId, USER);
    for (const cs of manifest.changesets)
      await pushChangeset(hub, iModelId, briefcaseId, { ...cs, pathname: join(dir, "changesets", cs.file) }, USER);
    log(`  pushed ${manifest.changesets.length} changesets in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // The reference: one copy of the file on this disk.
    const copyStart = performance.now();
    await copyFile(version0, join(work, "copy.bim"));
    const copyMs = performance.now() - copyStart;
    await rm(join(work, "copy.bim"));

    const tip = manifest.changesets.length;
    const start = performance.now();
    const version = await hub.api<Json>("POST", `/${iModelId}/namedversions`, {
      user: USER,
      body: { name: "tip", changesetIndex: tip },
    });
    if (version.status !== 201) throw new Error(`named version: ${version.status} ${version.text}`);
    const path = `/${iModelId}/namedversions/${version.body.namedVersion.id}/checkpoint`;
    for (;;) {
      const r = await hub.api<Json>("GET", path, { user: USER });
      const state = r.body.checkpoint?.state as string | undefined;
      if (state === "successful") break;
      if (state === "failed") throw new Error(`checkpoint failed: ${r.body.checkpoint.failureReason}`);
      if (performance.now() - start > 900_000) throw new Error(`no checkpoint after 15 minutes (${r.text})`);
      await sleep(50);
    }
    const checkpointMs = performance.now() - start;
    log(
      `  checkpoint successful after ${(checkpointMs / 1000).toFixed(1)} s; copying the file: ${(copyMs / 1000).toFixed(1)} s`,
    );
    return { fileBytes, changesets: tip, checkpointMs, copyMs };
  } finally {
    await node.stop();
    await rm(work, { recursive: true, force: true });
  }
}
