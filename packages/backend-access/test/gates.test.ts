// Gates (issue 21): an iTwin.js backend pushes through @modelhub/backend-access; a local gate refuses with a message
// (the push fails with it, history unchanged), then accepts (the same briefcase pushes), reading the changeset through
// its download link; a gate that answers 5xx refuses when set `closed`; a dead gate set `open` lets everything pass;
// a named version is refused (the official client shows the gate's message); every decision is in the audit log.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import { IModelsClient } from "@itwin/imodels-client-management";
import { ModelHubAccess } from "../src/index.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { createIModelFromFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { startTestHub } from "@modelhub/test-support/hub.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "5a1e7c2d-3b4f-4e6a-9d8c-7b6a5f4e3d2c";
const SECRET = "gate-secret-of-at-least-thirty-two-characters";

/** What the gate answers next, and what it saw. */
interface GateScript {
  answer: { status: number; body: string };
  calls: { payload: Json; signatureOk: boolean; downloadedSha256?: string; downloadStatus?: number }[];
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => resolve(text));
    request.on("error", reject);
  });
}

/** A gate on a loopback port: checks the signature, downloads a pushed changeset through its link, answers. */
async function startGate(script: GateScript): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    void (async () => {
      const raw = await readBody(request);
      const expected = `sha256=${createHmac("sha256", SECRET).update(raw).digest("hex")}`;
      const payload = JSON.parse(raw) as Json;
      const call: GateScript["calls"][number] = { payload, signatureOk: request.headers.signature === expected };
      const link = payload.changeset?.downloadUrl as string | undefined;
      if (link) {
        const file = await fetch(link);
        call.downloadStatus = file.status;
        call.downloadedSha256 = createHash("sha256")
          .update(Buffer.from(await file.arrayBuffer()))
          .digest("hex");
      }
      script.calls.push(call);
      response.writeHead(script.answer.status, { "content-type": "application/json" });
      response.end(script.answer.body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/check` };
}

describe("gates refuse and accept pushes and named versions", { timeout: 180_000 }, () => {
  let hub: TestHub;
  let access: ModelHubAccess;
  let work: string;
  let gate: { server: Server; url: string };
  let iModelId: string;
  let db: CoreBackend.BriefcaseDb;
  let category: string;
  let physicalModel: string;
  let finished = false;
  const script: GateScript = { answer: { status: 200, body: "{}" }, calls: [] };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-gates-"));
    gate = await startGate(script);
    // A port nothing listens on: the `open` gate there never answers, and never stops anything.
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/gone`;
    await new Promise((resolve) => dead.close(resolve));
    hub = await startTestHub({
      gates: [
        { id: null, name: "integrity", url: gate.url, timeoutMs: 10_000, failure: "closed", secret: SECRET },
        { id: null, name: "best-effort", url: deadUrl, timeoutMs: 2_000, failure: "open", secret: null },
      ],
    });
    access = new ModelHubAccess({ baseUrl: hub.url, accessToken: "Bearer alice" });
    await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access });
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    iModelId = (await createIModelFromFile(hub, version0, { iTwinId: ITWIN, name: "gated" })).id;
    const props = await backend.BriefcaseManager.downloadBriefcase({
      accessToken: "Bearer alice",
      iTwinId: ITWIN,
      iModelId,
      fileName: join(work, "edit.bim"),
    });
    db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    const first = (sql: string) => db.withSqliteStatement(sql, (s) => (s.step(), s.getValueId(0)));
    physicalModel = first(
      "SELECT e.Id FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId WHERE c.Name = 'PhysicalPartition' AND e.CodeValue = 'Physical'",
    );
    category = first("SELECT Id FROM bis_Element WHERE CodeValue = 'Things'");
  });
  after(async () => {
    db?.close();
    access?.dispose();
    await backend.IModelHost.shutdown();
    await hub?.close();
    await new Promise((resolve) => gate?.server.close(resolve));
    await rm(work, { recursive: true, force: true });
    assert.ok(finished, "the last step ran");
  });

  const changesets = async () => (await hub.api<Json>("GET", `/${iModelId}/changesets`)).body.changesets as Json[];

  it("a refusing gate stops the push with its message, and history stays as it was", async () => {
    await db.locks.acquireLocks({ shared: [physicalModel, common.IModel.repositoryModelId] });
    db.elements.insertElement({
      classFullName: "Generic:PhysicalObject",
      model: physicalModel,
      category,
      code: common.Code.createEmpty(),
      userLabel: "checked",
      placement: { origin: [0, 0, 0], angles: {} },
    } as CoreCommon.PhysicalElementProps);
    db.saveChanges("first edit");
    script.answer = { status: 422, body: JSON.stringify({ message: "element 'checked' lacks a fire rating" }) };
    await assert.rejects(db.pushChanges({ description: "first edit" }), (err: Error) => {
      assert.match(err.message, /integrity: element 'checked' lacks a fire rating/);
      return true;
    });
    assert.equal(db.changeset.index, 0);
    assert.deepEqual(await changesets(), []);
    const call = script.calls.at(-1)!;
    assert.equal(call.signatureOk, true);
    assert.equal(call.payload.event, "changeset.push");
    assert.deepEqual(call.payload.iModel, { id: iModelId, name: "gated", iTwinId: ITWIN });
    assert.equal(call.payload.changeset.index, 1);
    assert.equal(call.payload.user.id, "alice");
    assert.equal(call.downloadStatus, 200, "the gate read the changeset through its link");
  });

  it("once the gate accepts, the same briefcase pushes; the gate read the very bytes kept", async () => {
    script.answer = { status: 204, body: "" };
    await db.pushChanges({ description: "first edit" });
    assert.equal(db.changeset.index, 1);
    const [pushed] = await changesets();
    assert.equal(pushed?.id, db.changeset.id);
    const call = script.calls.at(-1)!;
    assert.equal(call.payload.changeset.id, pushed.id);
    const kept = await hub.api<Json>("GET", `/${iModelId}/changesets/1`);
    const file = await fetch(kept.body.changeset._links.download.href as string);
    const sha = createHash("sha256")
      .update(Buffer.from(await file.arrayBuffer()))
      .digest("hex");
    assert.equal(call.downloadedSha256, sha);
  });

  it("a gate answering 5xx refuses when it is set to fail closed", async () => {
    script.answer = { status: 503, body: "down for maintenance" };
    await db.locks.acquireLocks({ shared: [physicalModel] });
    db.elements.insertElement({
      classFullName: "Generic:PhysicalObject",
      model: physicalModel,
      category,
      code: common.Code.createEmpty(),
      userLabel: "second",
      placement: { origin: [1, 0, 0], angles: {} },
    } as CoreCommon.PhysicalElementProps);
    db.saveChanges("second edit");
    await assert.rejects(db.pushChanges({ description: "second edit" }), /integrity: the gate gave no decision/);
    assert.equal((await changesets()).length, 1);
    script.answer = { status: 200, body: "{}" };
    await db.pushChanges({ description: "second edit" });
    assert.equal(db.changeset.index, 2);
  });

  it("a named version is refused with the gate's message, as the official client shows it", async () => {
    script.answer = { status: 403, body: JSON.stringify({ error: { message: "releases are frozen this week" } }) };
    const client = new IModelsClient({ api: { baseUrl: hub.baseUrl } });
    await assert.rejects(
      client.namedVersions.create({
        authorization: async () => ({ scheme: "Bearer", token: "alice" }),
        iModelId,
        namedVersionProperties: { name: "v1", changesetId: db.changeset.id },
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.message, "integrity: releases are frozen this week");
        assert.equal(err.code, "InvalidChange");
        return true;
      },
    );
    assert.equal(script.calls.at(-1)!.payload.namedVersion.name, "v1");
    const versions = await hub.api<Json>("GET", `/${iModelId}/namedversions`);
    assert.deepEqual(versions.body.namedVersions, []);
  });

  it("every decision is in the audit log, the dead open gate's as failed open", async () => {
    const log = await hub.api<Json>("GET", `/${iModelId}/auditlog?action=gate.decision&$top=100`);
    assert.equal(log.status, 200, log.text);
    const verdicts = (log.body.auditEntries as Json[]).map((e) => `${e.details.gate}:${e.details.verdict}`);
    for (const seen of ["integrity:refused", "integrity:accepted", "integrity:failedClosed", "best-effort:failedOpen"])
      assert.ok(verdicts.includes(seen), `${seen} in ${verdicts.join(", ")}`);
    finished = true;
  });
});
