// An iModel whose baseline failed (issue 22): hidden from the cloud-shaped list the official clients read, listed with
// its failure on request (`$includeFailed=true`, a modelhub extension) and by `modelhub imodels list` (table and --json).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { createIModelFromFile, putFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "f4f4f4f4-4444-4444-8444-444444444444";

describe("failed iModels are listed on request, with their failure", () => {
  let hub: TestHub;
  let goodId: string;
  let badId: string;
  const bogus = join(tmpdir(), `failed-imodels-${process.pid}.bim`);

  const modelhub = (args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(
        process.execPath,
        [...MODELHUB, ...args],
        { env: { ...process.env, MODELHUB_URL: hub.url, MODELHUB_TOKEN: "alice" } },
        (error, out, err) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });

  before(async () => {
    const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 1);
    hub = await startTestHub();
    goodId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "good" })).id;
    // A file that is not an iModel: its baseline job ends in initializationFailed.
    await writeFile(bogus, "this is not an iModel".repeat(100));
    const created = await hub.api<Json>("POST", "", {
      body: { iTwinId: ITWIN, name: "bad", baselineFile: { size: (await stat(bogus)).size } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    badId = created.body.iModel.id;
    await putFile(created.body.iModel._links.upload.href, bogus);
    await hub.api("POST", `/${badId}/baselinefile`, { body: {} });
    let state = "";
    for (let i = 0; i < 600 && state !== "failed"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await hub.api<Json>("GET", `/${badId}/operations/create`)).body.createOperation.state;
    }
    assert.equal(state, "failed");
  });
  after(async () => {
    await hub?.close();
    await rm(bogus, { force: true });
  });

  it("the default list (what the official clients read) still leaves it out", async () => {
    const list = await hub.api<Json>("GET", `?iTwinId=${ITWIN}`);
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.iModels.map((m: Json) => m.id),
      [goodId],
    );
  });

  it("$includeFailed=true lists it as notInitialized, and its create operation says why", async () => {
    const list = await hub.api<Json>("GET", `?iTwinId=${ITWIN}&$includeFailed=true`, {
      headers: { prefer: "return=representation" },
    });
    assert.equal(list.status, 200);
    const byId = new Map(list.body.iModels.map((m: Json) => [m.id, m]));
    assert.deepEqual([...byId.keys()].sort(), [goodId, badId].sort());
    assert.equal((byId.get(goodId) as Json).state, "initialized");
    // The cloud's two states only: an official client reading this list is not surprised by a new value.
    assert.equal((byId.get(badId) as Json).state, "notInitialized");
    assert.match(list.body._links.self.href, /\$includeFailed=true/);
    const op = (await hub.api<Json>("GET", `/${badId}/operations/create`)).body.createOperation;
    assert.equal(op.state, "failed");
    assert.match(op.failureReason, /not an iModel/i);
    // state=initialized still filters it out; $includeFailed=false is the default.
    const initialized = await hub.api<Json>("GET", `?iTwinId=${ITWIN}&$includeFailed=true&state=initialized`);
    assert.deepEqual(
      initialized.body.iModels.map((m: Json) => m.id),
      [goodId],
    );
    const off = await hub.api<Json>("GET", `?iTwinId=${ITWIN}&$includeFailed=false`);
    assert.deepEqual(
      off.body.iModels.map((m: Json) => m.id),
      [goodId],
    );
  });

  it("modelhub imodels list prints it with 'failed: <reason>', and --json carries its create operation", async () => {
    const table = await modelhub(["imodels", "list", "--itwin", ITWIN]);
    assert.equal(table.code, 0, table.err);
    const lines = table.out.split("\n").filter((l) => l !== "");
    assert.match(lines[0]!, /^ID\s+NAME\s+STATE\s+CREATED/);
    const badLine = lines.find((l) => l.startsWith(badId));
    assert.ok(badLine, table.out);
    assert.match(badLine, /\bbad\s+failed: .*not an iModel/i);
    assert.match(lines.find((l) => l.startsWith(goodId)) ?? "", /\bgood\s+initialized\b/);

    const listed = await modelhub(["imodels", "list", "--itwin", ITWIN, "--json"]);
    assert.equal(listed.code, 0, listed.err);
    const rows = listed.out
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Json);
    assert.equal(rows.length, 2);
    const bad = rows.find((r) => r.id === badId)!;
    assert.equal(bad.state, "notInitialized");
    assert.equal(bad.createOperation.state, "failed");
    assert.match(bad.createOperation.failureReason, /not an iModel/i);
    const good = rows.find((r) => r.id === goodId)!;
    assert.equal(good.state, "initialized");
    assert.equal(good.createOperation, undefined);
  });
});
