// The "Abuse" proof of issue "Reliability": a real `modelhub serve` process under slow bodies, many connections,
// giant lock requests, deep JSON and huge headers keeps answering /health within 100 ms (sampled all through each
// attack on fresh connections), and its memory returns near its baseline afterwards. Every attack is bounded in count
// and time and targets only 127.0.0.1.
// run-tests: alone (it measures /health latency and the hub's memory: other tests beside it would be measured too)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { makeVersion0 } from "../support/fixtures.js";
import type { HubProcess } from "../support/hub-process.js";
import { startHubProcess } from "../support/hub-process.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const HEALTH_BUDGET_MS = 100;
const HEALTH_BLIP_MS = 300;

/** Resident memory of a process, in MB. */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

/** One GET /health on a connection of its own (no pooling: a new connection must get through too); ms taken. */
function healthOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = httpRequest({ host: "127.0.0.1", port, path: "/health", agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`/health answered ${res.statusCode}`))));
    });
    req.on("timeout", () => req.destroy(new Error("/health timed out")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Samples /health every 25 ms while `attack` runs, from a process of its own (so the attack's own client work in
 * this process does not count against the hub); returns the latencies in ms (at least `min` samples).
 */
async function healthDuring(port: number, attack: () => Promise<void>, min = 10): Promise<number[]> {
  const script = `
    const http = require("node:http");
    const samples = [];
    let stop = false;
    process.stdin.on("data", () => (stop = true));
    const once = () => new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request({ host: "127.0.0.1", port: ${port}, path: "/health", agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error("status " + res.statusCode))));
      });
      req.on("timeout", () => req.destroy(new Error("/health timed out")));
      req.on("error", reject);
      req.end();
    });
    (async () => {
      try {
        while (!stop || samples.length < ${min}) {
          samples.push(await once());
          await new Promise((r) => setTimeout(r, 25));
        }
        process.stdout.write(JSON.stringify({ samples }));
      } catch (err) {
        process.stdout.write(JSON.stringify({ samples, error: String(err) }));
      }
      process.exit(0);
    })();`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Let the sampler start before the attack does.
  await new Promise((r) => setTimeout(r, 100));
  try {
    await attack();
  } finally {
    child.stdin.end("stop\n");
    await exited;
  }
  const result = JSON.parse(out) as { samples: number[]; error?: string };
  if (result.error) throw new Error(`${result.error} after ${result.samples.length} samples`);
  return result.samples;
}

/**
 * Every sample within HEALTH_BUDGET_MS, except a lone one (the next sample, 25 ms later, is fast again) under
 * HEALTH_BLIP_MS: this machine's two cores are shared by three processes here (hub, attacker, sampler) and other
 * work, so one late sample can be the scheduler's; a hub that stalls shows in consecutive samples.
 */
function assertHealthy(samples: number[], what: string): void {
  const slowest = [...samples].sort((a, b) => b - a).slice(0, 5).map((ms) => ms.toFixed(1));
  const detail = `${what}: ${samples.length} samples of /health, slowest ${slowest.join(", ")} ms`;
  assert.ok(Math.max(...samples) < HEALTH_BLIP_MS, detail);
  for (let i = 1; i < samples.length; i++) {
    assert.ok(samples[i - 1]! < HEALTH_BUDGET_MS || samples[i]! < HEALTH_BUDGET_MS, `${detail}: two in a row over ${HEALTH_BUDGET_MS} ms`);
  }
}

/** Opens a connection and writes `text`; the socket is left to the caller (errors are ignored: the hub may cut it). */
function openWith(port: number, text: string | Buffer): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(text);
      resolve(socket);
    });
    socket.on("error", () => undefined);
    socket.on("data", () => undefined);
  });
}

/** Sends a whole request on its own connection and resolves with the status (0 if closed without one). */
function sendRaw(port: number, chunks: readonly (string | Buffer)[]): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      for (const chunk of chunks) socket.write(chunk);
    });
    let head = "";
    socket.on("data", (d: Buffer) => {
      head += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(0));
  });
}

describe("abuse: a modelhub serve process under attack", () => {
  let hub: HubProcess;
  let port: number;
  let log = "";
  let iModelId: string;
  let briefcaseId: number;
  let baselineRss: number;
  const auth = { authorization: "Bearer mallory", accept: "application/vnd.bentley.itwin-platform.v2+json" };
  const json = { ...auth, "content-type": "application/json" };
  const lockBody = (ids: number, from = 0x100000) =>
    JSON.stringify({ briefcaseId, changesetId: "", lockedObjects: [{ lockLevel: "exclusive", objectIds: Array.from({ length: ids }, (_, i) => `0x${(from + i).toString(16)}`) }] });
  const releaseAll = async () => {
    for (;;) {
      const r = await fetch(`${hub.url}/imodels/${iModelId}/locks/release-chunk`, { method: "POST", headers: json, body: JSON.stringify({ briefcaseId, changesetId: "" }) });
      if (((await r.json()) as Json).isLastChunk) return;
    }
  };

  before(async () => {
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    // Short body deadlines so that slow clients are cut within the attack, not after the test.
    hub = await startHubProcess({ logLevel: "warn", args: ["--upload-stall-timeout", "2"], onStdout: (text) => (log += text) });
    port = Number(new URL(hub.url).port);
    // One initialized iModel and a briefcase, for real lock requests.
    const size = (await stat(version0)).size;
    const created = (await (await fetch(`${hub.url}/imodels`, { method: "POST", headers: json, body: JSON.stringify({ iTwinId: "44444444-4444-4444-8444-444444444444", name: "abuse", baselineFile: { size } }) })).json()) as Json;
    iModelId = created.iModel.id;
    const put = await fetch(created.iModel._links.upload.href, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob", "content-length": String(size) },
      body: Readable.toWeb(createReadStream(version0)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    assert.equal(put.status, 201);
    assert.equal((await fetch(`${hub.url}/imodels/${iModelId}/baselinefile`, { method: "POST", headers: json, body: "{}" })).status, 200);
    for (let state = ""; state !== "initialized"; ) {
      await new Promise((r) => setTimeout(r, 200));
      state = (((await (await fetch(`${hub.url}/imodels/${iModelId}/baselinefile`, { headers: auth })).json()) as Json).baselineFile as Json).state;
      assert.notEqual(state, "initializationFailed");
    }
    briefcaseId = (((await (await fetch(`${hub.url}/imodels/${iModelId}/briefcases`, { method: "POST", headers: json, body: "{}" })).json()) as Json).briefcase as Json).briefcaseId;
    // Warm-up: one of each kind of request the attacks send, so the baseline includes what a working hub keeps.
    assert.equal((await fetch(`${hub.url}/imodels/${iModelId}/locks`, { method: "PATCH", headers: json, body: lockBody(10_000) })).status, 200);
    await releaseAll();
    await healthOnce(port);
    baselineRss = rssMb(hub.pid);
  });
  after(() => hub?.stop());
  // RSS after each attack, for the memory test's message.
  const rssAfter: string[] = [];
  afterEach((t) => {
    rssAfter.push(`${t.name.split(":")[0]} ${rssMb(hub.pid).toFixed(0)}`);
  });

  it("slow bodies: 150 API bodies and 50 uploads that trickle, then go away", async () => {
    const sockets: Socket[] = [];
    const samples = await healthDuring(port, async () => {
      const apiHead = "POST /imodels HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer mallory\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
      const uploadHead = "PUT /storage/modelhub/files/abuse/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n";
      for (let i = 0; i < 150; i++) sockets.push(await openWith(port, apiHead));
      for (let i = 0; i < 50; i++) sockets.push(await openWith(port, uploadHead + "x".repeat(1000)));
      for (let round = 0; round < 10; round++) {
        for (const s of sockets) if (!s.destroyed) s.write(" ");
        await new Promise((r) => setTimeout(r, 100));
      }
      // The clients go away mid-body.
      for (const s of sockets) s.destroy();
      await new Promise((r) => setTimeout(r, 300));
    });
    assertHealthy(samples, "slow bodies");
    // A client that went away is a warning, never an "unexpected error" (level 50) answered to nobody.
    assert.match(log, /client went away before its request body ended/);
    assert.doesNotMatch(log, /"level":50/);
  });

  it("many connections: 600 idle connections held for a second", async () => {
    const sockets: Socket[] = [];
    try {
      const samples = await healthDuring(port, async () => {
        for (let i = 0; i < 600; i++) sockets.push(await openWith(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        await new Promise((r) => setTimeout(r, 1000));
      });
      assertHealthy(samples, "many connections");
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it("giant lock requests: 20 MB declared, 2 MiB of tiny ids, and 10,000-id requests that are served", async () => {
    const statuses: number[] = [];
    const samples = await healthDuring(port, async () => {
      const head = (length: number) =>
        `PATCH /imodels/${iModelId}/locks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer mallory\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;
      for (let i = 0; i < 10; i++) statuses.push(await sendRaw(port, [head(20_000_000)]));
      // ~330,000 ids in just under 2 MiB: parsed, then refused by count before validation.
      const tiny = JSON.stringify({ briefcaseId, changesetId: "", lockedObjects: [{ lockLevel: "shared", objectIds: Array.from({ length: 330_000 }, () => "0x1") }] });
      assert.ok(tiny.length < 2 * 1024 * 1024);
      for (let i = 0; i < 5; i++) statuses.push(await sendRaw(port, [head(tiny.length), tiny]));
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${hub.url}/imodels/${iModelId}/locks`, { method: "PATCH", headers: json, body: lockBody(10_000, 0x200000 + i * 10_000) });
        statuses.push(r.status);
        await r.arrayBuffer();
        // Released in between, as the benchmark does: see the last test below for a briefcase that keeps them.
        await releaseAll();
      }
    }, 20);
    assert.deepEqual(statuses, [...Array(10).fill(413), ...Array(5).fill(422), 200, 200, 200]);
    assertHealthy(samples, "giant lock requests");
    await releaseAll();
  });

  it("deep JSON: 30 bodies of 100,000 nested arrays", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const statuses: number[] = [];
    const samples = await healthDuring(port, async () => {
      for (let i = 0; i < 30; i++) {
        const r = await fetch(`${hub.url}/imodels/${iModelId}/locks`, { method: "PATCH", headers: json, body: deep });
        statuses.push(r.status);
        await r.arrayBuffer();
      }
    });
    assert.deepEqual(new Set(statuses), new Set([422]));
    assertHealthy(samples, "deep JSON");
  });

  it("huge headers: 300 requests with 60 KB of headers", async () => {
    const statuses: number[] = [];
    const samples = await healthDuring(port, async () => {
      const huge = `GET /imodels HTTP/1.1\r\nHost: 127.0.0.1\r\n${Array.from({ length: 60 }, (_, i) => `X-Pad-${i}: ${"a".repeat(1000)}\r\n`).join("")}\r\n`;
      const batch = Array.from({ length: 300 }, () => sendRaw(port, [huge]));
      statuses.push(...(await Promise.all(batch)));
    });
    // 431 for those that got an answer (the hub may close a connection before reading all that was sent).
    assert.ok(statuses.every((s) => s === 431 || s === 0) && statuses.filter((s) => s === 431).length > 250, JSON.stringify(statuses.slice(0, 20)));
    assertHealthy(samples, "huge headers");
  });

  it("memory returns near its baseline afterwards", async () => {
    // V8 keeps part of a grown heap, and freed pages return to the OS lazily. The unbounded behaviour this guards
    // against grew by ~470 MB. Measured growth: 18–21 MB while the SQLite statements of a lock request ran without an
    // await between them, 35–75 MB since every metadata query is awaited (one query layer for SQLite and PostgreSQL:
    // concurrent giant lock requests now interleave, holding more at once); 100 MB tells the two apart.
    let rss = rssMb(hub.pid);
    for (let i = 0; i < 20 && rss > baselineRss + 100; i++) {
      await new Promise((r) => setTimeout(r, 250));
      rss = rssMb(hub.pid);
    }
    assert.ok(rss < baselineRss + 100, `RSS ${rss.toFixed(0)} MB, baseline ${baselineRss.toFixed(0)} MB; after each attack: ${rssAfter.join(", ")}`);
    assert.ok((await healthOnce(port)) < HEALTH_BUDGET_MS);
  });

  // Last: it leaves the briefcase holding 30,000 locks. The store's lock statements once cost O(held × requested)
  // (json_each joined the wrong way round): these three requests took 35 ms, 5.9 s and 11.7 s, blocking the hub.
  it("lock requests stay bounded while the briefcase already holds many locks", async () => {
    let held = 0;
    const samples = await healthDuring(port, async () => {
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${hub.url}/imodels/${iModelId}/locks`, { method: "PATCH", headers: json, body: lockBody(10_000, 0x400000 + i * 10_000) });
        assert.equal(r.status, 200);
        held = ((((await r.json()) as Json).lock as Json).lockedObjects as Json[]).find((o) => o.lockLevel === "exclusive")?.objectIds.length;
      }
    });
    // The last answer lists every lock taken, so all three requests were granted on top of each other.
    assert.equal(held, 30_000);
    assertHealthy(samples, "lock requests on top of held locks");
  });
});
