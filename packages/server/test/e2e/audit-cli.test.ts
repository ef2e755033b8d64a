// `modelhub audit` and `modelhub briefcases list|release` against a real hub over HTTP, as an operator runs them.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { after, before, describe, it } from "node:test";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "66666666-6666-4666-8666-666666666666";
/** A control character other than the line feeds that end lines. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function modelhub(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    delete clean.MODELHUB_URL;
    delete clean.MODELHUB_TOKEN;
    const child = spawn(process.execPath, [...MODELHUB, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...clean, ...env },
    });
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
      body: {
        briefcaseId,
        changesetId: "",
        lockedObjects: [
          { lockLevel: "exclusive", objectIds: ["0x20000000001", "0x20000000002"] },
          { lockLevel: "shared", objectIds: ["0x10"] },
        ],
      },
    });
    assert.equal(locked.status, 200, locked.text);
  });
  after(() => hub?.close());

  it("briefcases list shows the owner and lock count; release frees the briefcase and its locks, and alice's next lock with it is refused", async () => {
    const env = { MODELHUB_URL: hub.url, MODELHUB_TOKEN: "bob" };
    const listed = await modelhub(["briefcases", "list", iModelId, "--json"], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      listed.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Json)
        .map((b) => [b.briefcaseId, b.ownerId, b.locks]),
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
    assert.deepEqual(actions, [
      "imodel.create",
      "storage.upload",
      "imodel.baseline.complete",
      "briefcase.acquire",
      "locks.update",
      "briefcase.release",
      "locks.update",
    ]);
    const release = lines[5]!;
    assert.match(
      release,
      /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}bob {2}briefcase\.release {2}204 success {2}imodel=[0-9a-f-]{36} {2}itwin=66666666-6666-4666-8666-666666666666 {2}target=\d+ {2}from=\S+ {2}request=\S+$/,
    );
    assert.ok(release.includes(`target=${briefcaseId}`));
    assert.match(lines[6]!, /alice {2}locks\.update {2}404 refused .* error=BriefcaseNotFound/);

    const json = await modelhub(["audit", "--itwin", ITWIN, "--user", "bob", "--json", "--since", "1h"], env);
    assert.equal(json.code, 0, json.stderr);
    const entries = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Json);
    assert.deepEqual(
      entries.map((e) => [e.action, e.userId, e.iModelId, e.target, e.outcome]),
      [["briefcase.release", "bob", iModelId, String(briefcaseId), "success"]],
    );

    const limited = await modelhub([
      "audit",
      "--imodel",
      iModelId,
      "--limit",
      "2",
      "--newest-first",
      "--url",
      hub.url,
      "--token",
      "carol",
    ]);
    assert.equal(limited.code, 0, limited.stderr);
    assert.deepEqual(
      limited.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("  ")[2]),
      ["locks.update", "briefcase.release"],
    );
  });

  it("refuses clearly: no token (2), a bad time (2), an iModel the hub does not have (1, the API's code)", async () => {
    const noToken = await modelhub(["audit", "--url", hub.url]);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /give a token with --token or MODELHUB_TOKEN/);
    const badTime = await modelhub(["audit", "--since", "last tuesday"], {
      MODELHUB_URL: hub.url,
      MODELHUB_TOKEN: "carol",
    });
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /'last tuesday' is not a time/);
    const missing = await modelhub(["audit", "--imodel", "00000000-0000-4000-8000-000000000000"], {
      MODELHUB_URL: hub.url,
      MODELHUB_TOKEN: "carol",
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /the hub answered 404: iModelNotFound/);
  });

  // Issue 18, finding 4: a storage path with %0D%0A and escape sequences made `modelhub audit` print a forged entry
  // and raw terminal escapes.
  it("a blob name with a line break and escapes is refused unrecorded, and whatever the log holds prints as one escaped line per entry", async () => {
    const forged = "2026-01-01T00:00:00.000Z  root  imodel.delete  200 success";
    const put = await fetch(
      `${hub.url}/storage/modelhub/files/${iModelId}/x%0D%0A${encodeURIComponent(forged)}%1B%5B2J%C2%9B31m/y?sig=x`,
      { method: "PUT", body: "data" },
    );
    assert.equal(put.status, 400);
    assert.match(await put.text(), /InvalidUri/);
    // What a hub recorded before this fix (raw control characters), written as it would have been.
    const db = new Database(join(hub.dataDir, "metadata.db"));
    try {
      db.prepare(
        `INSERT INTO audit_log (at, user_id, action, method, path, itwin_id, imodel_id, target, address, status, outcome, request_id, details)
          VALUES (?, NULL, 'storage.upload', 'PUT', ?, ?, ?, ?, '127.0.0.1', 403, 'refused', ?, ?)`,
      ).run(
        new Date().toISOString(),
        `/storage/modelhub/files/${iModelId}/y`,
        ITWIN,
        iModelId,
        `files/${iModelId}/x\r\n${forged}\u001b[2J\u009b31m`,
        "old\u001b]0;title\u0007",
        JSON.stringify({ errorCode: "Auth\nFailed" }),
      );
    } finally {
      db.close();
    }
    const env = { MODELHUB_URL: hub.url, MODELHUB_TOKEN: "carol" };
    const all = await modelhub(["audit", "--imodel", iModelId], env);
    assert.equal(all.code, 0, all.stderr);
    const count = (await hub.api<Json>("GET", `/${iModelId}/auditlog?$top=1000`, { user: "carol" })).body.auditEntries
      .length as number;
    const lines = all.stdout.trim().split("\n");
    assert.equal(lines.length, count, "one line per entry: none forged");
    assert.ok(!lines.some((l) => l.startsWith(forged)), "no line starts with the forged entry");
    assert.doesNotMatch(all.stdout, RAW_CONTROL, "no control character reaches the terminal raw");
    const old = lines.find((l) => l.includes("old"))!;
    assert.match(old, /target=files\/[^ ]+\/x\\r\\n2026-01-01T00:00:00\.000Z {2}root/);
    assert.match(old, /\\u001b\[2J\\u009b31m/);
    assert.match(old, /error=Auth\\nFailed/);
    assert.match(old, /request=old\\u001b\]0;title\\u0007/);
    // --json: one parseable object per entry, the same text (JSON escapes), nothing raw either.
    const json = await modelhub(["audit", "--imodel", iModelId, "--json"], env);
    assert.equal(json.code, 0, json.stderr);
    assert.doesNotMatch(json.stdout, RAW_CONTROL);
    const entries = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Json);
    assert.equal(entries.length, count);
    assert.equal(
      entries.find((e) => e.requestId?.startsWith("old"))?.target,
      `files/${iModelId}/x\r\n${forged}\u001b[2J\u009b31m`,
    );
  });

  it("other commands print names and messages from the hub escaped too (imodel list/show, a refusal quoting input)", async () => {
    const name = "evil\r\nid: 00000000  name: forged\u001b[2J";
    const created = await hub.api<Json>("POST", "", { body: { iTwinId: ITWIN, name } });
    assert.equal(created.status, 201, created.text);
    const env = { MODELHUB_URL: hub.url, MODELHUB_TOKEN: "carol" };
    const list = await modelhub(["imodel", "list", "--itwin", ITWIN], env);
    assert.equal(list.code, 0, list.stderr);
    const show = await modelhub(["imodel", "show", created.body.iModel.id], env);
    assert.equal(show.code, 0, show.stderr);
    const refused = await modelhub(["imodel", "show", "no\u001b[2Jsuch\r\nid"], env);
    assert.equal(refused.code, 1);
    for (const out of [list.stdout, show.stdout, refused.stderr]) assert.doesNotMatch(out, RAW_CONTROL);
    assert.equal(list.stdout.trim().split("\n").length, 3, "head, cli-audited, the evil one: one line each");
    assert.match(show.stdout, /^name: +evil\\r\\nid: 00000000 {2}name: forged\\u001b\[2J$/m);
    assert.equal(show.stdout.trim().split("\n").length, 8);
  });
});
