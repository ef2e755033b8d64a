// The command line's contract, checked over every command it has (found by walking `--help`, so a new command is
// checked without being listed here): help exits 0; plural nouns (the singular as an alias); a usage mistake exits 2
// with a short message, not the whole help; under --json every error is one JSON object on stderr (nothing on
// stdout); and output into a pipe that closes early (`modelhub audit | head`) ends quietly.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

function modelhub(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...MODELHUB, ...args],
      {
        env: {
          ...process.env,
          MODELHUB_URL: undefined,
          MODELHUB_TOKEN: undefined,
          MODELHUB_PROFILE: undefined,
          MODELHUB_CONFIG_DIR: "/nonexistent-modelhub-config",
          ...env,
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

interface CommandInfo {
  path: string[];
  names: string[];
  usage: string;
  help: string;
  leaf: boolean;
}

/** Every command reachable from `modelhub --help`, with its help text. */
async function walk(path: string[] = []): Promise<CommandInfo[]> {
  const r = await modelhub([...path, "--help"]);
  assert.equal(r.code, 0, `modelhub ${path.join(" ")} --help exited ${r.code}: ${r.err}`);
  assert.match(r.out, /^Usage: modelhub/);
  const commands = /\nCommands:\n([\s\S]*)$/.exec(r.out)?.[1] ?? "";
  const children = [...commands.matchAll(/^ {2}(\S+)/gm)]
    .map((m) => m[1]!.split("|"))
    .filter((names) => names[0] !== "help");
  const here: CommandInfo = {
    path,
    names: path.length ? [path[path.length - 1]!] : [],
    usage: r.out.split("\n")[0]!,
    help: r.out,
    leaf: children.length === 0,
  };
  const below = await inParallel(children, async (names) => {
    const nested = await walk([...path, names[0]!]);
    nested[0]!.names = names;
    return nested;
  });
  return [here, ...below.flat()];
}

/**
 * `run` over `items`, a few at a time, results in order. Each command is a process that mostly waits (for its
 * modules, or for the client's retries against a hub that is not there: ~4 s each), so running them one by one
 * made this file take minutes.
 */
async function inParallel<T, R>(items: readonly T[], run: (item: T) => Promise<R>, width = 6): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await run(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return results;
}

const NOUNS = [
  "itwins",
  "imodels",
  "changesets",
  "versions",
  "briefcases",
  "locks",
  "checkpoints",
  "gates",
  "tokens",
  "webhooks",
];

/** Values for a leaf's positional arguments that parse (the hub is never reached in these checks). */
function dummyArguments(usage: string): string[] {
  return [...usage.matchAll(/<([^>]+)>/g)].map((m) =>
    m[1] === "imodel" || m[1] === "iModelId"
      ? "00000000-0000-4000-8000-000000000001"
      : /changeset|briefcase/i.test(m[1]!)
        ? "1"
        : m[1] === "shell"
          ? "bash"
          : "x",
  );
}

let commands: CommandInfo[];
let closedPort: number;

describe("the command line's contract, on every command", () => {
  before(async () => {
    commands = await walk();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closedPort = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("every command's --help exits 0; the nouns are plural with the singular as an alias", () => {
    assert.ok(commands.length > 40, `found ${commands.length} commands`);
    const top = commands.filter((c) => c.path.length === 1);
    for (const noun of NOUNS) {
      const found = top.find((c) => c.names[0] === noun);
      assert.ok(found, `modelhub ${noun}`);
      assert.ok(
        found.names.includes(noun.replace(/s$/, "")),
        `${noun} has the singular alias: ${found.names.join("|")}`,
      );
    }
  });

  it("an unknown command exits 2 with a short message (not the whole help); under --json one JSON object on stderr", async () => {
    const r = await modelhub(["frobnicate"]);
    assert.equal(r.code, 2);
    assert.equal(r.out, "");
    assert.ok(r.err.trim().split("\n").length <= 2, r.err);
    assert.match(r.err, /unknown command 'frobnicate'/);
    assert.doesNotMatch(r.err, /Commands:/);
    const j = await modelhub(["frobnicate", "--json"]);
    assert.equal(j.code, 2);
    assert.deepEqual(JSON.parse(j.err), {
      error: { code: "UsageError", message: "unknown command 'frobnicate'", exitCode: 2 },
    });
    // A group without its subcommand is a usage mistake too.
    assert.equal((await modelhub(["imodels"])).code, 2);
  });

  it("every command: an unknown option is a usage error, exit 2, one JSON object on stderr under --json", async () => {
    const leaves = commands.filter((c) => c.leaf);
    const ran = await inParallel(leaves, (c) =>
      modelhub([...c.path, ...dummyArguments(c.usage), "--no-such-option", "--json"]),
    );
    assert.equal(ran.length, leaves.length);
    for (const [i, c] of leaves.entries()) {
      const r = ran[i]!;
      assert.equal(r.code, 2, `modelhub ${c.path.join(" ")}: ${r.err}`);
      assert.equal(r.out, "", `modelhub ${c.path.join(" ")} wrote to stdout`);
      const error = JSON.parse(r.err) as { error: { code: string; message: string } };
      assert.equal(error.error.code, "UsageError", c.path.join(" "));
      // (commander reports a missing required option first, when one is missing: a usage error as well)
      assert.match(error.error.message, /unknown option '--no-such-option'|required option .* not specified/);
    }
  });

  it("every command that calls a hub takes --json, and under --json a hub it cannot reach is one JSON error on stderr (exit 1 or 2), nothing on stdout", async () => {
    const hubCommands = commands.filter((c) => c.leaf && c.help.includes("--url <origin>"));
    assert.ok(hubCommands.length >= 25, `${hubCommands.length} commands call a hub`);
    for (const c of hubCommands) assert.match(c.help, /--json/, `modelhub ${c.path.join(" ")} has --json`);
    const ran = await inParallel(hubCommands, (c) =>
      modelhub(
        [...c.path, ...dummyArguments(c.usage), "--json", "--yes"].filter(
          (a) => a !== "--yes" || c.help.includes("--yes"),
        ),
        {
          MODELHUB_URL: `http://127.0.0.1:${closedPort}`,
          MODELHUB_TOKEN: "alice",
        },
      ),
    );
    assert.equal(ran.length, hubCommands.length);
    for (const [i, c] of hubCommands.entries()) {
      const r = ran[i]!;
      const where = `modelhub ${c.path.join(" ")}: ${r.err}`;
      assert.ok(r.code === 1 || r.code === 2, where);
      assert.equal(r.out, "", where);
      const lines = r.err.trim().split("\n");
      assert.equal(lines.length, 1, where);
      const error = (JSON.parse(lines[0]!) as { error: { code: string; exitCode: number; message: string } }).error;
      assert.equal(error.exitCode, r.code, where);
      // Either it was a usage mistake (a required option these dummy arguments leave out) or the hub was unreachable.
      assert.ok(error.code === "UsageError" || error.code === "NetworkError", where);
    }
  });
});

describe("output into a pipe that closes early", () => {
  let hub: HubProcess;
  before(async () => {
    hub = await startHubProcess();
  });
  after(async () => {
    await hub?.stop();
  });

  it("`modelhub audit | head -1`: the command ends quietly with 0 when its reader stops reading", async () => {
    // ~600 audit entries: more than a pipe holds (64 KiB), so the command is still writing when the reader goes.
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${hub.url}/itwins`, {
        method: "POST",
        headers: {
          authorization: "Bearer alice",
          "content-type": "application/json",
          accept: "application/vnd.bentley.itwin-platform.v2+json",
        },
        body: JSON.stringify({ displayName: `pipe ${i}`, class: "Endeavor", subClass: "Project" }),
      });
      assert.equal(r.status, 201);
    }
    const child = spawn(process.execPath, [...MODELHUB, "audit"], {
      env: {
        ...process.env,
        MODELHUB_URL: hub.url,
        MODELHUB_TOKEN: "alice",
        MODELHUB_CONFIG_DIR: "/nonexistent-modelhub-config",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const first = await new Promise<string>((resolve) =>
      child.stdout.once("data", (d: Buffer) => resolve(d.toString())),
    );
    assert.match(first, /itwin\.create/);
    child.stdout.destroy(); // what `head` does once it has its lines
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    assert.equal(err, "", "no stack trace");
    assert.equal(code, 0);
  });
});
