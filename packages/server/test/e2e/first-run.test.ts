// The first run as a newcomer meets it: `npm ci` quiet on the documented Node (no EBADENGINE for what the hub runs,
// install scripts reviewed), `modelhub --version`, a banner that says what runs, a log a person can read on a
// terminal (one line per request) and JSON lines for collectors, the version in /health, and a failed baseline that
// says why in the log.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MODELHUB } from "@modelhub/test-support/cli.js";

const ROOT = new URL("../../../../", import.meta.url);
const VERSION = (
  JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [...MODELHUB, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function until<T>(
  what: string,
  probe: () => T | undefined,
  exited: Promise<unknown>,
  timeoutMs = 60_000,
): Promise<T> {
  let ended = false;
  void exited.then(() => (ended = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (ended) throw new Error(`the process ended before ${what}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Node 20.19, the oldest the README and `engines` promise. */
const NODE = [20, 19, 0] as const;

/** Whether `version` satisfies one `engines.node` comparator set such as `>=18`, `^20.19.0`, `>= 14 < 22`, `20.x`, `*`. */
function satisfiesSet(set: string, version: readonly number[]): boolean {
  const cmp = (a: readonly number[], b: readonly number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  const parse = (v: string) => {
    const parts = v
      .replace(/^v/, "")
      .split(".")
      .map((p) => (p === "x" || p === "*" ? NaN : Number(p)));
    return [parts[0] ?? NaN, parts[1] ?? NaN, parts[2] ?? NaN];
  };
  const tokens = set
    .replace(/(>=|<=|>|<|\^|~|=)\s+/g, "$1")
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  if (tokens.length === 0) return true;
  return tokens.every((token) => {
    if (token === "*" || token === "x") return true;
    const m = /^(>=|<=|>|<|\^|~|=)?(.+)$/.exec(token)!;
    const op = m[1] ?? "";
    const raw = parse(m[2]!);
    const v = raw.map((n) => (Number.isNaN(n) ? 0 : n));
    const c = cmp(version, v);
    switch (op) {
      case ">=":
        return c >= 0;
      case ">":
        return c > 0;
      case "<=":
        return c <= 0;
      case "<":
        return c < 0;
      case "^":
        return c >= 0 && version[0] === v[0];
      case "~":
        return c >= 0 && version[0] === v[0] && version[1] === v[1];
      default:
        // 20, 20.x, 20.19.0: a partial version matches everything it names.
        return raw.every((n, i) => Number.isNaN(n) || n === version[i]);
    }
  });
}

const satisfies = (range: string, version: readonly number[]) =>
  range.split("||").some((set) => satisfiesSet(set, version));

describe("npm ci on the documented Node", () => {
  it("the range checker used below reads engines fields the way npm does", () => {
    assert.ok(satisfies(">=18", NODE));
    assert.ok(!satisfies(">=22", NODE));
    assert.ok(satisfies("18 || 20 || >=22", NODE));
    assert.ok(satisfies("^20.19.0 || >=22.12.0", NODE));
    assert.ok(!satisfies("^20.20.0 || >=22", NODE));
    assert.ok(satisfies(">= 14 < 22", NODE));
    assert.ok(!satisfies("20.x >=20.20", NODE));
  });

  it("no package the hub installs for running (not devDependencies) wants a newer Node than 20.19 in the lock file", async () => {
    const lock = JSON.parse(await readFile(new URL("package-lock.json", ROOT), "utf8")) as {
      packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
    };
    const tooNew = Object.entries(lock.packages)
      .filter(
        ([path, p]) =>
          path !== "" &&
          !p.dev &&
          p.engines &&
          !Array.isArray(p.engines) &&
          p.engines.node !== undefined &&
          !satisfies(p.engines.node, NODE),
      )
      .map(([path, p]) => `${path}@${p.version} wants node ${(p.engines as { node: string }).node}`);
    assert.deepEqual(tooNew, []);
  });

  it("every package with an install script is reviewed in allowScripts (npm 11 otherwise ends npm ci with a warning)", async () => {
    const root = JSON.parse(await readFile(new URL("package.json", ROOT), "utf8")) as {
      allowScripts?: Record<string, boolean>;
    };
    const lock = JSON.parse(await readFile(new URL("package-lock.json", ROOT), "utf8")) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const reviewed = new Set(Object.keys(root.allowScripts ?? {}).map((k) => k.replace(/(.)@.*$/, "$1")));
    const unreviewed = Object.entries(lock.packages)
      .filter(([path, p]) => p.hasInstallScript && path.includes("node_modules/"))
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length))
      .filter((name) => !reviewed.has(name));
    assert.deepEqual([...new Set(unreviewed)], []);
  });
});

describe("modelhub --version", () => {
  for (const flag of ["--version", "-V"]) {
    it(`${flag} prints the package's version and exits 0`, async () => {
      const p = run([flag]);
      assert.equal(await p.exited, 0);
      assert.equal(p.out().trim(), VERSION);
    });
  }
});

describe("modelhub serve: banner and log", () => {
  it("--log-format human: a banner with version, auth, backends and web UI; one readable line per request; a failed baseline says why", async () => {
    const data = await mkdtemp(join(tmpdir(), "modelhub-first-run-"));
    const p = run(["serve", "--port", "0", "--data", data, "--log-format", "human"]);
    try {
      const url = await until(
        "the banner",
        () => /modelhub listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out())?.[1],
        p.exited,
      );
      const banner = p.out();
      assert.match(banner, new RegExp(`^  version:  ${VERSION.replace(/\./g, "\\.")}$`, "m"));
      assert.match(banner, /^ {2}web UI: {3}http:\/\/127\.0\.0\.1:\d+\/$/m);
      assert.match(banner, /^ {2}auth: {5}open \(/m);
      assert.match(
        banner,
        new RegExp(`^  metadata: sqlite \\(${data.replace(/[/.]/g, "\\$&")}/metadata\\.db\\)$`, "m"),
      );
      assert.match(banner, /^ {2}blobs: {4}fs \(/m);

      const health = (await (await fetch(`${url}/health`)).json()) as { status: string; version: string };
      assert.deepEqual(health, { status: "ok", version: VERSION });
      assert.equal(
        (await fetch(`${url}/imodels?iTwinId=first-run`, { headers: { authorization: "Bearer alice" } })).status,
        200,
      );

      const line = await until(
        "the request's log line",
        () =>
          p
            .out()
            .split("\n")
            .find((l) => l.includes("/imodels?iTwinId=first-run")),
        p.exited,
      );
      assert.match(
        line,
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z INFO {2}alice GET \/imodels\?iTwinId=first-run 200 \d+(\.\d)? ms$/,
      );
      assert.equal(
        p
          .out()
          .split("\n")
          .filter((l) => l.includes("iTwinId=first-run")).length,
        1,
        "one line per request",
      );
      assert.ok(
        !p
          .out()
          .split("\n")
          .some((l) => l.startsWith("{")),
        "no JSON in the human format",
      );

      // A file that is not an iModel: the CLI reports the failure, and the hub's log says which iModel and why.
      const junk = join(data, "junk.bim");
      await writeFile(junk, "this is not an iModel\n".repeat(100));
      const create = run(
        [
          "imodel",
          "create",
          "--itwin",
          "00000000-0000-4000-8000-000000000001",
          "--name",
          "Junk",
          "--from",
          junk,
          "--url",
          url,
        ],
        { MODELHUB_TOKEN: "alice" },
      );
      assert.equal(await create.exited, 1, create.err());
      const failure = await until(
        "the baseline failure's log line",
        () =>
          p
            .out()
            .split("\n")
            .find((l) => l.includes("the baseline of iModel 'Junk' failed")),
        p.exited,
      );
      assert.match(failure, /^\S+ \S+ WARN {2}the baseline of iModel 'Junk' failed: .*not an iModel/i);
    } finally {
      p.child.kill("SIGTERM");
      await p.exited;
      await rm(data, { recursive: true, force: true });
    }
  });

  it("piped without a flag (or --log-format json): JSON lines, one per request, with user, method, path, status and duration", async () => {
    const data = await mkdtemp(join(tmpdir(), "modelhub-first-run-"));
    const p = run(["serve", "--port", "0", "--data", data]);
    try {
      const url = await until(
        "the banner",
        () => /modelhub listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out())?.[1],
        p.exited,
      );
      assert.match(p.out(), /^ {2}log: {6}JSON lines/m);
      assert.equal(
        (await fetch(`${url}/imodels?iTwinId=piped`, { headers: { authorization: "Bearer bob" } })).status,
        200,
      );
      const line = await until(
        "the request's log line",
        () =>
          p
            .out()
            .split("\n")
            .find((l) => l.includes("iTwinId=piped")),
        p.exited,
      );
      const entry = JSON.parse(line) as {
        msg: string;
        user: string;
        req: { method: string; url: string };
        res: { statusCode: number };
        responseTime: number;
        reqId: string;
      };
      assert.equal(entry.msg, "request completed");
      assert.equal(entry.user, "bob");
      assert.deepEqual(entry.req, { method: "GET", url: "/imodels?iTwinId=piped" });
      assert.equal(entry.res.statusCode, 200);
      assert.equal(typeof entry.responseTime, "number");
      assert.equal(typeof entry.reqId, "string");
      assert.equal(
        p
          .out()
          .split("\n")
          .filter((l) => l.includes("iTwinId=piped")).length,
        1,
        "one line per request",
      );
    } finally {
      p.child.kill("SIGTERM");
      await p.exited;
      await rm(data, { recursive: true, force: true });
    }
  });

  it("--log-format takes human or json only (usage error, exit 2)", async () => {
    const p = run(["serve", "--log-format", "xml"]);
    assert.equal(await p.exited, 2);
    assert.match(p.err(), /One of human, json/);
  });
});
