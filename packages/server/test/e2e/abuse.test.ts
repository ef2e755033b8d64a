// The "Abuse" proof of issue "Reliability": a real `modelhub serve` process under slow bodies, many connections,
// giant lock requests, deep JSON, huge headers and a storm of allowed lock requests keeps answering /health within
// 100 ms at p99 (sampled all through each attack on fresh connections, net of the time the machine made the hub and
// the sampler wait for a CPU: see @modelhub/test-support health-sampler.ts), and what it keeps in memory returns near its baseline
// afterwards. Every attack is bounded in count and time and targets only 127.0.0.1.
// run-tests: alone (it measures /health latency and the hub's memory: other tests beside it would be measured too)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { assertHealthy, sampleHealthDuring } from "@modelhub/test-support/health-sampler.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * What the hub may keep after the attacks (measured after a full GC, like the baseline): 5–30 MB measured, SQLite page
 * caches (bounded: 2 × 16 + 4 × 2 + 1 MB) and malloc arenas. Right after the attacks RSS is 80–140 MB higher, but that is garbage V8 has not
 * collected yet (bodies, 300 × 64 KB header packets, the storm's answers): V8's memory reducer collects it about 30 s
 * later by itself, and a full GC at once. The unbounded behaviour this guards against kept ~470 MB.
 */
const MEMORY_BUDGET_MB = 50;

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
      res.on("end", () =>
        res.statusCode === 200
          ? resolve(performance.now() - started)
          : reject(new Error(`/health answered ${res.statusCode}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error("/health timed out")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Opens a connection and writes `text`; the socket is left to the caller (errors are ignored: the hub may cut it).
 * Resolves once connected, or with `answered`, once the hub's first bytes came back.
 */
function openWith(port: number, text: string | Buffer, answered = false): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(text);
      if (!answered) resolve(socket);
    });
    socket.on("error", () => (answered ? resolve(socket) : undefined));
    socket.on("data", () => (answered ? resolve(socket) : undefined));
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
  const lockBody = (ids: number, from = 0x100000, briefcase = briefcaseId) =>
    JSON.stringify({
      briefcaseId: briefcase,
      changesetId: "",
      lockedObjects: [
        { lockLevel: "exclusive", objectIds: Array.from({ length: ids }, (_, i) => `0x${(from + i).toString(16)}`) },
      ],
    });
  const releaseAll = async () => {
    for (;;) {
      const r = await fetch(`${hub.url}/imodels/${iModelId}/locks/release-chunk`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ briefcaseId, changesetId: "" }),
      });
      if (((await r.json()) as Json).isLastChunk) return;
    }
  };

  before(async () => {
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    // Short body deadlines so that slow clients are cut within the attack, not after the test.
    hub = await startHubProcess({
      logLevel: "warn",
      args: ["--upload-stall-timeout", "2"],
      onStdout: (text) => (log += text),
      inspect: true,
    });
    port = Number(new URL(hub.url).port);
    // One initialized iModel and a briefcase, for real lock requests.
    const size = (await stat(version0)).size;
    const created = (await (
      await fetch(`${hub.url}/imodels`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({
          iTwinId: "44444444-4444-4444-8444-444444444444",
          name: "abuse",
          baselineFile: { size },
        }),
      })
    ).json()) as Json;
    iModelId = created.iModel.id;
    const put = await fetch(created.iModel._links.upload.href, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob", "content-length": String(size) },
      body: Readable.toWeb(createReadStream(version0)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    assert.equal(put.status, 201);
    assert.equal(
      (await fetch(`${hub.url}/imodels/${iModelId}/baselinefile`, { method: "POST", headers: json, body: "{}" }))
        .status,
      200,
    );
    for (let state = ""; state !== "initialized";) {
      await new Promise((r) => setTimeout(r, 200));
      state = (
        ((await (await fetch(`${hub.url}/imodels/${iModelId}/baselinefile`, { headers: auth })).json()) as Json)
          .baselineFile as Json
      ).state;
      assert.notEqual(state, "initializationFailed");
    }
    briefcaseId = (
      (
        (await (
          await fetch(`${hub.url}/imodels/${iModelId}/briefcases`, { method: "POST", headers: json, body: "{}" })
        ).json()) as Json
      ).briefcase as Json
    ).briefcaseId;
    // Warm-up: one of each kind of request the attacks send, so the baseline includes what a working hub keeps.
    assert.equal(
      (await fetch(`${hub.url}/imodels/${iModelId}/locks`, { method: "PATCH", headers: json, body: lockBody(10_000) }))
        .status,
      200,
    );
    await releaseAll();
    await healthOnce(port);
    await hub.collectGarbage();
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
    const samples = await sampleHealthDuring({ port, pid: hub.pid }, async () => {
      const apiHead =
        "POST /imodels HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer mallory\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
      const uploadHead =
        "PUT /storage/modelhub/files/abuse/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n";
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

  it("many connections: 600 idle connections held for two seconds", async () => {
    const sockets: Socket[] = [];
    try {
      const samples = await sampleHealthDuring({ port, pid: hub.pid }, async () => {
        // Opened 50 at a time, each with one answered request (a keep-alive connection left idle, as browsers and
        // pools leave them). All 600 at once would measure a burst of 600 requests instead: ~300 ms of the hub's CPU
        // on this machine, which a probe queued behind them waits for (in the kernel's accept queue, first come first
        // served) however fast each answer is.
        for (let batch = 0; batch < 12; batch++) {
          const opened = await Promise.all(
            Array.from({ length: 50 }, () => openWith(port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", true)),
          );
          sockets.push(...opened);
        }
        assert.equal(sockets.length, 600);
        await new Promise((r) => setTimeout(r, 2000));
        // Still open: the hub holds idle keep-alive connections (its keep-alive timeout is longer than this).
        assert.equal(sockets.filter((s) => s.destroyed || s.readyState !== "open").length, 0);
      });
      const figures = assertHealthy(samples, "many connections");
      console.log(
        `many connections: /health net p99 ${figures.netP99.toFixed(0)} ms, max ${figures.netMax.toFixed(0)} ms over ${figures.samples} samples`,
      );
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it("giant lock requests: 20 MB declared, 2 MiB of tiny ids, and 10,000-id requests that are served", async () => {
    const statuses: number[] = [];
    const samples = await sampleHealthDuring(
      { port, pid: hub.pid },
      async () => {
        const head = (length: number) =>
          `PATCH /imodels/${iModelId}/locks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer mallory\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;
        for (let i = 0; i < 10; i++) statuses.push(await sendRaw(port, [head(20_000_000)]));
        // ~330,000 ids in just under 2 MiB: parsed, then refused by count before validation.
        const tiny = JSON.stringify({
          briefcaseId,
          changesetId: "",
          lockedObjects: [{ lockLevel: "shared", objectIds: Array.from({ length: 330_000 }, () => "0x1") }],
        });
        assert.ok(tiny.length < 2 * 1024 * 1024);
        for (let i = 0; i < 5; i++) statuses.push(await sendRaw(port, [head(tiny.length), tiny]));
        for (let i = 0; i < 3; i++) {
          const r = await fetch(`${hub.url}/imodels/${iModelId}/locks`, {
            method: "PATCH",
            headers: json,
            body: lockBody(10_000, 0x200000 + i * 10_000),
          });
          statuses.push(r.status);
          await r.arrayBuffer();
          // Released in between, as the benchmark does: see the last test below for a briefcase that keeps them.
          await releaseAll();
        }
      },
      20,
    );
    assert.deepEqual(statuses, [...Array(10).fill(413), ...Array(5).fill(422), 200, 200, 200]);
    assertHealthy(samples, "giant lock requests");
    await releaseAll();
  });

  it("deep JSON: 30 bodies of 100,000 nested arrays", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const statuses: number[] = [];
    const samples = await sampleHealthDuring({ port, pid: hub.pid }, async () => {
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
    const samples = await sampleHealthDuring({ port, pid: hub.pid }, async () => {
      const huge = `GET /imodels HTTP/1.1\r\nHost: 127.0.0.1\r\n${Array.from({ length: 60 }, (_, i) => `X-Pad-${i}: ${"a".repeat(1000)}\r\n`).join("")}\r\n`;
      const batch = Array.from({ length: 300 }, () => sendRaw(port, [huge]));
      statuses.push(...(await Promise.all(batch)));
    });
    // 431 for those that got an answer (the hub may close a connection before reading all that was sent).
    assert.ok(
      statuses.every((s) => s === 431 || s === 0) && statuses.filter((s) => s === 431).length > 250,
      JSON.stringify(statuses.slice(0, 20)),
    );
    assertHealthy(samples, "huge headers");
  });

  // Issue 18, finding 2: twenty 10,000-id requests of one user at once (each within the documented limits) stalled
  // /health for 2.8–12 s: every transaction ran as one chain of microtasks, and each answer (the briefcase's whole
  // lock set, 200,000 ids at the end) was read in one statement. Now: two per user at a time, the rest waiting in
  // line; statements, the lock decisions and the reading of the answer share the event loop in slices.
  it("lock storm: 20 requests of 10,000 ids each, at once, by one user on one briefcase", async () => {
    const storm = (
      (
        (await (
          await fetch(`${hub.url}/imodels/${iModelId}/briefcases`, { method: "POST", headers: json, body: "{}" })
        ).json()) as Json
      ).briefcase as Json
    ).briefcaseId as number;
    const bodies = Array.from({ length: 20 }, (_, i) => lockBody(10_000, 0x1000000 + i * 10_000, storm));
    const answers: { status: number; held: number }[] = [];
    let phases = "";
    let storm0 = 0;
    const started = performance.now();
    const samples = await sampleHealthDuring(
      { port, pid: hub.pid },
      async () => {
        const t0 = Date.now();
        answers.push(
          ...(await Promise.all(
            bodies.map(async (body) => {
              const r = await fetch(`${hub.url}/imodels/${iModelId}/locks`, { method: "PATCH", headers: json, body });
              const answer = (await r.json()) as Json;
              return {
                status: r.status,
                held:
                  r.status === 200
                    ? (answer.lock.lockedObjects as Json[]).reduce((n, o) => n + (o.objectIds as string[]).length, 0)
                    : 0,
              };
            }),
          )),
        );
        const t1 = Date.now();
        // Releasing the briefcase drops its 200,000 locks (in chunks, too).
        assert.equal(
          (await fetch(`${hub.url}/imodels/${iModelId}/briefcases/${storm}`, { method: "DELETE", headers: auth }))
            .status,
          204,
        );
        phases = `requests 0–${t1 - t0} ms, release ${t1 - t0}–${Date.now() - t0} ms`;
        storm0 = t0;
      },
      20,
    );
    const seconds = (performance.now() - started) / 1000;
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(20).fill(200),
    );
    // Every request was granted on top of the others: the last answer lists all 200,000.
    assert.equal(Math.max(...answers.map((a) => a.held)), 200_000);
    const slowest = [...samples].sort((a, b) => b.netMs - a.netMs).slice(0, 3);
    console.log(
      `lock storm: ${phases}; slowest /health samples, net (measured, hub on CPU) at: ${slowest.map((s) => `${s.netMs.toFixed(0)} (${s.ms.toFixed(0)}, ${s.hubCpuMs.toFixed(0)}) at ${s.at - storm0}`).join(", ")} ms`,
    );
    const figures = assertHealthy(samples, "lock storm");
    console.log(
      `lock storm: 20 × 10,000 ids in ${seconds.toFixed(1)} s; /health p50 ${figures.p50.toFixed(0)} ms, p99 ${figures.p99.toFixed(0)} ms (net of CPU waits: p99 ${figures.netP99.toFixed(0)} ms, max ${figures.netMax.toFixed(0)} ms) over ${figures.samples} samples`,
    );
  });

  it("memory returns near its baseline afterwards", async () => {
    const before = rssMb(hub.pid);
    await hub.collectGarbage();
    const rss = rssMb(hub.pid);
    console.log(
      `memory: baseline ${baselineRss.toFixed(0)} MB, after the attacks ${before.toFixed(0)} MB, after a full GC ${rss.toFixed(0)} MB`,
    );
    assert.ok(
      rss < baselineRss + MEMORY_BUDGET_MB,
      `RSS ${rss.toFixed(0)} MB after a full GC, baseline ${baselineRss.toFixed(0)} MB; after each attack: ${rssAfter.join(", ")}`,
    );
    assertHealthy(
      await sampleHealthDuring({ port, pid: hub.pid }, () => new Promise((r) => setTimeout(r, 300))),
      "after the attacks",
    );
  });

  // Last: it leaves the briefcase holding 30,000 locks. The store's lock statements once cost O(held × requested)
  // (json_each joined the wrong way round): these three requests took 35 ms, 5.9 s and 11.7 s, blocking the hub.
  it("lock requests stay bounded while the briefcase already holds many locks", async () => {
    let held = 0;
    const samples = await sampleHealthDuring({ port, pid: hub.pid }, async () => {
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${hub.url}/imodels/${iModelId}/locks`, {
          method: "PATCH",
          headers: json,
          body: lockBody(10_000, 0x400000 + i * 10_000),
        });
        assert.equal(r.status, 200);
        held = ((((await r.json()) as Json).lock as Json).lockedObjects as Json[]).find(
          (o) => o.lockLevel === "exclusive",
        )?.objectIds.length;
      }
    });
    // The last answer lists every lock taken, so all three requests were granted on top of each other.
    assert.equal(held, 30_000);
    assertHealthy(samples, "lock requests on top of held locks");
  });
});
