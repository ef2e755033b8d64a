// Operating the hub: /ready, /metrics and request ids, over real HTTP against a real hub (and a real
// `modelhub serve` process for log lines), with real iTwin.js files and a real worker process.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { makeConfig } from "../../src/config.js";
import { startServer } from "../../src/main.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `name{labels} value` lines of a Prometheus text answer, as "name{labels}" → value. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function metrics(hub: TestHub): Promise<Map<string, number>> {
  const response = await fetch(`${hub.url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await response.text());
}

describe("operability: /ready, /metrics, request ids", () => {
  let hub: TestHub;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 2);
    hub = await startTestHub();
  });
  after(() => hub.close());

  it("/ready answers 200 with every check once the worker is up, without authorization", async () => {
    const body = await eventually(
      async () => {
        const r = await fetch(`${hub.url}/ready`);
        return r.status === 200 ? ((await r.json()) as Json) : undefined;
      },
      60_000,
      "/ready 200",
    );
    assert.equal(body.status, "ready");
    assert.deepEqual(Object.keys(body.checks).sort(), ["blobs", "metadata", "worker"]);
    for (const name of ["blobs", "metadata", "worker"]) assert.equal(body.checks[name].status, "ok", name);
    assert.equal(body.checks.worker.pid, hub.server.worker.pid);
    assert.ok(["idle", "busy"].includes(body.checks.worker.state));
  });

  it("counts pushes, stored and downloaded bytes, jobs and requests per route pattern, never per raw URL", async () => {
    const iModel = await createIModelFromFile(hub, fixture.version0Path, { name: "metrics" });
    const briefcaseId = await acquireBriefcase(hub, iModel.id);
    for (const cs of fixture.changesets) await pushChangeset(hub, iModel.id, briefcaseId, cs);
    const cs = (await hub.api<Json>("GET", `/${iModel.id}/changesets/1`)).body.changeset;
    const download = await fetch(cs._links.download.href);
    assert.equal(download.status, 200);
    const downloaded = (await download.arrayBuffer()).byteLength;
    assert.equal(downloaded, fixture.changesets[0]!.size);

    const m = await eventually(
      async () => {
        const now = await metrics(hub);
        // The download's onResponse hook runs once the body was written; the scrape may come a moment earlier.
        return (now.get('modelhub_storage_bytes_total{direction="download"}') ?? 0) >= downloaded ? now : undefined;
      },
      5000,
      "download counted",
    );
    assert.equal(m.get("modelhub_pushes_completed_total"), fixture.changesets.length);
    const uploaded = (await stat(fixture.version0Path)).size + fixture.changesets.reduce((sum, c) => sum + c.size, 0);
    assert.equal(m.get('modelhub_storage_bytes_total{direction="upload"}'), uploaded);
    assert.equal(m.get('modelhub_storage_bytes_total{direction="download"}'), downloaded);
    assert.equal(m.get('modelhub_jobs{kind="baseline.initialize",state="succeeded"}'), 1);
    assert.equal(
      m.get(
        'modelhub_http_requests_total{method="PATCH",route="/imodels/:id/changesets/:changesetId",status_class="2xx"}',
      ),
      fixture.changesets.length,
    );
    assert.equal(
      m.get(
        'modelhub_http_requests_total{method="GET",route="/imodels/:id/changesets/:changesetId",status_class="2xx"}',
      ),
      1,
    );
    assert.ok(
      (m.get(
        'modelhub_http_request_duration_seconds_count{method="PUT",route="/storage/modelhub/*",status_class="2xx"}',
      ) ?? 0) >= 3,
    );
    assert.ok((m.get("process_resident_memory_bytes") ?? 0) > 0);
    assert.ok(m.has("nodejs_eventloop_lag_seconds"));
    assert.equal(m.get("modelhub_worker_restarts_total"), 0);
    for (const key of m.keys()) {
      assert.ok(!key.includes(iModel.id) && !key.includes(cs.id), `no raw ids in labels: ${key}`);
    }
  });

  it("/ready names the worker while it is down and recovers when a new worker is up; the restart is counted", async () => {
    await eventually(
      async () => ((await fetch(`${hub.url}/ready`)).status === 200 ? true : undefined),
      60_000,
      "/ready 200",
    );
    const pid = hub.server.worker.pid!;
    process.kill(pid, "SIGKILL");
    const down = await eventually(
      async () => {
        const r = await fetch(`${hub.url}/ready`);
        return r.status === 503 ? ((await r.json()) as Json) : undefined;
      },
      10_000,
      "/ready 503",
    );
    assert.equal(down.status, "unavailable");
    assert.deepEqual(down.failing, ["worker"]);
    assert.equal(down.checks.worker.status, "failed");
    assert.ok(["starting", "unresponsive"].includes(down.checks.worker.state), down.checks.worker.state);
    assert.equal(down.checks.metadata.status, "ok");

    const up = await eventually(
      async () => {
        const r = await fetch(`${hub.url}/ready`);
        return r.status === 200 ? ((await r.json()) as Json) : undefined;
      },
      60_000,
      "/ready 200 again",
    );
    assert.notEqual(up.checks.worker.pid, pid);
    assert.equal(hub.server.worker.restarts, 1);
    assert.equal((await metrics(hub)).get("modelhub_worker_restarts_total"), 1);
  });

  it("every answer carries x-request-id: the caller's when it is a short safe token, else a fresh UUID", async () => {
    const health = await fetch(`${hub.url}/health`);
    assert.match(health.headers.get("x-request-id") ?? "", UUID);
    const ready = await fetch(`${hub.url}/ready`, { headers: { "x-request-id": "lb-probe.42" } });
    assert.equal(ready.headers.get("x-request-id"), "lb-probe.42");
    const api = await hub.api("GET", "?iTwinId=x", { headers: { "x-correlation-id": "corr:7" } });
    assert.equal(api.status, 200);
    assert.equal(api.headers.get("x-request-id"), "corr:7");
    for (const unsafe of ["has space", "x".repeat(65), "<script>", "-leading-dash"]) {
      const r = await hub.api("GET", "?iTwinId=x", { headers: { "x-request-id": unsafe } });
      assert.match(r.headers.get("x-request-id") ?? "", UUID, unsafe);
    }
    const unrouted = await fetch(`${hub.url}/nowhere`);
    assert.equal(unrouted.status, 404);
    assert.match(unrouted.headers.get("x-request-id") ?? "", UUID);
  });

  it("4xx bodies stay exactly as before; storage XML errors carry <RequestId>", async () => {
    const missing = await hub.api<Json>("GET", "/00000000-0000-4000-8000-000000000000", {
      headers: { "x-request-id": "req-404" },
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-request-id"), "req-404");
    assert.deepEqual(missing.body, {
      error: { code: "iModelNotFound", message: "Requested iModel is not available." },
    });
    const unauthorized = await hub.api<Json>("GET", "?iTwinId=x", { user: null });
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.body.error.requestId, undefined);

    const storage = await fetch(`${hub.url}/storage/modelhub/files/x/y.cs`, {
      headers: { "x-request-id": "req-storage" },
    });
    assert.equal(storage.status, 403);
    assert.equal(storage.headers.get("x-request-id"), "req-storage");
    const xml = await storage.text();
    assert.match(
      xml,
      /^<\?xml version="1\.0" encoding="utf-8"\?><Error><Code>AuthenticationFailed<\/Code><Message>[^<]*<\/Message><RequestId>req-storage<\/RequestId><\/Error>$/,
    );
  });

  it("/metrics can be turned off", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "modelhub-nometrics-"));
    const server = await startServer(makeConfig({ port: 0, logLevel: "silent", dataDir }), { metrics: false });
    try {
      const r = await fetch(`${server.url}/metrics`);
      assert.equal(r.status, 404);
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("request ids in a `modelhub serve` process's log lines and 5xx bodies", () => {
  it("a 5xx body has error.requestId, and the log lines of that request carry it as reqId", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "modelhub-reqid-"));
    const child = spawn(
      process.execPath,
      [...MODELHUB, "serve", "--port", "0", "--data", dataDir, "--log-level", "info"],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      const url = await eventually(
        async () => /modelhub listening on (http:\/\/\S+)/.exec(out)?.[1],
        30_000,
        "listening",
      );
      const ok = await fetch(`${url}/imodels?iTwinId=x`, {
        headers: { authorization: "Bearer alice", "x-request-id": "req-ok-1" },
      });
      assert.equal(ok.status, 200);
      // Probes are not logged (a load balancer calls them every few seconds): checked below by their request ids.
      for (const probe of ["/health", "/ready"])
        await (
          await fetch(`${url}${probe}`, { headers: { "x-request-id": `req-probe-${probe.slice(1)}` } })
        ).arrayBuffer();

      // A real fault: the table the handler reads disappears under the running hub (renamed by another connection).
      const db = new Database(join(dataDir, "metadata.db"));
      db.exec("ALTER TABLE imodels RENAME TO imodels_away");
      const failed = await fetch(`${url}/imodels/00000000-0000-4000-8000-000000000000`, {
        headers: { authorization: "Bearer alice", "x-request-id": "req-fail-1" },
      });
      db.exec("ALTER TABLE imodels_away RENAME TO imodels");
      db.close();
      assert.equal(failed.status, 500);
      assert.equal(failed.headers.get("x-request-id"), "req-fail-1");
      const body = (await failed.json()) as Json;
      assert.deepEqual(body, {
        error: {
          code: "Unknown",
          message: "The hub failed to process the request. Nothing was changed by it; it is safe to retry.",
          requestId: "req-fail-1",
        },
      });
      // The hub works again once the table is back.
      assert.equal(
        (
          await fetch(`${url}/imodels/00000000-0000-4000-8000-000000000000`, {
            headers: { authorization: "Bearer alice" },
          })
        ).status,
        404,
      );

      const lines = await eventually(
        async () => {
          const parsed = out
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .map((l) => JSON.parse(l) as Json);
          // The completion line is written when the answer has gone out: it may come after the client has it.
          const seen = (msg: string) => parsed.some((l) => l.reqId === "req-fail-1" && l.msg === msg);
          return seen("unexpected error") && seen("request completed") ? parsed : undefined;
        },
        10_000,
        "the failed request's error and completion log lines",
      );
      const failLines = lines.filter((l) => l.reqId === "req-fail-1");
      // One line per request (written when it is answered), not fastify's two.
      assert.ok(!lines.some((l) => l.msg === "incoming request"));
      assert.ok(
        failLines.some(
          (l) =>
            l.msg === "request completed" && l.res?.statusCode === 500 && l.user === "alice" && l.req?.method === "GET",
        ),
      );
      assert.ok(lines.some((l) => l.reqId === "req-ok-1" && l.msg === "request completed"));
      assert.deepEqual(
        lines.filter((l) => String(l.reqId).startsWith("req-probe")),
        [],
      );
      // Every line fastify writes for a request carries its id.
      for (const line of lines.filter((l) => l.req !== undefined || l.res !== undefined))
        assert.equal(typeof line.reqId, "string");
    } finally {
      child.kill("SIGTERM");
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
