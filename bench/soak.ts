// npm run soak -- <duration> [--every <seconds>] [--writers <n>]     e.g. npm run soak -- 30m
// Mixed load against one `modelhub serve` process for the given duration: iTwin.js writers (each its own process and
// briefcase: insert under a shared lock, edit under an exclusive lock, push, pull), a reader process (briefcase
// downloads and releases, changeset downloads, changeset queries), and this process (API lists, named versions,
// lock lists). Every --every seconds it prints operations and errors per kind with p50/p99 latencies and the hub's
// RSS; at the end, whether RSS stayed flat, and one line `soak-figures {…}` (SoakFigures) for `npm run bench -- soak`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "../packages/backend-access/test/support/agents.js";
import { childrenOf, rssBytes } from "../packages/backend-access/test/support/crash-hub.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { median, percentile } from "./stats.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { every: { type: "string", default: "30" }, writers: { type: "string", default: "3" } },
});
const durationMs = parseDuration(positionals[0] ?? "5m");
const everyMs = Number(values.every) * 1000;
const WRITERS = Number(values.writers);
const ITWIN = "0b9e6c2d-4f3a-4e1b-8c7d-6a5f4e3d2c1b";
/** The first 10% of the run (at least 30 s, at most 3 min) is warm-up: caches, JIT, SQLite pages fill up. */
const warmupMs = Math.min(180_000, Math.max(30_000, durationMs / 10));
/**
 * Flat means: the median RSS of the last third of the run after warm-up is at most 10% (or 24 MB, whichever is more)
 * above the first third's. Node's heap breathes by tens of MB between collections, so a smaller margin flags noise;
 * a leak of even 1 kB per operation at this rate (~20 ops/s) grows ~35 MB in a 30-minute run and is caught.
 */
const FLAT_RATIO = 0.1;
const FLAT_FLOOR_BYTES = 24 * 1024 * 1024;

/** The last line of a run (`soak-figures ` + JSON), read by bench/run.ts. */
export interface SoakFigures {
  minutes: number;
  operations: number;
  errors: number;
  /** The hub's RSS (MB): the first and last samples after warm-up, and the medians of the first and last thirds. */
  rssStartMb: number;
  rssEndMb: number;
  firstThirdMb: number;
  lastThirdMb: number;
  allowedGrowthMb: number;
  peakMb: number;
  /** undefined: too short to judge. */
  flat: boolean | undefined;
}

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new Error(`duration '${text}': use e.g. 90s, 30m, 1h`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "m") as "ms" | "s" | "m" | "h"];
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Latencies and errors per operation kind, for the current window and the whole run. */
class Stats {
  readonly window = new Map<string, number[]>();
  readonly total = new Map<string, number[]>();
  readonly errors = new Map<string, number>();
  readonly windowErrors = new Map<string, number>();
  readonly lastError = new Map<string, string>();
  /** Pushes that lost the race after iTwin.js's own merge-and-retry: contention between writers, not hub failures. */
  readonly conflicts = new Map<string, number>();

  async time<T>(kind: string, op: () => Promise<T>): Promise<T | undefined> {
    const start = performance.now();
    try {
      const result = await op();
      const ms = performance.now() - start;
      for (const m of [this.window, this.total]) m.set(kind, [...(m.get(kind) ?? []), ms]);
      return result;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (/pull is required|another user is pushing/i.test(message)) {
        this.conflicts.set(kind, (this.conflicts.get(kind) ?? 0) + 1);
        return undefined;
      }
      for (const m of [this.errors, this.windowErrors]) m.set(kind, (m.get(kind) ?? 0) + 1);
      this.lastError.set(kind, message.slice(0, 200));
      return undefined;
    }
  }

  table(source: Map<string, number[]>, errors: Map<string, number>): string {
    const kinds = [...new Set([...source.keys(), ...errors.keys()])].sort();
    return kinds
      .map((k) => {
        const xs = source.get(k) ?? [];
        const lat = xs.length ? `p50 ${percentile(xs, 50).toFixed(1)} ms  p99 ${percentile(xs, 99).toFixed(1)} ms` : "";
        return `    ${k.padEnd(22)} ${String(xs.length).padStart(7)} ok ${String(errors.get(k) ?? 0).padStart(4)} err  ${lat}`;
      })
      .join("\n");
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "modelhub-soak-"));
  const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
  const hub = await startHubProcess({
    dataDir: join(work, "data"),
    logLevel: "error",
    args: ["--checkpoint-every", "20"],
  });
  const stats = new Stats();
  const rss: { at: number; hub: number; worker: number }[] = [];
  const started = Date.now();
  const deadline = started + durationMs;
  const running = () => Date.now() < deadline;
  console.log(
    `soak: ${positionals[0] ?? "5m"} against ${hub.url} (pid ${hub.pid}), ${WRITERS} writers + 1 reader + API lists; warm-up ${warmupMs / 1000} s`,
  );

  const api = async (method: string, path: string, user: string, body?: unknown): Promise<Json> => {
    const response = await fetch(`${hub.url}/imodels${path}`, {
      method,
      headers: {
        accept: "application/vnd.bentley.itwin-platform.v2+json",
        authorization: `Bearer ${user}`,
        prefer: "return=representation",
        ...(body ? { "content-type": "application/json" } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
    return text ? (JSON.parse(text) as Json) : {};
  };

  const names = Array.from({ length: WRITERS }, (_, i) => `writer${i + 1}`);
  const writers = await Promise.all(names.map((n) => Agent.start(hub.url, n)));
  const reader = await Agent.start(hub.url, "reader");
  const agents = [...writers, reader];
  try {
    const iModelId = await writers[0]!.do<string>("createIModel", { iTwinId: ITWIN, name: "soak", version0 });
    await Promise.all(
      writers.map((w, i) => w.do("download", { iTwinId: ITWIN, iModelId, dir: join(work, names[i]!), key: "b" })),
    );

    const op = async <T>(kind: string, agent: Agent, command: string, args: Record<string, unknown>) =>
      stats.time(kind, async () => {
        const r = await agent.try<T>(command, args);
        if (!r.ok) throw new Error(r.error.message ?? r.error.name ?? "failed");
        return r.result;
      });

    const writerLoop = async (w: Agent) => {
      const own: string[] = [];
      for (let round = 1; running(); round++) {
        const ids = await op<string[]>("insert+sharedLock", w, "insert", {
          key: "b",
          count: 4,
          labelPrefix: `r${round}`,
        });
        if (ids) own.push(ids[0]!);
        if (round % 3 === 0 && own.length > 1) {
          const id = own[Math.floor(Math.random() * (own.length - 1))]!;
          if (await op("exclusiveLock", w, "lock", { key: "b", level: "exclusive", ids: [id] }))
            await op("update", w, "update", { key: "b", id, label: `edited ${round}` });
        }
        await op("push", w, "push", { key: "b", mergeRetryDelayMs: 200, mergeRetryCount: 20 });
        if (round % 2 === 0) await op("pull", w, "pull", { key: "b" });
        // Apps push now and then, not back to back (back to back, one writer wins every race and starves the others).
        await sleep(100 + Math.random() * 400);
      }
    };

    const readerLoop = async () => {
      for (let round = 1; running(); round++) {
        // A fresh briefcase (checkpoint + changesets since), then closed and its id released.
        const key = `r${round}`;
        if (
          await op("downloadBriefcase", reader, "download", {
            iTwinId: ITWIN,
            iModelId,
            dir: join(work, "reader"),
            key,
          })
        ) {
          await op("releaseBriefcase", reader, "close", { key, release: true });
        }
        const latest = await op<Json>("getLatestChangeset", reader, "hubCall", {
          method: "getLatestChangeset",
          args: { iModelId },
        });
        const tip = (latest?.index as number | undefined) ?? 0;
        if (tip > 0) {
          await op("queryChangesets", reader, "hubCall", {
            method: "queryChangesets",
            args: { iModelId, range: { first: Math.max(1, tip - 50) } },
          });
          await op("downloadChangesets", reader, "hubCall", {
            method: "downloadChangesets",
            args: { iModelId, range: { first: Math.max(1, tip - 10), end: tip }, targetDir: "" },
          });
        }
      }
    };

    const apiLoop = async () => {
      let n = 0;
      while (running()) {
        await stats.time("GET iModels", () => api("GET", `?iTwinId=${ITWIN}`, "lister"));
        await stats.time("GET changesets page", () =>
          api("GET", `/${iModelId}/changesets?$top=100&$orderBy=index%20desc`, "lister"),
        );
        await stats.time("GET locks", () => api("GET", `/${iModelId}/locks`, "lister"));
        await stats.time("GET namedversions", () => api("GET", `/${iModelId}/namedversions?$top=100`, "lister"));
        await stats.time("GET checkpoints", () => api("GET", `/${iModelId}/checkpoints`, "lister"));
        if (++n % 20 === 0) {
          // A named version at the tip every ~20 list rounds (each schedules a checkpoint job).
          const page = await stats.time("GET latest changeset", () =>
            api("GET", `/${iModelId}/changesets?$top=1&$orderBy=index%20desc`, "lister"),
          );
          const index = page?.changesets?.[0]?.index as number | undefined;
          if (index)
            await stats.time("POST namedversion", () =>
              api("POST", `/${iModelId}/namedversions`, "lister", { name: `v${n}`, changesetIndex: index }),
            );
        }
        await sleep(200);
      }
    };

    const sampler = setInterval(() => {
      const hubRss = rssBytes(hub.pid);
      if (hubRss === undefined) return;
      const worker = childrenOf(hub.pid).reduce((sum, pid) => sum + (rssBytes(pid) ?? 0), 0);
      rss.push({ at: Date.now() - started, hub: hubRss, worker });
    }, 2000);
    let lastReport = Date.now();
    const reporter = setInterval(() => {
      const s = Math.round((Date.now() - started) / 1000);
      const latest = rss.at(-1);
      const windowOps = [...stats.window.values()].reduce((sum, xs) => sum + xs.length, 0);
      const totalOps = [...stats.total.values()].reduce((sum, xs) => sum + xs.length, 0);
      const totalErrors = [...stats.errors.values()].reduce((a, b) => a + b, 0);
      console.log(
        `[${s} s] ${windowOps} ops in the last ${Math.round((Date.now() - lastReport) / 1000)} s (${totalOps} in all, ${totalErrors} errors); ` +
          `hub RSS ${latest ? mb(latest.hub) : "?"}, worker RSS ${latest ? mb(latest.worker) : "?"}\n${stats.table(stats.window, stats.windowErrors)}`,
      );
      stats.window.clear();
      stats.windowErrors.clear();
      lastReport = Date.now();
    }, everyMs);

    await Promise.all([...writers.map(writerLoop), readerLoop(), apiLoop()]);
    clearInterval(sampler);
    clearInterval(reporter);

    // Verdict: median RSS of the first and last thirds after warm-up.
    const steady = rss.filter((r) => r.at >= warmupMs);
    const third = Math.floor(steady.length / 3);
    const totalOps = [...stats.total.values()].reduce((sum, xs) => sum + xs.length, 0);
    const totalErrors = [...stats.errors.values()].reduce((a, b) => a + b, 0);
    console.log(
      `\nsoak done: ${Math.round((Date.now() - started) / 1000)} s, ${totalOps} operations, ${totalErrors} errors\n${stats.table(stats.total, stats.errors)}`,
    );
    for (const [kind, message] of stats.lastError) console.log(`  last error of ${kind}: ${message}`);
    for (const [kind, n] of stats.conflicts)
      console.log(
        `  ${kind}: ${n} lost the race to other writers after iTwin.js's 20 merge-and-retries (not counted as errors)`,
      );
    const tip = (await api("GET", `/${iModelId}/changesets?$top=1&$orderBy=index%20desc`, "lister")).changesets?.[0]
      ?.index as number;
    console.log(
      `  changesets on the hub: ${tip}; RSS samples: ${rss.length} (every 2 s), ${steady.length} after warm-up`,
    );
    const toMb = (bytes: number) => Math.round(bytes / 1024 / 1024);
    const figures: SoakFigures = {
      minutes: (Date.now() - started) / 60_000,
      operations: totalOps,
      errors: totalErrors,
      rssStartMb: toMb(steady[0]?.hub ?? Number.NaN),
      rssEndMb: toMb(steady.at(-1)?.hub ?? Number.NaN),
      firstThirdMb: Number.NaN,
      lastThirdMb: Number.NaN,
      allowedGrowthMb: Number.NaN,
      peakMb: toMb(Math.max(...rss.map((r) => r.hub))),
      flat: undefined,
    };
    if (third < 3) {
      console.log("RSS verdict: run too short to judge (need at least 9 samples after warm-up)");
    } else {
      const first = median(steady.slice(0, third).map((r) => r.hub));
      const last = median(steady.slice(-third).map((r) => r.hub));
      const allowed = Math.max(first * FLAT_RATIO, FLAT_FLOOR_BYTES);
      const flat = last - first <= allowed;
      const minutes = (steady.at(-1)!.at - steady[0]!.at) / 60_000;
      const peak = Math.max(...rss.map((r) => r.hub));
      console.log(
        `RSS verdict: ${flat ? "FLAT" : "GROWING"} — hub median ${mb(first)} in the first third after warm-up, ${mb(last)} in the last ` +
          `(${last >= first ? "+" : ""}${mb(last - first)}, allowed +${mb(allowed)} = max(10%, 24 MB)); peak ${mb(peak)}; over ${minutes.toFixed(1)} min. ` +
          `Worker median ${mb(median(steady.slice(0, third).map((r) => r.worker)))} → ${mb(median(steady.slice(-third).map((r) => r.worker)))}.`,
      );
      Object.assign(figures, {
        firstThirdMb: toMb(first),
        lastThirdMb: toMb(last),
        allowedGrowthMb: toMb(allowed),
        flat,
      });
      if (!flat) process.exitCode = 1;
    }
    console.log(`soak-figures ${JSON.stringify(figures)}`);
    if (totalErrors > 0) process.exitCode = 1;
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await hub.stop();
    await rm(work, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
