// The ratios `npm run bench -- --record` wrote (bench/recorded.json) and `npm run bench -- --check` compares with: a
// ratio more than 10% worse than its recorded value is a regression. Ratios only (each measured side by side with its
// reference in one run), so that the check means the same on a busier or quieter machine.
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";

export interface Ratio {
  figure: string;
  value: number;
  /** Which way is better: push time / HubMock is "lower", a speed-up "higher". */
  better: "lower" | "higher";
  /** When, at which commit and load this ratio was recorded (the file's own date is its last write's). */
  recorded?: { date: string; commit: string; load?: number[] };
}

export interface Recorded {
  date: string;
  commit: string;
  /** The machine's load average (1, 5, 15 minutes) when the run ended. */
  load: number[];
  ratios: Record<string, Ratio>;
}

export const RECORDED_PATH = new URL("./recorded.json", import.meta.url);
/** How much worse than recorded a ratio may be. */
export const TOLERANCE = 0.1;

export async function readRecorded(): Promise<Recorded> {
  return JSON.parse(await readFile(RECORDED_PATH, "utf8")) as Recorded;
}

/** `value` compared with `recorded`: the relative change for the worse (negative: better). */
export function worseBy(value: number, recorded: Ratio): number {
  return recorded.better === "lower" ? value / recorded.value - 1 : recorded.value / value - 1;
}

/** The run's ratios against the recorded ones: a report line each, and how many are worse by more than 10%. */
export function compareRatios(
  measured: Record<string, Ratio>,
  recorded: Recorded,
): { report: string; regressions: number } {
  const lines = [
    `check against bench/recorded.json (${recorded.date}, ${recorded.commit}, load ${recorded.load.join(" ")}):`,
  ];
  let regressions = 0;
  for (const [key, ratio] of Object.entries(measured)) {
    const before = recorded.ratios[key];
    if (!before) {
      lines.push(`  ${key}: ${ratio.value.toFixed(2)} (nothing recorded)`);
      continue;
    }
    const worse = worseBy(ratio.value, before);
    const regressed = worse > TOLERANCE;
    if (regressed) regressions++;
    const when = before.recorded ? ` on ${before.recorded.date.slice(0, 10)} at ${before.recorded.commit}` : "";
    lines.push(
      `  ${regressed ? "REGRESSION" : "ok"} ${key} (${ratio.figure}): ${ratio.value.toFixed(2)} vs ${before.value.toFixed(2)} recorded${when} ` +
        `(${worse >= 0 ? `${(100 * worse).toFixed(0)}% worse` : `${(-100 * worse).toFixed(0)}% better`})`,
    );
  }
  return { report: lines.join("\n"), regressions };
}

export async function checkRatios(measured: Record<string, Ratio>): Promise<{ report: string; regressions: number }> {
  return compareRatios(measured, await readRecorded());
}

/** Writes this run's ratios over the recorded ones with the same keys (others are kept). */
export async function recordRatios(measured: Record<string, Ratio>): Promise<string> {
  const before = await readRecorded().catch(() => undefined);
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const now = { date: new Date().toISOString(), commit, load: loadavg().map((x) => Math.round(x * 100) / 100) };
  const stamped = Object.fromEntries(Object.entries(measured).map(([k, r]) => [k, { ...r, recorded: now }]));
  const recorded: Recorded = { ...now, ratios: { ...before?.ratios, ...stamped } };
  await writeFile(RECORDED_PATH, `${JSON.stringify(recorded, null, 2)}\n`);
  return `recorded ${Object.keys(measured).length} ratio(s) in bench/recorded.json (commit ${commit}, load ${recorded.load.join(" ")})`;
}
