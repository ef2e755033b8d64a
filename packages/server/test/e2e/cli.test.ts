// `modelhub serve` as a user runs it: a separate process, its printed URL, /health, and a clean SIGTERM.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { MODELHUB } from "@modelhub/test-support/cli.js";

function run(args: string[]) {
  const child = spawn(process.execPath, [...MODELHUB, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
      assert.deepEqual(await health.json(), {
        status: "ok",
        version: (
          JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
        ).version,
      });
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
    const child = spawn("npx", ["--no-install", "modelhub", "--help"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, err);
    assert.match(out, /^Usage: modelhub /m);
    assert.match(out, /serve \[options\]/);
  });

  it("--auth tokens --admin --no-claim-itwins from the command line (and MODELHUB_AUTH from the environment): an admin starts an iTwin, others may not", async () => {
    const data = await mkdtemp(join(tmpdir(), "modelhub-cli-auth-"));
    const token = async (user: string) => {
      const made = run(["tokens", "create", "--user", user, "--data", data, "--json"]);
      assert.equal(await made.exited, 0, made.err());
      return (JSON.parse(made.out()) as { token: string }).token;
    };
    const [root, carol] = [await token("root"), await token("carol")];
    const p = spawn(
      process.execPath,
      [
        ...MODELHUB,
        "serve",
        "--port",
        "0",
        "--data",
        data,
        "--host",
        "0.0.0.0",
        "--admin",
        "root",
        "--no-claim-itwins",
        "--log-level",
        "silent",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, MODELHUB_AUTH: "tokens" },
      },
    );
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.on("exit", resolve));
    try {
      const port = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /modelhub listening on http:\/\/[^:]+:(\d+)/.exec(out);
          if (m) {
            clearInterval(timer);
            resolve(m[1]!);
          }
        }, 50);
        void exited.then((code) => reject(new Error(`exited ${code}`)));
      });
      const create = (bearer: string, iTwinId: string) =>
        fetch(`http://127.0.0.1:${port}/imodels`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${bearer}`,
            "content-type": "application/json",
            accept: "application/vnd.bentley.itwin-platform.v2+json",
          },
          body: JSON.stringify({ iTwinId, name: "m" }),
        });
      assert.equal(
        (await create("alice", "11111111-1111-4111-8111-111111111111")).status,
        401,
        "tokens mode: an unknown token is refused",
      );
      assert.equal(
        (await create(carol, "22222222-2222-4222-8222-222222222222")).status,
        403,
        "no claiming of new iTwins",
      );
      assert.equal((await create(root, "33333333-3333-4333-8333-333333333333")).status, 201, "an administrator may");
    } finally {
      p.kill("SIGTERM");
      await exited;
      await rm(data, { recursive: true, force: true });
    }
  });
});
