// npm run bench [-- <name> [args]]: performance figures, each printed next to a reference measured in the same run.
//   names: itwin (push/pull/locks/briefcase vs HubMock), hub (pages, GETs/s, download vs disk), checkpoints,
//   locks (/health during 20 concurrent 10,000-id lock requests vs idle), changes (summary latency, version compare,
//   summaries' bytes, of tiny pushes too),
//   profile (the requests and round trips of one push and one pull, and the hub's time on each request),
//   basics (idle memory, 1,000-id lock request), webhooks (delivery latency at 10 pushes/s with 100 webhooks; push
//   latency with a healthy, dead or slow callback vs none), nodes (push latency on PostgreSQL or Azurite vs embedded; push
//   throughput of two nodes vs one), checkpoint-large (a named version's checkpoint of a 1 GB iModel), soak <duration>
//   (RSS of a hub under mixed load; default 30m)
import { execFile, spawn } from "node:child_process";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { checkRatios, recordRatios, type Ratio } from "./recorded.js";
import { promisify } from "node:util";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { benchBasics } from "./basics.js";
import { benchChanges } from "./changes.js";
import { benchCheckpoints } from "./checkpoints.js";
import { benchHubOnly } from "./hub-only.js";
import { benchLargeCheckpoint } from "./checkpoint-large.js";
import { benchLockStorm } from "./lock-storm.js";
import { benchNodes } from "./nodes.js";
import type { SoakFigures } from "./soak.js";
import { benchPushProfile } from "./push-profile.js";
import type { SmallChangesFigures } from "./changes-small.js";
import { benchWebhooks } from "./webhooks.js";
import type { WorkloadFigures } from "./itwin-workload.js";
import { median } from "./stats.js";

const run = promisify(execFile);
// --check: fail (exit 1) when a ratio is more than 10% worse than its recorded value (bench/recorded.json);
// --record: write this run's ratios there (with the date, commit and load).
const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith("--")));
const [only, arg] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
/** This run's ratios, by a stable key, for --check and --record. */
const ratios: Record<string, Ratio> = {};
const want = (name: string) => !only || only === name;
const rows: string[] = [];
const row = (figure: string, modelhub: string, reference: string, ratio: string, target: string, met: boolean) =>
  rows.push(`| ${figure} | ${modelhub} | ${reference} | ${ratio} | ${target} ${met ? "met" : "**not met**"} |`);
const ms = (x: number) => `${x.toFixed(1)} ms`;
const round = (f: WorkloadFigures) =>
  Object.fromEntries(Object.entries(f).map(([k, v]) => [k, Math.round(v * 10) / 10]));

const WARMUP_PUSHES = 10;
const ROUNDS = 3;
/** Workload runs per hub, alternating HubMock and modelhub so that a slow spell of the machine hits both. */
const RUNS = 5;

async function itwinWorkload(mode: string, version0: string, pushes: number): Promise<WorkloadFigures> {
  const { stdout } = await run(
    process.execPath,
    [
      "--import",
      "tsx",
      "bench/itwin-workload.ts",
      mode,
      version0,
      String(pushes),
      String(WARMUP_PUSHES),
      String(ROUNDS),
    ],
    {
      maxBuffer: 1 << 24,
    },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as WorkloadFigures;
}

/** Each figure's median over the runs. */
function medianFigures(runs: WorkloadFigures[]): WorkloadFigures {
  const keys = Object.keys(runs[0]!) as (keyof WorkloadFigures)[];
  return Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))])) as unknown as WorkloadFigures;
}

async function withHubProcess<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const hub = await startHubProcess({ logLevel: "error" });
  try {
    return await fn(hub.url);
  } finally {
    await hub.stop();
  }
}

/** Runs bench/soak.ts for `duration`, its output shown as it comes; answers its closing figures. */
async function soak(duration: string): Promise<SoakFigures> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/soak.ts", duration], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let figures: SoakFigures | undefined;
  let pending = "";
  child.stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith("soak-figures ")) figures = JSON.parse(line.slice("soak-figures ".length)) as SoakFigures;
      else console.log(`  ${line}`);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  // Exit 1 with figures: growing RSS or errors, which the row says; without figures the soak itself failed.
  if (!figures) throw new Error(`bench/soak.ts ${duration} exited with ${code} without its figures`);
  return figures;
}

async function main(): Promise<void> {
  if (want("itwin")) {
    const pushes = Number(only === "itwin" && arg ? arg : 40);
    console.log(
      `itwin: ${WARMUP_PUSHES} warm-up + ${pushes} measured pushes of 20 elements, pull of all ${WARMUP_PUSHES + pushes} changesets, ` +
        `10,000 locks, briefcase at tip (each ${ROUNDS}×) — HubMock vs modelhub, ${RUNS} alternating runs each, medians`,
    );
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const mockRuns: WorkloadFigures[] = [];
    const hubRuns: WorkloadFigures[] = [];
    for (let i = 0; i < RUNS; i++) {
      mockRuns.push(await itwinWorkload("hubmock", version0, pushes));
      hubRuns.push(await withHubProcess((url) => itwinWorkload(url, version0, pushes)));
      console.log(
        `  run ${i + 1}: HubMock ${JSON.stringify(round(mockRuns.at(-1)!))}\n         modelhub ${JSON.stringify(round(hubRuns.at(-1)!))}`,
      );
    }
    const mock = medianFigures(mockRuns);
    const hub = medianFigures(hubRuns);
    // The ratio is the median of each run's modelhub/HubMock ratio: the two runs of a pair ran one after the other,
    // so a slow spell of the machine weighs on both sides of a ratio instead of on one side of the medians.
    const compare = (figure: string, key: keyof WorkloadFigures, target: number | undefined) => {
      const r = median(hubRuns.map((h, i) => h[key] / mockRuns[i]![key]));
      ratios[`itwin.${key}`] = { figure, value: r, better: "lower" };
      const spread = hubRuns.map((h, i) => (h[key] / mockRuns[i]![key]).toFixed(2)).join(", ");
      row(
        figure,
        ms(hub[key]),
        ms(mock[key]),
        `${r.toFixed(2)}× (runs: ${spread})`,
        target === undefined ? "(no target)" : `≤ ${target}×`,
        target === undefined || r <= target,
      );
    };
    compare(`push latency, 20 elements (median of ${pushes}; goal ≤ 1.0×, this round ≤ 1.2×)`, "pushMedianMs", 1.2);
    compare(`pull of ${hub.pulled} changesets into a fresh briefcase`, "pullMs", 1.0);
    compare(`pull of ${hub.pulled} changesets after prefetch (HubMock: its plain pull)`, "prefetchedPullMs", 1.0);
    compare("10,000 exclusive locks: the hub call (BackendHubAccess.acquireLocks)", "lockCallMs", 0.5);
    compare("10,000 exclusive locks: db.locks.acquireLocks (with iTwin.js's local bookkeeping)", "locksMs", undefined);
    compare(`usable briefcase at the tip (${hub.pulled + 1} changesets, no checkpoint)`, "usableMs", undefined);
  }
  if (want("profile")) {
    const pushes = Number(only === "profile" && arg ? arg : 20);
    console.log(`profile: requests of ${pushes} pushes of 20 elements and of one pull, client wait vs hub time`);
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const p = await benchPushProfile(version0, pushes, WARMUP_PUSHES);
    console.log(
      `  push: ${ms(p.pushMs)} (median), ${p.requestsPerPush} requests in ${p.roundTripsPerPush} round trips; ` +
        `waiting for the hub ${ms(p.clientWaitMs)}, of which the hub's own time ${ms(p.serverMs)}`,
    );
    console.log("  | request | per push | client wait (p50) | hub time (p50) |\n  |---|---|---|---|");
    for (const r of p.routes)
      console.log(
        `  | \`${r.route}\` | ${r.perPush} | ${ms(r.clientMs)} | ${Number.isNaN(r.serverMs) ? "—" : ms(r.serverMs)} |`,
      );
    console.log(
      `  pull of ${p.pull.changesets} changesets: ${ms(p.pull.ms)}, ${p.pull.requests} requests in ${p.pull.roundTrips} round trips: ` +
        Object.entries(p.pull.routes)
          .map(([route, n]) => `${n} × \`${route}\``)
          .join(", "),
    );
    ratios["profile.roundTripsPerPush"] = {
      figure: "round trips of one push",
      value: p.roundTripsPerPush,
      better: "lower",
    };
    ratios["profile.pullRequestsPerChangeset"] = {
      figure: "requests per changeset of a pull",
      value: p.pull.requests / p.pull.changesets,
      better: "lower",
    };
    row(
      "requests of one push (round trips)",
      `${p.requestsPerPush} (${p.roundTripsPerPush})`,
      "—",
      "—",
      "(no target)",
      true,
    );
    row(
      `requests of a pull of ${p.pull.changesets} changesets`,
      String(p.pull.requests),
      `${p.pull.changesets} changesets`,
      `${(p.pull.requests / p.pull.changesets).toFixed(2)} per changeset`,
      "≤ 1 request per changeset",
      p.pull.requests <= p.pull.changesets,
    );
  }
  if (want("basics")) {
    console.log("basics: idle RSS of an embedded hub (after a GC), 1,000-id lock requests on fresh ids");
    const b = await benchBasics();
    row("idle RSS of an embedded hub", `${b.idleRssMb.toFixed(0)} MB`, "—", "—", "≤ 150 MB", b.idleRssMb <= 150);
    row(
      `1,000-id exclusive lock request (p50 / p99 of ${b.lock1000.requests})`,
      `${ms(b.lock1000.p50)} / ${ms(b.lock1000.p99)}`,
      "—",
      "—",
      "p50 ≤ 10 ms",
      b.lock1000.p50 <= 10,
    );
  }
  if (want("hub")) {
    const sizes = only === "hub" && arg ? arg.split(",").map(Number) : [1000, 100_000, 1_000_000];
    console.log(`hub: changeset pages at ${sizes.join(", ")} changesets, small GETs/s, 200 MB download vs disk`);
    const h = await benchHubOnly(sizes, 200);
    const first = h.pages[0]!.p50;
    const last = h.pages.at(-1)!;
    ratios["hub.pageFlatness"] = {
      figure: `GET page p50 at ${last.changesets.toLocaleString("en")} vs ${h.pages[0]!.changesets.toLocaleString("en")} changesets`,
      value: last.p50 / first,
      better: "lower",
    };
    for (const p of h.pages) {
      row(
        `GET 1,000-changeset page, ${p.changesets.toLocaleString("en")} changesets (p50 / p99)`,
        `${ms(p.p50)} / ${ms(p.p99)}`,
        `${ms(first)} at ${h.pages[0]!.changesets.toLocaleString("en")}`,
        `${(p.p50 / first).toFixed(2)}×`,
        "p50 ≤ 20 ms, flat",
        p.p50 <= 20 && p.p50 / first <= 1.5,
      );
    }
    row(
      "small GETs per second (20 connections)",
      h.getsPerSecond.toFixed(0),
      "—",
      "—",
      "≥ 3,000/s",
      h.getsPerSecond >= 3000,
    );
    for (const [how, d] of [
      ["both from the page cache", h.download.cached],
      ["both from disk, page cache dropped before each read", h.download.cold],
    ] as const) {
      if (!d) continue;
      row(
        `download of a ${h.download.sizeMb.toFixed(0)} MB changeset vs reading the file (${how}; medians of 5 pairs)`,
        `${d.hubMBps.toFixed(0)} MB/s`,
        `${d.referenceMBps.toFixed(0)} MB/s file read`,
        `${(100 * d.pairedRatio).toFixed(0)}% (paired)`,
        "≥ 80% of the file read",
        d.pairedRatio >= 0.8,
      );
    }
    const bare = h.download.bareNode;
    ratios["hub.downloadVsBareNode"] = {
      figure: "download vs a bare node:http server",
      value: bare.pairedRatio,
      better: "higher",
    };
    row(
      `download of the same changeset vs a bare node:http server process sending the cached file (medians of 5 pairs)`,
      `${bare.hubMBps.toFixed(0)} MB/s`,
      `${bare.referenceMBps.toFixed(0)} MB/s bare node:http`,
      `${(100 * bare.pairedRatio).toFixed(0)}% (paired)`,
      "≥ 90% of bare node:http",
      bare.pairedRatio >= 0.9,
    );
  }
  if (want("checkpoints")) {
    const count = Number(only === "checkpoints" && arg ? arg : 1000);
    console.log(`checkpoints: usable briefcase at the tip of ${count} changesets`);
    const c = await benchCheckpoints(count);
    ratios["checkpoints.speedup"] = { figure: "checkpoint vs replay speed-up", value: c.speedup, better: "higher" };
    row(
      `usable briefcase at tip, ${count} changesets: checkpoint vs replay`,
      ms(c.checkpointMs),
      `${ms(c.replayMs)} replay`,
      `${c.speedup.toFixed(1)}× faster`,
      "≥ 5× faster",
      c.speedup >= 5,
    );
  }
  if (want("locks")) {
    console.log("locks: /health while one user sends 20 lock requests of 10,000 ids at once, vs /health idle");
    const l = await benchLockStorm();
    const p = (f: { p50: number; p99: number; netP99: number }) =>
      `p50 ${ms(f.p50)} / p99 ${ms(f.p99)} (net ${ms(f.netP99)})`;
    console.log(
      `  20 requests answered in ${ms(l.stormMs)} (median of 5 rounds); samples: ${l.idle.samples} idle, ${l.storm.samples} during`,
    );
    row(
      "/health during 20 × 10,000-id lock requests of one user (net: without CPU waits)",
      p(l.storm),
      `${p(l.idle)} idle`,
      `${(l.storm.netP99 / Math.max(1, l.idle.netP99)).toFixed(1)}× (net p99)`,
      "net p99 ≤ 100 ms",
      l.storm.netP99 <= 100,
    );
  }
  if (want("changes")) {
    const per = Number(only === "changes" && arg ? arg : 10_000);
    console.log(
      `changes: summaries of 5 pushes of ${per.toLocaleString("en")} inserted elements; compares over 100 changesets of 100 elements`,
    );
    const c = await benchChanges(per);
    console.log(
      `  push: ${c.pushMs.map((x) => x.toFixed(0)).join(", ")} ms; summary after push: ${c.summaryMs.map((x) => x.toFixed(0)).join(", ")} ms (first push, cold worker: ${c.firstSummaryMs.toFixed(0)} ms)`,
    );
    console.log(
      `  compare first page: ${c.compareFirstPageMs.map((x) => x.toFixed(0)).join(", ")} ms; counts only: ${c.compareCountsMs.map((x) => x.toFixed(0)).join(", ")} ms`,
    );
    const summary = median(c.summaryMs);
    const push = median(c.pushMs);
    row(
      `summary stored after a push of ${per.toLocaleString("en")} element changes (p50 of 4, pushes 5 s apart)`,
      ms(summary),
      `${ms(push)} the push itself`,
      `${(summary / push).toFixed(1)}×`,
      "≤ 5 s",
      summary <= 5000,
    );
    const list = median(c.listChangesetsMs);
    const first = median(c.compareFirstPageMs);
    row(
      `compare 100 changesets apart, ${c.compareElements.toLocaleString("en")} changed elements: first page of 100, cold (p50 of 4)`,
      ms(first),
      `${ms(list)} a 100-changeset page`,
      `${(first / list).toFixed(1)}×`,
      "≤ 2 s (cloud: 13 s to 20 min)",
      first <= 2000,
    );
    const counts = median(c.compareCountsMs);
    row(
      "compare counts only ($top=1), cold (p50 of 4)",
      ms(counts),
      `${ms(list)} a 100-changeset page`,
      `${(counts / list).toFixed(1)}×`,
      "≤ 500 ms",
      counts <= 500,
    );
    const share = c.summaryBytes / c.changesetBytes;
    row(
      "summaries on disk vs the changesets' own bytes",
      `${(c.summaryBytes / 1e6).toFixed(1)} MB`,
      `${(c.changesetBytes / 1e6).toFixed(1)} MB changesets`,
      `${(100 * share).toFixed(0)}%`,
      "≤ 10%",
      share <= 0.1,
    );
    // Many tiny irregular pushes (bench/changes-small.ts, a process of its own: iTwin.js pushes from it).
    const { stdout } = await run(process.execPath, ["--import", "tsx", "bench/changes-small.ts", "200"], {
      maxBuffer: 1 << 24,
    });
    const small = JSON.parse(stdout.trim().split("\n").at(-1)!) as SmallChangesFigures;
    console.log(`  tiny pushes: ${JSON.stringify(small)}`);
    const smallShare = small.summaryBytes / small.changesetBytes;
    row(
      `summaries of ${small.pushes} tiny irregular pushes (${small.elementChanges} element changes) vs their bytes`,
      `${(small.summaryBytes / 1e3).toFixed(0)} kB`,
      `${(small.changesetBytes / 1e3).toFixed(0)} kB changesets`,
      `${(100 * smallShare).toFixed(0)}%`,
      "≤ 10%",
      smallShare <= 0.1,
    );
  }
  if (want("webhooks")) {
    const seconds = Number(only === "webhooks" && arg ? arg : 20);
    console.log(
      `webhooks: 100 webhooks on one iTwin, pushes at 10/s for ${seconds} s (delivery after the push's answer); ` +
        "push latency with a healthy, dead or slow (10 s) callback vs none, fresh hubs, 3 rounds",
    );
    const w = await benchWebhooks(seconds);
    const all = w.received >= w.expected;
    row(
      `webhook delivery after the push's answer, 100 webhooks, 10 pushes/s for ${seconds} s (p50 / p99 of ${w.received.toLocaleString("en")}${all ? "" : ` of ${w.expected.toLocaleString("en")}`})`,
      `${ms(w.delivery.p50)} / ${ms(w.delivery.p99)}`,
      `${ms(w.pushP50)} push p50`,
      "—",
      "p99 ≤ 1 s",
      all && w.delivery.p99 <= 1000,
    );
    for (const [c, what] of [
      ["healthy", "a healthy callback (answers at once)"],
      ["dead", "a dead callback (connection refused)"],
      ["slow", "a slow callback (answers after 10 s)"],
    ] as const) {
      const r = median(w.pushMs[c].map((x, i) => x / w.pushMs.none[i]!));
      ratios[`webhooks.${c}VsNone`] = {
        figure: `push latency, 100 webhooks to ${what} vs none`,
        value: r,
        better: "lower",
      };
      row(
        `push latency, 100 webhooks to ${what} vs no webhook (median of ${w.pushMs[c].length} rounds)`,
        ms(median(w.pushMs[c])),
        `${ms(median(w.pushMs.none))} no webhook`,
        `${r.toFixed(2)}× (rounds: ${w.pushMs[c].map((x, i) => (x / w.pushMs.none[i]!).toFixed(2)).join(", ")})`,
        c === "healthy" ? "(no target: the cost of webhooks)" : "≤ 1.1×",
        c === "healthy" || r <= 1.1,
      );
    }
  }
  if (want("nodes")) {
    console.log(
      "nodes: pushes of real 20-element changesets through @modelhub/backend-access (create, upload, complete; no " +
        "iTwin.js work in the time) — PostgreSQL or Azurite vs embedded, one hub process each; two nodes (one " +
        "PostgreSQL schema, one Azurite container) vs one",
    );
    // `nodes pg`: only the PostgreSQL latency and its statement count; `nodes azure`: only the Azurite-vs-fs push
    // latency (neither runs two nodes).
    const mode = only === "nodes" && (arg === "pg" || arg === "azure") ? arg : "all";
    const n = await benchNodes((line) => console.log(line), mode);
    const lat = n.latency;
    const st = n.statements;
    if (st) {
      ratios["nodes.postgresRoundTripsInARow"] = {
        figure: "PostgreSQL round trips in a row before the answers of one push",
        value: st.inARow,
        better: "lower",
      };
      row(
        "PostgreSQL statements of one push (create, upload, complete): statements / round trips (in a row before " +
          "the answers) / transactions",
        `${st.statements} / ${st.messages} (${st.inARow}) / ${st.transactions}`,
        "—",
        "—",
        "(no target)",
        true,
      );
    }
    for (const [key, side, what, target] of [
      ["nodes.postgresVsEmbedded", lat.postgres, "one node on PostgreSQL (fs files)", 1.3],
      ["nodes.azureVsFs", lat.azure, "one node with --blobs azure: (Azurite; SQLite metadata)", 1.2],
    ] as const) {
      if (side.length === 0) continue;
      const each = side.map((x, i) => x / lat.embedded[i]!);
      const r = median(each);
      ratios[key] = { figure: `push latency, ${what} vs embedded`, value: r, better: "lower" };
      row(
        `push latency, ${what} vs embedded (SQLite + fs), medians of ${lat.embedded.length} rounds of 20`,
        ms(median(side)),
        `${ms(median(lat.embedded))} embedded`,
        `${r.toFixed(2)}× (rounds: ${each.map((x) => x.toFixed(2)).join(", ")})`,
        `≤ ${target}×`,
        r <= target,
      );
    }
    // Both nodes, PostgreSQL, Azurite and the pushing client share this machine's cores: two nodes can only go as
    // far as the cores the others leave free.
    const cores = availableParallelism();
    for (const [key, t, what, target] of [
      ["nodes.twoVsOneDistinct", n.distinct, `${n.pushers} pushers on distinct iModels`, 1.6],
      ["nodes.twoVsOneSingle", n.single, "one pusher on one iModel, pushes alternating between the nodes", 1.0],
    ] as const) {
      if (t.two.length === 0) continue;
      const each = t.two.map((x, i) => x / t.one[i]!);
      const r = median(each);
      ratios[key] = { figure: `push throughput, two nodes vs one, ${what}`, value: r, better: "higher" };
      row(
        `push throughput, two nodes vs one, ${what} (medians of ${each.length} rounds; ${cores} cores shared by both ` +
          "nodes, PostgreSQL, Azurite and the client" +
          (cores <= 2 && key === "nodes.twoVsOneDistinct" ? ": the machine, not the hub, bounds this" : "") +
          ")",
        `${median(t.two).toFixed(1)} pushes/s`,
        `${median(t.one).toFixed(1)} pushes/s one node`,
        `${r.toFixed(2)}× (rounds: ${each.map((x) => x.toFixed(2)).join(", ")})`,
        key === "nodes.twoVsOneSingle" ? "≥ 1.0× (no slower)" : `≥ ${target}×`,
        r >= target,
      );
    }
  }
  if (want("checkpoint-large")) {
    console.log(
      "checkpoint-large: a named version at the tip of a 1 GB iModel with 100 changesets since its last checkpoint " +
        "(the baseline): time to `successful`, vs copying the 1 GB file on this disk",
    );
    const c = await benchLargeCheckpoint((line) => console.log(line));
    ratios["checkpointLarge.vsCopy"] = {
      figure: "1 GB named version checkpoint vs a copy of the file",
      value: c.checkpointMs / c.copyMs,
      better: "lower",
    };
    row(
      `named version checkpoint \`successful\`, ${(c.fileBytes / 1e9).toFixed(2)} GB iModel, ${c.changesets} changesets since the last checkpoint`,
      `${(c.checkpointMs / 1000).toFixed(1)} s`,
      `${(c.copyMs / 1000).toFixed(1)} s copying the file`,
      `${(c.checkpointMs / c.copyMs).toFixed(1)}×`,
      "≤ 30 s",
      c.checkpointMs <= 30_000,
    );
  }
  if (want("soak")) {
    const duration = only === "soak" && arg ? arg : "30m";
    console.log(`soak: ${duration} of mixed load on one modelhub serve process (bench/soak.ts), RSS every 2 s`);
    const s = await soak(duration);
    const mb = (x: number | null) => (x === null ? "?" : `${x} MB`);
    row(
      `RSS of a hub over a ${duration} soak (${s.operations.toLocaleString("en")} operations, ${s.errors} errors): ` +
        `first → last sample after warm-up (median of the last third vs the first; peak ${mb(s.peakMb)})`,
      `${mb(s.rssStartMb)} → ${mb(s.rssEndMb)} (${mb(s.lastThirdMb)} vs ${mb(s.firstThirdMb)})`,
      "—",
      s.flat === undefined ? "too short to judge" : s.flat ? "flat" : "growing",
      `no growth (≤ +max(10%, 24 MB), allowed +${mb(s.allowedGrowthMb)}), no errors`,
      s.flat === true && s.errors === 0,
    );
  }
  console.log("\n| figure | modelhub | reference | ratio | target |\n|---|---|---|---|---|");
  for (const line of rows) console.log(line);
  if (flags.has("--record")) console.log(`\n${await recordRatios(ratios)}`);
  if (flags.has("--check")) {
    const { report, regressions } = await checkRatios(ratios);
    console.log(`\n${report}`);
    if (regressions > 0) {
      console.error(`${regressions} ratio(s) more than 10% worse than recorded in bench/recorded.json`);
      process.exitCode = 1;
    }
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
