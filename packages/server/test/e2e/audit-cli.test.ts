// `modelhub audit` and `modelhub briefcases list|release` against a real hub over HTTP, as an operator runs them.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeChangesets } from "../support/fixtures.js";
import { acquireBriefcase, createIModelFromFile } from "../support/flows.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import { MODELHUB } from "../support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "66666666-6666-4666-8666-666666666666";

function modelhub(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    delete clean.MODELHUB_URL;
    delete clean.MODELHUB_TOKEN;
    const child = spawn(process.execPath, [...MODELHUB, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...clean, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("modelhub audit / modelhub briefcases (CLI over HTTP)", () => {
  let hub: TestHub;
  let iModelId: string;
  let briefcaseId: number;

  before(async () => {
    const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 1);
    hub = await startTestHub();
    iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "cli-audited" })).id;
    briefcaseId = await acquireBriefcase(hub, iModelId, "alice");
    const locked = await hub.api("PATCH", `/${iModelId}/locks`, {
      user: "alice",
      body: { briefcaseId, changesetId: "", lockedObjects: [{ lockLevel: "exclusive", objectIds: ["0x20000000001", "0x20000000002"] }, { lockLevel: "shared", objectIds: ["0x10"] }] },
    });
    assert.equal(locked.status, 200, locked.text);
  });
  after(() => hub?.close());

  it("briefcases list shows the owner and lock count; release frees the briefcase and its locks, and alice's next lock with it is refused", async () => {
    const env = { MODELHUB_URL: hub.url, MODELHUB_TOKEN: "bob" };
    const listed = await modelhub(["briefcases", "list", iModelId, "--json"], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      listed.stdout.trim().split("\n").map((l) => JSON.parse(l) as Json).map((b) => [b.briefcaseId, b.ownerId, b.locks]),
      [[briefcaseId, "alice", 3]],
    );

    const released = await modelhub(["briefcases", "release", iModelId, String(briefcaseId)], env);
    assert.equal(released.code, 0, released.stderr);
    assert.equal(released.stdout.trim(), `released briefcase ${briefcaseId} of alice and its 3 locks`);
    const locks = await hub.api<Json>("GET", `/${iModelId}/locks`);
    assert.deepEqual(locks.body.locks, [], "no lock is left");

    const again = await hub.api<Json>("PATCH", `/${iModelId}/locks`, {
      user: "alice",
      body: { briefcaseId, changesetId: "", lockedObjects: [{ lockLevel: "exclusive", objectIds: ["0x20000000001"] }] },
    });
    assert.equal(again.status, 404, again.text);
    assert.equal(again.body.error.code, "BriefcaseNotFound");

    const twice = await modelhub(["briefcases", "release", iModelId, String(briefcaseId)], env);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /^modelhub briefcases release: the hub answered 404: BriefcaseNotFound: /);
  });

  it("audit prints one line per entry (who, action, outcome, target), filters, and --json gives one object per line", async () => {
    const env = { MODELHUB_URL: hub.url, MODELHUB_TOKEN: "carol" };
    const text = await modelhub(["audit", "--imodel", iModelId], env);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split("\n");
    const actions = lines.map((l) => l.split("  ")[2]);
    assert.deepEqual(actions, ["imodel.create", "storage.upload", "imodel.baseline.complete", "briefcase.acquire", "locks.update", "briefcase.release", "locks.update"]);
    const release = lines[5]!;
    assert.match(release, /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}bob {2}briefcase\.release {2}204 success {2}imodel=[0-9a-f-]{36} {2}itwin=66666666-6666-4666-8666-666666666666 {2}target=\d+ {2}from=\S+ {2}request=\S+$/);
    assert.ok(release.includes(`target=${briefcaseId}`));
    assert.match(lines[6]!, /alice {2}locks\.update {2}404 refused .* error=BriefcaseNotFound/);

    const json = await modelhub(["audit", "--itwin", ITWIN, "--user", "bob", "--json", "--since", "1h"], env);
    assert.equal(json.code, 0, json.stderr);
    const entries = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as Json);
    assert.deepEqual(entries.map((e) => [e.action, e.userId, e.iModelId, e.target, e.outcome]), [["briefcase.release", "bob", iModelId, String(briefcaseId), "success"]]);

    const limited = await modelhub(["audit", "--imodel", iModelId, "--limit", "2", "--newest-first", "--url", hub.url, "--token", "carol"]);
    assert.equal(limited.code, 0, limited.stderr);
    assert.deepEqual(limited.stdout.trim().split("\n").map((l) => l.split("  ")[2]), ["locks.update", "briefcase.release"]);
  });

  it("refuses clearly: no token (2), a bad time (2), an iModel the hub does not have (1, the API's code)", async () => {
    const noToken = await modelhub(["audit", "--url", hub.url]);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /give a token with --token or MODELHUB_TOKEN/);
    const badTime = await modelhub(["audit", "--since", "last tuesday"], { MODELHUB_URL: hub.url, MODELHUB_TOKEN: "carol" });
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /'last tuesday' is not a time/);
    const missing = await modelhub(["audit", "--imodel", "00000000-0000-4000-8000-000000000000"], { MODELHUB_URL: hub.url, MODELHUB_TOKEN: "carol" });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /the hub answered 404: iModelNotFound/);
  });
});
