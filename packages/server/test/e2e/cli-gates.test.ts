// `modelhub gates list|create|show|update|delete --itwin <id|name>` as a user runs them: each command a process of
// its own against a real hub process (open mode) over HTTP, through @modelhub/client. Human output, NDJSON under
// --json, the secret printed once, what the hub holds afterwards, exit codes (0 done, 1 the hub refused, 2 usage)
// and errors as one JSON object on stderr under --json.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

let hub: HubProcess;
const SECRET = "cli-gate-secret-of-at-least-32-characters";

function modelhub(args: string[], user = "alice"): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...MODELHUB, ...args],
      { env: { ...process.env, MODELHUB_URL: hub.url, MODELHUB_TOKEN: user, GATE_SECRET: SECRET } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr }),
    );
  });
}

async function ok(args: string[]): Promise<Ran> {
  const r = await modelhub(args);
  assert.equal(r.code, 0, `modelhub ${args.join(" ")} exited ${r.code}: ${r.err}`);
  return r;
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${hub.url}${path}`, {
    method,
    headers: { authorization: "Bearer alice", "content-type": "application/json" },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: r.status, body: r.status === 204 ? {} : ((await r.json()) as Json) };
}

describe("modelhub gates list|create|show|update|delete (against a hub process)", () => {
  let iTwinId: string;
  let finished = false;

  before(async () => {
    hub = await startHubProcess();
    iTwinId = JSON.parse((await ok(["itwins", "create", "--name", "Gated plant", "--json"])).out).id as string;
  });
  after(async () => {
    await hub?.stop();
    assert.ok(finished, "the last step ran");
  });

  it("creates, lists, shows, changes and deletes an iTwin's gates, by the iTwin's name or id", async () => {
    assert.equal(lines((await ok(["gates", "list", "--itwin", "Gated plant"])).out)[0]?.startsWith("no gates"), true);

    const created = await ok([
      "gates",
      "create",
      "http://127.0.0.1:9/check",
      "--itwin",
      "gated PLANT",
      "--name",
      "integrity",
      "--timeout",
      "2s",
    ]);
    const id = /^gate ([0-9a-f-]{36}) 'integrity' now checks/.exec(created.out)?.[1];
    assert.ok(id, created.out);
    const secret = /^secret: +([0-9a-f]{64})$/m.exec(created.out)?.[1];
    assert.ok(secret, `the generated secret is printed once: ${created.out}`);
    assert.match(created.out, /timeout: +2s/);

    const given = JSON.parse(
      (
        await ok([
          "gate",
          "create",
          "http://localhost:9/b",
          "--itwin",
          iTwinId,
          "--failure",
          "open",
          "--secret-env",
          "GATE_SECRET",
          "--json",
        ])
      ).out,
    ) as Json;
    assert.deepEqual([given.name, given.failure, given.signed, given.secret], ["localhost:9", "open", true, undefined]);
    const unsigned = JSON.parse(
      (await ok(["gates", "create", "http://127.0.0.1:9/c", "--itwin", iTwinId, "--unsigned", "--json"])).out,
    ) as Json;
    assert.equal(unsigned.signed, false);

    const table = lines((await ok(["gates", "list", "--itwin", iTwinId])).out);
    assert.match(table[0]!, /^ID +NAME +URL +FAILURE +TIMEOUT +SIGNED$/);
    assert.deepEqual(
      table.slice(1).map((l) => l.split(/ +/).slice(1)),
      [
        ["integrity", "http://127.0.0.1:9/check", "closed", "2s", "yes"],
        ["localhost:9", "http://localhost:9/b", "open", "10s", "yes"],
        ["127.0.0.1:9", "http://127.0.0.1:9/c", "closed", "10s", "no"],
      ],
    );
    const ndjson = lines((await ok(["gates", "list", "--itwin", iTwinId, "--json"])).out).map(
      (l) => JSON.parse(l) as Json,
    );
    assert.deepEqual(
      ndjson.map((g) => g.id),
      [id, given.id, unsigned.id],
    );
    assert.ok(!JSON.stringify(ndjson).includes(secret) && !JSON.stringify(ndjson).includes(SECRET));

    const shown = await ok(["gates", "show", "INTEGRITY", "--itwin", iTwinId]);
    assert.match(shown.out, new RegExp(`^id: +${id}$`, "m"));
    assert.match(shown.out, /^failure: +closed \(no answer refuses\)$/m);
    assert.ok(!shown.out.includes(secret), "show never prints the secret");

    const changed = JSON.parse(
      (
        await ok([
          "gates",
          "update",
          id,
          "--itwin",
          iTwinId,
          "--failure",
          "open",
          "--timeout",
          "500ms",
          "--gate-url",
          "http://127.0.0.1:9/moved",
          "--json",
        ])
      ).out,
    ) as Json;
    assert.deepEqual([changed.failure, changed.timeoutMs, changed.url], ["open", 500, "http://127.0.0.1:9/moved"]);
    const stored = await api("GET", `/itwins/${iTwinId}/gates/${id}`);
    assert.deepEqual([stored.body.gate.failure, stored.body.gate.timeoutMs], ["open", 500]);

    const deleted = await ok(["gates", "delete", "integrity", "--itwin", iTwinId, "--yes"]);
    assert.equal(deleted.out, `deleted gate ${id} 'integrity'\n`);
    assert.equal((await api("GET", `/itwins/${iTwinId}/gates/${id}`)).status, 404);
    const deletedJson = JSON.parse(
      (await ok(["gates", "delete", unsigned.id as string, "--itwin", iTwinId, "--yes", "--json"])).out,
    ) as Json;
    assert.deepEqual(deletedJson, { deleted: true, gateId: unsigned.id, iTwinId });
    assert.deepEqual(
      (await api("GET", `/itwins/${iTwinId}/gates`)).body.gates.map((g: Json) => g.id),
      [given.id],
    );
  });

  it("refusals exit 1 and usage mistakes 2, as one JSON object on stderr under --json", async () => {
    const refused = await modelhub(["gates", "create", "http://192.168.0.10/check", "--itwin", iTwinId, "--json"]);
    assert.equal(refused.code, 1, refused.err);
    assert.equal(refused.out, "");
    const error = (JSON.parse(refused.err) as Json).error as Json;
    assert.equal(error.code, "InvalidiModelsRequest");
    assert.equal(error.exitCode, 1);
    const human = await modelhub(["gates", "create", "http://example.com/check", "--itwin", iTwinId]);
    assert.equal(human.code, 1);
    assert.match(human.err, /^modelhub gates create: InvalidiModelsRequest: .*url/);

    const unknown = await modelhub(["gates", "show", "nope", "--itwin", iTwinId, "--json"]);
    assert.equal(unknown.code, 1);
    assert.equal((JSON.parse(unknown.err) as Json).error.code, "NotFound");
    assert.equal((await modelhub(["gates", "list", "--itwin", "No such iTwin"])).code, 1);

    // Usage: no --itwin, no URL, a bad duration or mode, both secret options, nothing to change, no --yes.
    assert.equal((await modelhub(["gates", "list"])).code, 2);
    assert.equal((await modelhub(["gates", "create", "--itwin", iTwinId])).code, 2);
    assert.equal((await modelhub(["gates", "list", "--itwin", iTwinId, "--url", "http://127.0.0.1:9/"])).code, 1);
    const badTimeout = await modelhub([
      "gates",
      "create",
      "http://127.0.0.1:9/",
      "--itwin",
      iTwinId,
      "--timeout",
      "5 minutes",
    ]);
    assert.equal(badTimeout.code, 2, badTimeout.err);
    assert.equal(
      (await modelhub(["gates", "create", "http://127.0.0.1:9/", "--itwin", iTwinId, "--failure", "maybe"])).code,
      2,
    );
    const both = await modelhub([
      "gates",
      "create",
      "http://127.0.0.1:9/",
      "--itwin",
      iTwinId,
      "--unsigned",
      "--secret-env",
      "GATE_SECRET",
      "--json",
    ]);
    assert.equal(both.code, 2);
    assert.equal((JSON.parse(both.err) as Json).error.code, "UsageError");
    assert.equal((await modelhub(["gates", "update", "localhost:9", "--itwin", iTwinId])).code, 2);
    const unasked = await modelhub(["gates", "delete", "localhost:9", "--itwin", iTwinId]);
    assert.equal(unasked.code, 2, unasked.err);
    assert.match(unasked.err, /without --yes/);
    assert.equal((await api("GET", `/itwins/${iTwinId}/gates`)).body.gates.length, 1, "nothing was deleted or added");
    finished = true;
  });
});
