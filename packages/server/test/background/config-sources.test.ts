// Where `modelhub serve` options come from: command line > MODELHUB_* environment > --config file > defaults.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Command } from "commander";
import { applyConfigSources } from "../../src/config-sources.js";
import { ConfigError, makeConfig } from "../../src/config.js";

const collect = (value: string, previous: string[]) => [...previous, value];

/** A command with options of each kind `serve` has: number, string, repeatable, negated flag, config file. */
function serveLike(): Command {
  return new Command("serve")
    .exitOverride()
    .option("-p, --port <port>", "", (v) => Number(v), 3000)
    .option("--public-url <origin>", "")
    .option("--auth <mode>", "", "open")
    .option("--issuer <url>", "")
    .option("--admin <user>", "", collect, [])
    .option("--no-metrics", "")
    .option("--link-secret-file <path>", "")
    .option("--config <file>", "")
    .action(() => undefined);
}

describe("config sources", () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-config-"));
    file = join(dir, "modelhub.json");
    await writeFile(
      file,
      JSON.stringify({
        port: 4000,
        publicUrl: "https://file.example",
        auth: "tokens",
        admin: ["root", "ops"],
        metrics: false,
        issuer: "https://file-issuer",
      }),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const load = (argv: string[], env: NodeJS.ProcessEnv) => {
    const command = serveLike();
    command.parse(argv, { from: "user" });
    const sources = applyConfigSources(command, env);
    return { opts: command.opts(), sources };
  };

  it("command line beats environment beats file beats defaults, option by option", () => {
    const { opts } = load(["--config", file, "--port", "5000"], {
      MODELHUB_PUBLIC_URL: "https://env.example",
      MODELHUB_ADMIN: "alice,bob",
      MODELHUB_OIDC_ISSUER: "https://env-issuer",
    });
    assert.equal(opts.port, 5000, "command line");
    assert.equal(opts.publicUrl, "https://env.example", "environment over file");
    assert.deepEqual(opts.admin, ["alice", "bob"], "a repeatable option from a comma-separated variable");
    assert.equal(opts.issuer, "https://env-issuer", "OIDC options use MODELHUB_OIDC_… names");
    assert.equal(opts.auth, "tokens", "file over default");
    assert.equal(opts.metrics, false, "a negated flag from the file");
  });

  it("MODELHUB_CONFIG names the file; without any source the defaults stay", () => {
    assert.equal(load([], { MODELHUB_CONFIG: file }).opts.port, 4000);
    const plain = load([], {}).opts;
    assert.deepEqual([plain.port, plain.auth, plain.metrics, plain.admin], [3000, "open", true, []]);
  });

  it("the link secret comes from the environment or the file, never the command line alone, and must be 32 bytes", async () => {
    const key = randomBytes(32);
    assert.deepEqual(load([], { MODELHUB_LINK_SECRET: key.toString("base64") }).sources.linkSecret, key);
    const keyFile = join(dir, "link.key");
    await writeFile(keyFile, key.toString("base64"));
    assert.deepEqual(load(["--link-secret-file", keyFile], {}).sources.linkSecret, key);
    assert.equal(load([], {}).sources.linkSecret, undefined);
    const short = load([], { MODELHUB_LINK_SECRET: randomBytes(16).toString("base64") }).sources.linkSecret;
    assert.throws(
      () => makeConfig({ linkSecret: short }),
      (err: Error) => err instanceof ConfigError && /32/.test(err.message),
    );
  });

  it("refuses unknown file keys and values of the wrong kind, naming them", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ prot: 1 }));
    assert.throws(
      () => load(["--config", bad], {}),
      (err: Error) => err instanceof ConfigError && /'prot'/.test(err.message),
    );
    await writeFile(bad, JSON.stringify({ metrics: "no" }));
    assert.throws(() => load(["--config", bad], {}), ConfigError);
    assert.throws(() => load([], { MODELHUB_METRICS: "perhaps" }), ConfigError);
  });
});
