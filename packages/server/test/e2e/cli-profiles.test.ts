// Saved connections (`modelhub login`, profiles, logout), shell completion, and the warning of `tokens create` for a
// hub that does not check tokens: as a user runs them, against a `modelhub serve` process.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

let hub: HubProcess;
let config: string;

function modelhub(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; input?: string } = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...MODELHUB, ...args], {
      env: {
        ...process.env,
        MODELHUB_URL: undefined,
        MODELHUB_TOKEN: undefined,
        MODELHUB_PROFILE: undefined,
        MODELHUB_CONFIG_DIR: config,
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdin.end(options.input ?? "");
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

describe("modelhub login / profiles / logout", () => {
  before(async () => {
    hub = await startHubProcess();
    config = await mkdtemp(join(tmpdir(), "modelhub-profiles-"));
  });
  after(async () => {
    await hub?.stop();
    if (config) await rm(config, { recursive: true, force: true });
  });

  it("login checks the token, saves URL and token in a file only the user may read; commands then need neither", async () => {
    const r = await modelhub(["login", hub.url, "--token-stdin"], { input: "alice\n" });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^logged in to http:\/\/127\.0\.0\.1:\d+ as profile 'default' \(the default\)/);
    const path = join(config, "profiles.json");
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const saved = JSON.parse(await readFile(path, "utf8")) as {
      default: string;
      profiles: Record<string, { url: string; token: string }>;
    };
    assert.equal(saved.default, "default");
    assert.deepEqual([saved.profiles.default!.url, saved.profiles.default!.token], [hub.url, "alice"]);

    const created = await modelhub(["itwins", "create", "--name", "Profile plant", "--json"]);
    assert.equal(created.code, 0, created.err);
    assert.equal((JSON.parse(created.out) as { createdBy: string }).createdBy, "alice");
  });

  it("a second profile does not replace the default unless asked; --profile and MODELHUB_PROFILE pick it", async () => {
    assert.equal((await modelhub(["login", hub.url, "--profile", "bob", "--token", "bob"])).code, 0);
    const listed = (await modelhub(["profiles", "--json"])).out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { profile: string; default: boolean });
    assert.deepEqual(listed.map((p) => [p.profile, p.default]).sort(), [
      ["bob", false],
      ["default", true],
    ]);
    const asBob = await modelhub(["itwins", "create", "--name", "Bob's plant", "--json", "--profile", "bob"]);
    assert.equal((JSON.parse(asBob.out) as { createdBy: string }).createdBy, "bob");
    const viaEnv = await modelhub(["itwins", "create", "--name", "Bob's second", "--json"], {
      env: { MODELHUB_PROFILE: "bob" },
    });
    assert.equal((JSON.parse(viaEnv.out) as { createdBy: string }).createdBy, "bob");
    const unknown = await modelhub(["itwins", "list", "--profile", "nobody"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /no profile 'nobody'/);
  });

  it("a profile's token is never sent to another hub (--url elsewhere: no token, a usage error)", async () => {
    const elsewhere = await modelhub(["itwins", "list", "--url", "http://127.0.0.1:1"]);
    assert.equal(elsewhere.code, 2);
    assert.match(elsewhere.err, /give a token/);
  });

  it("a token the hub refuses is not saved (exit 1); logout forgets a profile", async () => {
    const bad = await modelhub(["login", "not a url", "--token", "x", "--profile", "broken"]);
    assert.equal(bad.code, 2);
    assert.ok(!(await readFile(join(config, "profiles.json"), "utf8")).includes("broken"));
    const out = await modelhub(["logout", "--profile", "bob"]);
    assert.equal(out.code, 0, out.err);
    assert.ok(!(await readFile(join(config, "profiles.json"), "utf8")).includes('"bob"'));
    assert.equal((await modelhub(["logout", "--profile", "bob"])).code, 1);
  });
});

describe("modelhub completion", () => {
  it("bash: sourced into bash, completes commands, subcommands and options", async () => {
    config = await mkdtemp(join(tmpdir(), "modelhub-completion-"));
    try {
      const script = await modelhub(["completion", "bash"]);
      assert.equal(script.code, 0, script.err);
      const file = join(config, "completion.sh");
      await writeFile(file, script.out);
      const complete = (words: string[]) =>
        new Promise<string>((resolve, reject) =>
          execFile(
            "bash",
            [
              "-c",
              `source '${file}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _modelhub_completion; echo "\${COMPREPLY[@]}"`,
            ],
            (error, stdout) => (error ? reject(error) : resolve(stdout.trim())),
          ),
        );
      assert.deepEqual((await complete(["modelhub", "itw"])).split(" ").sort(), ["itwin", "itwins"]);
      assert.deepEqual((await complete(["modelhub", "imodels", ""])).split(" ").sort(), [
        "--help",
        "create",
        "delete",
        "list",
        "show",
      ]);
      assert.ok((await complete(["modelhub", "imodel", "delete", "--"])).split(" ").includes("--yes"));
      assert.equal((await modelhub(["completion", "fish"])).code, 2);
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });
});

describe("modelhub tokens create, for a hub that does not check tokens", () => {
  it("warns on stderr (the hub records its auth mode in <data>/serve.json); the token is still made", async () => {
    const open = await startHubProcess();
    try {
      const r = await modelhub(["tokens", "create", "--user", "bob", "--data", open.dataDir, "--json"]);
      assert.equal(r.code, 0, r.err);
      assert.match((JSON.parse(r.out) as { token: string }).token, /^mh_/);
      const warning = JSON.parse(r.err) as { warning: { message: string } };
      assert.match(warning.warning.message, /runs with --auth open: it does not check hub tokens/);
    } finally {
      await open.stop();
    }
    const tokens = await startHubProcess({ args: ["--auth", "tokens"] });
    try {
      const r = await modelhub(["tokens", "create", "--user", "bob", "--data", tokens.dataDir]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.err, "", "no warning for a hub in tokens mode");
    } finally {
      await tokens.stop();
    }
  });
});
