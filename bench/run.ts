// npm run bench [-- <name> [args]]: performance figures, each printed next to a reference measured in the same run.
//   names: itwin (push/pull/locks/briefcase vs HubMock), hub (pages, GETs/s, download vs disk), checkpoints
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { makeVersion0 } from "../packages/server/test/support/fixtures.js";
import { benchCheckpoints } from "./checkpoints.js";
import { benchHubOnly } from "./hub-only.js";

const run = promisify(execFile);
const [only, arg] = process.argv.slice(2);
const want = (name: string) => !only || only === name;
const rows: string[] = [];
const row = (figure: string, modelhub: string, reference: string, ratio: string, target: string, met: boolean) =>
  rows.push(`| ${figure} | ${modelhub} | ${reference} | ${ratio} | ${target} ${met ? "met" : "**not met**"} |`);
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function itwinWorkload(mode: string, version0: string, pushes: number): Promise<{ pushMedianMs: number; pullMs: number; locksMs: number; usableMs: number }> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "bench/itwin-workload.ts", mode, version0, String(pushes)], { maxBuffer: 1 << 24 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

async function withHubProcess<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const data = await mkdtemp(join(tmpdir(), "modelhub-bench-proc-"));
  const child = spawn(process.execPath, ["--import", "tsx", "packages/server/src/cli.ts", "serve", "--port", "0", "--data", data, "--log-level", "error"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /modelhub listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`hub exited with ${code}`)));
    });
    return await fn(url);
  } finally {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    await exited;
    await rm(data, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (want("itwin")) {
    const pushes = Number(only === "itwin" && arg ? arg : 40);
    console.log(`itwin: ${pushes} pushes of 20 elements, pull of ${pushes} changesets, 10,000 locks, briefcase at tip — HubMock vs modelhub`);
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const mock = await itwinWorkload("hubmock", version0, pushes);
    const hub = await withHubProcess((url) => itwinWorkload(url, version0, pushes));
    const r = (a: number, b: number) => a / b;
    row("push latency, 20 elements (median)", ms(hub.pushMedianMs), ms(mock.pushMedianMs), `${r(hub.pushMedianMs, mock.pushMedianMs).toFixed(2)}×`, "≤ 1.2×", r(hub.pushMedianMs, mock.pushMedianMs) <= 1.2);
    row(`pull of ${pushes} changesets into a fresh briefcase`, ms(hub.pullMs), ms(mock.pullMs), `${r(hub.pullMs, mock.pullMs).toFixed(2)}×`, "≤ 1.0×", r(hub.pullMs, mock.pullMs) <= 1.0);
    row("10,000 exclusive locks in one call", ms(hub.locksMs), ms(mock.locksMs), `${r(hub.locksMs, mock.locksMs).toFixed(2)}×`, "≤ 0.5×", r(hub.locksMs, mock.locksMs) <= 0.5);
    row("usable briefcase at the tip", ms(hub.usableMs), ms(mock.usableMs), `${r(hub.usableMs, mock.usableMs).toFixed(2)}×`, "(no target)", true);
  }
  if (want("hub")) {
    const sizes = only === "hub" && arg ? arg.split(",").map(Number) : [1000, 100_000, 1_000_000];
    console.log(`hub: changeset pages at ${sizes.join(", ")} changesets, small GETs/s, 200 MB download vs disk`);
    const h = await benchHubOnly(sizes, 200);
    const first = h.pages[0]!.p50;
    for (const p of h.pages) {
      row(`GET 1,000-changeset page, ${p.changesets.toLocaleString("en")} changesets (p50 / p99)`, `${ms(p.p50)} / ${ms(p.p99)}`, `${ms(first)} at ${h.pages[0]!.changesets.toLocaleString("en")}`, `${(p.p50 / first).toFixed(2)}×`, "p50 ≤ 20 ms, flat", p.p50 <= 20 && p.p50 / first <= 1.5);
    }
    row("small GETs per second (20 connections)", h.getsPerSecond.toFixed(0), "—", "—", "≥ 3,000/s", h.getsPerSecond >= 3000);
    row(`download of a ${h.download.sizeMb.toFixed(0)} MB changeset`, `${h.download.hubMBps.toFixed(0)} MB/s`, `${h.download.diskMBps.toFixed(0)} MB/s disk read`, `${((100 * h.download.hubMBps) / h.download.diskMBps).toFixed(0)}%`, "≥ 80% of disk", h.download.hubMBps >= 0.8 * h.download.diskMBps);
  }
  if (want("checkpoints")) {
    const count = Number(only === "checkpoints" && arg ? arg : 1000);
    console.log(`checkpoints: usable briefcase at the tip of ${count} changesets`);
    const c = await benchCheckpoints(count);
    row(`usable briefcase at tip, ${count} changesets: checkpoint vs replay`, ms(c.checkpointMs), `${ms(c.replayMs)} replay`, `${c.speedup.toFixed(1)}× faster`, "≥ 5× faster", c.speedup >= 5);
  }
  console.log("\n| figure | modelhub | reference | ratio | target |\n|---|---|---|---|---|");
  for (const line of rows) console.log(line);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
