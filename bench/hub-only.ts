// Hub-only figures against a `modelhub serve` process on loopback, each with its physical reference.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import autocannon from "autocannon";
import Database from "better-sqlite3";
import { send } from "../packages/backend-access/src/http-transport.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { median, percentile } from "./stats.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const AUTH = { authorization: "Bearer bench", accept: "application/vnd.bentley.itwin-platform.v2+json" };
const ITWIN = "88888888-8888-4888-8888-888888888888";

/** The hub with nothing running in the background: no id checks (synthetic files), no automatic checkpoints. */
const startHub = (dataDir: string) =>
  startHubProcess({
    dataDir,
    logLevel: "error",
    args: ["--no-verify-changeset-ids", "--checkpoint-every", "0", "--checkpoint-every-mb", "0"],
  });

export interface DownloadFigures {
  hubMBps: number;
  /** The reference's speed: a file read, or a bare node:http server. */
  referenceMBps: number;
  /** Median over the five back-to-back pairs of hub speed / reference speed. */
  pairedRatio: number;
}

/** Empties Linux's page cache (needs root); false where that is not possible. */
async function dropPageCache(): Promise<boolean> {
  try {
    await promisify(execFile)("sync");
    await writeFile("/proc/sys/vm/drop_caches", "1");
    return true;
  } catch {
    return false;
  }
}

export async function api(url: string, method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${url}/imodels${path}`, {
    method,
    headers: { ...AUTH, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as Json) : {};
}

export async function emptyIModel(url: string, name: string): Promise<string> {
  const id = (await api(url, "POST", "", { iTwinId: ITWIN, name })).iModel.id as string;
  for (;;) {
    if ((await api(url, "GET", `/${id}`)).iModel.state === "initialized") return id;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface HubOnlyFigures {
  pages: { changesets: number; p50: number; p99: number }[];
  getsPerSecond: number;
  download: {
    sizeMb: number;
    /** Both reads from the page cache. */ cached: DownloadFigures;
    /** Both reads from disk (page cache dropped before each; needs root). */ cold?: DownloadFigures;
    /** Against a bare node:http server sending the same cached file: what HTTP on this machine allows. */ bareNode: DownloadFigures;
  };
}

export async function benchHubOnly(sizes: number[], downloadMb: number): Promise<HubOnlyFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), "modelhub-bench-hub-"));
  try {
    // Synthetic history: rows written straight into the metadata database while the hub is stopped.
    let hub = await startHub(dataDir);
    const iModels: { id: string; count: number }[] = [];
    for (const count of sizes) iModels.push({ id: await emptyIModel(hub.url, `history ${count}`), count });
    await hub.stop();
    const db = new Database(join(dataDir, "metadata.db"));
    const insert = db.prepare(
      `INSERT INTO changesets (imodel_id, idx, id, parent_id, description, briefcase_id, containing_changes, file_size, creator_id, pushed_at, state, group_id, synchronization_info)
       VALUES (?, ?, ?, ?, ?, 2, 0, 1000, 'bench', '2026-01-01T00:00:00.000Z', 'fileUploaded', NULL, NULL)`,
    );
    const hex = (i: number) => (i === 0 ? "" : i.toString(16).padStart(40, "0"));
    for (const m of iModels) {
      db.transaction(() => {
        for (let i = 1; i <= m.count; i++) insert.run(m.id, i, hex(i), hex(i - 1), `changeset ${i}`);
      })();
    }
    db.close();
    hub = await startHub(dataDir);
    try {
      const pages: HubOnlyFigures["pages"] = [];
      for (const m of iModels) {
        const times: number[] = [];
        for (let r = 0; r < 60; r++) {
          const after = Math.floor(Math.random() * Math.max(1, m.count - 1000));
          const start = performance.now();
          const page = await api(hub.url, "GET", `/${m.id}/changesets?afterIndex=${after}&$top=1000`);
          times.push(performance.now() - start);
          if (page.changesets.length !== Math.min(1000, m.count - after)) throw new Error("short page");
        }
        pages.push({ changesets: m.count, p50: percentile(times.slice(10), 50), p99: percentile(times.slice(10), 99) });
      }

      // Small GETs from 20 connections for 8 s.
      const small = await autocannon({
        url: `${hub.url}/imodels/${iModels[0]!.id}/changesets/1`,
        connections: 20,
        duration: 8,
        headers: AUTH,
      });
      if (small.non2xx > 0) throw new Error(`${small.non2xx} small GETs failed`);

      // A large changeset file: download through the hub vs reading it from disk.
      const file = join(dataDir, "big.cs");
      const handle = await open(file, "w");
      for (let i = 0; i < downloadMb; i++) await handle.write(randomBytes(1024 * 1024));
      await handle.close();
      const size = (await stat(file)).size;
      const iModelId = iModels[0]!.id;
      const briefcaseId = (await api(hub.url, "POST", `/${iModelId}/briefcases`, {})).briefcase.briefcaseId as number;
      const id = "f".repeat(40);
      const created = await api(hub.url, "POST", `/${iModelId}/changesets`, {
        id,
        parentId: hex(iModels[0]!.count),
        briefcaseId,
        fileSize: size,
      });
      const put = await fetch(created.changeset._links.upload.href, {
        method: "PUT",
        headers: { "x-ms-blob-type": "BlockBlob", "content-length": String(size) },
        body: Readable.toWeb(createReadStream(file)) as ReadableStream,
        duplex: "half",
      } as RequestInit);
      if (put.status !== 201) throw new Error(`upload: ${put.status}`);
      await api(hub.url, "PATCH", `/${iModelId}/changesets/${id}`, { state: "fileUploaded", briefcaseId });
      const link = (await api(hub.url, "GET", `/${iModelId}/changesets/${id}`)).changeset._links.download
        .href as string;

      const drain = async (stream: AsyncIterable<Uint8Array>) => {
        let n = 0;
        for await (const chunk of stream) n += chunk.length;
        return n;
      };
      // Five pairs, reference then hub, each pair back to back: the hub's speed is compared with the reference's of
      // the same moment (this VM's disk speed varies twofold between minutes). With `fromDisk`, each read starts from
      // the disk (page cache dropped: root on Linux), as the target says "raw disk read".
      const timed = async (run: () => Promise<number>) => {
        const start = performance.now();
        if ((await run()) !== size) throw new Error("size mismatch");
        return performance.now() - start;
      };
      const mb = size / (1024 * 1024);
      const paired = async (reference: () => Promise<number>, fromDisk: boolean): Promise<DownloadFigures> => {
        const referenceRuns: number[] = [];
        const hubRuns: number[] = [];
        for (let i = 0; i < 5; i++) {
          if (fromDisk) await dropPageCache();
          referenceRuns.push(await timed(reference));
          if (fromDisk) await dropPageCache();
          // Received the way @modelhub/backend-access receives files (node:http), each chunk counted and dropped.
          hubRuns.push(await timed(async () => drain(await send(link))));
        }
        return {
          hubMBps: mb / (median(hubRuns) / 1000),
          referenceMBps: mb / (median(referenceRuns) / 1000),
          pairedRatio: median(referenceRuns.map((r, i) => r / hubRuns[i]!)),
        };
      };
      const fileRead = () => drain(createReadStream(file, { highWaterMark: 1024 * 1024 }));
      const cached = await paired(fileRead, false);
      const cold = (await dropPageCache()) ? await paired(fileRead, true) : undefined;
      // The platform's floor: the same file from a bare node:http server in a process of its own (as the hub is),
      // received by the same client.
      const bare = spawn(
        process.execPath,
        [
          "-e",
          `const fs = require("node:fs"); const size = fs.statSync(process.argv[1]).size;
           const server = require("node:http").createServer((req, res) => {
             res.writeHead(200, { "content-length": String(size) });
             fs.createReadStream(process.argv[1], { highWaterMark: 1 << 20 }).pipe(res);
           });
           server.listen(0, "127.0.0.1", () => console.log(server.address().port));`,
          file,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      let bareNode: DownloadFigures;
      try {
        const barePort = await new Promise<string>((resolve, reject) => {
          bare.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()));
          bare.once("exit", (code) => reject(new Error(`bare server exited with ${code}`)));
        });
        bareNode = await paired(async () => drain(await send(`http://127.0.0.1:${barePort}/`)), false);
      } finally {
        bare.kill();
      }
      return {
        pages,
        getsPerSecond: small.requests.average,
        download: { sizeMb: mb, cached, ...(cold ? { cold } : {}), bareNode },
      };
    } finally {
      await hub.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
