// The packed @modelhub/server as a new user installs it: `npm run pack:server` → a tarball that carries the
// unpublished @modelhub/protocol and @modelhub/client, `npm install -g` of it (into a temporary prefix, from the npm
// cache that `npm ci` filled, where it can) → a `modelhub` command that prints its help and talks to a hub with the bundled client.
// Needs the build (`npm run build`; `npm test` runs it first).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? root, env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024 },
      (error, out, err) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

describe("the packed @modelhub/server", { timeout: 240_000 }, () => {
  let work: string;
  let tarball: string;
  let bin: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-pack-"));
    const packed = await run("npm", ["run", "--silent", "pack:server", "--", work]);
    assert.equal(packed.code, 0, packed.err);
    tarball = packed.out.trim().split("\n").at(-1)!;
    assert.match(tarball, /modelhub-server-\d+\.\d+\.\d+\.tgz$/);
    // From the npm cache where it can (--prefer-offline: what `npm ci` fetched; npm ci caches tarballs but not always
    // the package documents a range needs, so --offline alone failed with ENOTCACHED). Install scripts (native
    // builds) are not needed for the command line itself and would make this take minutes.
    const prefix = join(work, "prefix");
    // --legacy-peer-deps as the README says: iTwin.js 5.7.3's ecschema-metadata asks for a core-quantity 5.7.3 this registry
    // does not have (npm stops at ETARGET without it; the package depends on 5.7.2).
    const installed = await run(
      "npm",
      [
        "install",
        "-g",
        "--legacy-peer-deps",
        "--prefix",
        prefix,
        "--prefer-offline",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        tarball,
      ],
      { cwd: work },
    );
    assert.equal(installed.code, 0, installed.err);
    bin = join(prefix, "bin", "modelhub");
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("carries @modelhub/protocol and @modelhub/client (bundled), and `modelhub --help` runs from the install", async () => {
    const installedAt = join(work, "prefix", "lib", "node_modules", "@modelhub", "server");
    for (const name of ["protocol", "client"]) {
      const pkg = JSON.parse(
        await readFile(join(installedAt, "node_modules", "@modelhub", name, "package.json"), "utf8"),
      ) as { name: string };
      assert.equal(pkg.name, `@modelhub/${name}`);
    }
    // The sample iModel `modelhub demo` pushes (sample/ beside dist/).
    assert.match(await readFile(join(installedAt, "sample", "manifest.json"), "utf8"), /"namedVersions"/);
    // The web UI the installed hub serves at `/` (http/web-ui.ts finds it in web-ui/ beside dist/).
    assert.match(await readFile(join(installedAt, "web-ui", "index.html"), "utf8"), /<script[^>]+src="\.?\/?assets\//);
    const help = await run(bin, ["--help"], { cwd: work });
    assert.equal(help.code, 0, help.err);
    assert.match(help.out, /^Usage: modelhub /m);
    // Plural nouns, listed with their singular alias (`imodels|imodel`).
    for (const command of [
      "serve",
      "demo",
      "imodels|imodel",
      "changesets|changeset",
      "versions|version",
      "briefcases|briefcase",
      "locks|lock",
      "checkpoints|checkpoint",
    ])
      assert.match(help.out, new RegExp(`^  ${command.replace("|", "\\|")} `, "m"));
  });

  it("the installed command lists a hub's iModels through the bundled client", async () => {
    const hub = await startHubProcess();
    try {
      const iTwinId = "abababab-1111-4111-8111-111111111111";
      const created = await fetch(`${hub.url}/imodels`, {
        method: "POST",
        headers: {
          authorization: "Bearer alice",
          "content-type": "application/json",
          accept: "application/vnd.bentley.itwin-platform.v2+json",
        },
        body: JSON.stringify({ iTwinId, name: "packed" }),
      });
      assert.equal(created.status, 201);
      const listed = await run(bin, ["imodel", "list", "--itwin", iTwinId, "--json"], {
        cwd: work,
        env: { ...process.env, MODELHUB_URL: hub.url, MODELHUB_TOKEN: "alice" },
      });
      assert.equal(listed.code, 0, listed.err);
      assert.equal((JSON.parse(listed.out) as { name: string }).name, "packed");
    } finally {
      await hub.stop();
    }
  });

  it("`npm pack -w packages/server` refuses (it would leave the workspace packages out) and names the script to use", async () => {
    const refused = await run("npm", ["pack", "-w", "packages/server", "--pack-destination", work]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.err, /npm run pack:server/);
  });
});
