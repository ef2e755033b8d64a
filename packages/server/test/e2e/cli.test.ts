// `modelhub serve` as a user runs it: a separate process, its printed URL, /health, and a clean SIGTERM.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

function run(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe("modelhub serve", () => {
  it("prints its URL, answers /health without a token, requires one elsewhere, and exits 0 on SIGTERM", async () => {
    const data = await mkdtemp(join(tmpdir(), "modelhub-cli-"));
    // Default log level, as `npm start` runs it.
    const p = run(["serve", "--port", "0", "--data", data]);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /modelhub listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out());
          if (m) {
            clearInterval(timer);
            resolve(m[1]!);
          }
        }, 50);
        void p.exited.then((code) => reject(new Error(`exited ${code}: ${p.err()}`)));
      });
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "ok" });
      assert.equal((await fetch(`${url}/imodels?iTwinId=x`)).status, 401);
      assert.equal((await fetch(`${url}/imodels?iTwinId=x`, { headers: { authorization: "Bearer me" } })).status, 200);
      p.child.kill("SIGTERM");
      assert.equal(await p.exited, 0);
      assert.ok((await stat(join(data, "metadata.db"))).size > 0);
    } finally {
      p.child.kill("SIGKILL");
      await rm(data, { recursive: true, force: true });
    }
  });

  it("refuses a non-loopback host in open mode, with exit code 2", async () => {
    const p = run(["serve", "--host", "0.0.0.0", "--port", "0"]);
    assert.equal(await p.exited, 2);
    assert.match(p.err(), /open mode/);
  });

  it("`npx modelhub` works in the repository after npm ci (the command is linked at install time)", async () => {
    const root = fileURLToPath(new URL("../../../../", import.meta.url));
    const child = spawn("npx", ["--no-install", "modelhub", "--help"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, err);
    assert.match(out, /^Usage: modelhub /m);
    assert.match(out, /serve \[options\]/);
  });
});
