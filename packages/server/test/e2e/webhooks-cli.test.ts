// `modelhub webhooks …` (issue 21) against a real hub, through @modelhub/client's Webhooks: every subcommand, its
// --json output (NDJSON lists, JSON errors on stderr) and its exit codes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { MODELHUB } from "@modelhub/test-support/cli.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const T = "6d0c2b1a-1f2e-4d3c-9b8a-7f6e5d4c3b2a";

describe("modelhub webhooks", () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub();
  });
  after(() => hub.close());

  const modelhub = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [...MODELHUB, "webhooks", ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, MODELHUB_URL: hub.url, MODELHUB_TOKEN: "alice", MODELHUB_PROFILE: "" },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
  const ok = async (args: string[]) => {
    const r = await modelhub(args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };

  it("creates, lists, shows, updates, logs, redelivers and deletes", async () => {
    const created = JSON.parse(
      await ok([
        "create",
        "--itwin",
        T,
        "--callback",
        "http://127.0.0.1:9/cli",
        "--events",
        "iModels.iModelCreated.v1,iModels.changesetPushed.v1",
        "--json",
      ]),
    ) as Json;
    assert.equal(created.scopeId, T);
    assert.deepEqual(created.eventTypes, ["iModels.iModelCreated.v1", "iModels.changesetPushed.v1"]);
    assert.match(created.secret, /^[0-9a-f]{64}$/);
    const human = await ok(["show", created.id]);
    assert.match(human, /callback: +http:\/\/127\.0\.0\.1:9\/cli/);
    assert.doesNotMatch(human, /secret/);

    const listed = (await ok(["list", "--json"]))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Json);
    assert.deepEqual(
      listed.map((w) => w.id),
      [created.id],
    );
    assert.match(await ok(["list"]), new RegExp(`^ID .*\\n${created.id} +${T}`, "m"));

    // An event to the discard port: it stays pending (retried), and can be redelivered.
    const made = await hub.api<Json>("POST", "", { body: { iTwinId: T, name: "cli" } });
    assert.equal(made.status, 201, made.text);
    const deliveries = (await ok(["deliveries", created.id, "--json"]))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Json);
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0]!.eventType, "iModels.iModelCreated.v1");
    assert.equal(deliveries[0]!.envelope.content.imodelId, made.body.iModel.id);
    assert.match(await ok(["redeliver", created.id, deliveries[0]!.id]), /is queued again/);

    const updated = JSON.parse(await ok(["update", created.id, "--active", "false", "--json"])) as Json;
    assert.equal(updated.active, false);
    assert.match(await ok(["delete", created.id, "--yes"]), new RegExp(`deleted webhook ${created.id}`));
    assert.equal((await ok(["list", "--json"])).trim(), "");
  });

  it("exits 1 with the API's error (JSON on stderr under --json), 2 for a usage mistake", async () => {
    const refused = await modelhub([
      "create",
      "--itwin",
      T,
      "--callback",
      "https://10.0.0.1/",
      "--events",
      "iModels.iModelCreated.v1",
      "--json",
    ]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(refused.stdout, "");
    const error = JSON.parse(refused.stderr) as Json;
    assert.equal(error.error.code, "InvalidiModelsRequest", refused.stderr);
    const neither = await modelhub([
      "create",
      "--callback",
      "https://example.com/",
      "--events",
      "iModels.iModelCreated.v1",
    ]);
    assert.equal(neither.code, 2, neither.stderr);
    assert.match(neither.stderr, /--itwin <itwin> or --account/);
    const nothing = await modelhub(["update", "00000000-0000-4000-8000-000000000001"]);
    assert.equal(nothing.code, 2, nothing.stderr);
    const missing = await modelhub(["show", "00000000-0000-4000-8000-000000000001"]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /Requested Webhook is not available/);
  });
});
