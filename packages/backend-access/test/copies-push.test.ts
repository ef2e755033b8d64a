// iTwin.js briefcases of a squashed fork and of an iModel made from a template (issue 12): their baseline is the
// source's content made a version 0 with the copy's ids and no history, and unmodified BriefcaseDb code pushes onto
// it and pulls from it, each user in a process of their own, through @modelhub/backend-access.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { Agent } from "./support/agents.js";
import { Agent as AgentClass, startHubProcess } from "./support/agents.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type HubProcess = Awaited<ReturnType<typeof startHubProcess>>;

const SOURCE_ITWIN = "4d3c2b1a-6f5e-4a7b-8c9d-0e1f2a3b4c5d";
const COPY_ITWIN = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b";

async function call(
  hub: HubProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; body: Json }> {
  const r = await fetch(`${hub.url}/imodels${path}`, {
    method,
    headers: {
      authorization: "Bearer alice",
      accept: "application/vnd.bentley.itwin-platform.v2+json",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? (JSON.parse(text) as Json) : {} };
}

/** Polls the create operation of a copy until it succeeded (fails on `failed`). */
async function created(hub: HubProcess, iModelId: string): Promise<void> {
  const end = Date.now() + 45_000;
  for (;;) {
    const op = (await call(hub, "GET", `/${iModelId}/operations/create`)).body.createOperation as Json;
    if (op.state === "successful") return;
    if (op.state === "failed") throw new Error(`creating ${iModelId} failed: ${JSON.stringify(op)}`);
    if (Date.now() > end) throw new Error(`creating ${iModelId}: still ${op.state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("pushing onto a squashed fork and onto a template copy with iTwin.js", () => {
  let hub: HubProcess;
  let alice: Agent;
  let bob: Agent;
  let work: string;
  let sourceId: string;

  before(async () => {
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    work = await mkdtemp(join(tmpdir(), "modelhub-copies-"));
    hub = await startHubProcess();
    [alice, bob] = await Promise.all([AgentClass.start(hub.url, "alice"), AgentClass.start(hub.url, "bob")]);
    sourceId = await alice.do<string>("createIModel", { iTwinId: SOURCE_ITWIN, name: "source", version0 });
    await alice.do("download", { iModelId: sourceId, iTwinId: SOURCE_ITWIN, dir: work, key: "source" });
    await alice.do("insert", { key: "source", count: 5, labelPrefix: "first" });
    assert.equal(await alice.do("push", { key: "source", description: "five" }), 1);
    await alice.do("insert", { key: "source", count: 3, labelPrefix: "second" });
    assert.equal(await alice.do("push", { key: "source", description: "three" }), 2);
    await alice.do("close", { key: "source" });
  });
  after(async () => {
    await alice?.stop();
    await bob?.stop();
    await hub?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** alice and bob each take a briefcase of the copy (the source's 8 elements at changeset 0) and push in turn. */
  async function pushAndPull(copyId: string, key: string): Promise<void> {
    const common = { iModelId: copyId, iTwinId: COPY_ITWIN, dir: join(work, key) };
    const a = await alice.do<Json>("download", { ...common, key: `${key}-a` });
    const b = await bob.do<Json>("download", { ...common, key: `${key}-b` });
    assert.deepEqual(
      [a.changesetIndex, a.count, b.changesetIndex, b.count],
      [0, 8, 0, 8],
      "both briefcases start from the squashed content",
    );
    assert.notEqual(a.briefcaseId, b.briefcaseId);

    await alice.do("insert", { key: `${key}-a`, count: 2, labelPrefix: `${key} alice` });
    assert.equal(await alice.do("push", { key: `${key}-a`, description: "alice on the copy" }), 1);
    assert.deepEqual(await bob.do("pull", { key: `${key}-b` }), { changesetIndex: 1, count: 10 });
    await bob.do("insert", { key: `${key}-b`, count: 4, labelPrefix: `${key} bob` });
    assert.equal(await bob.do("push", { key: `${key}-b`, description: "bob on the copy" }), 2);
    assert.deepEqual(await alice.do("pull", { key: `${key}-a` }), { changesetIndex: 2, count: 14 });
    // Nothing applied twice.
    assert.deepEqual(await alice.do("labels", { key: `${key}-a` }), { total: 14, duplicates: [] });

    const history = (await call(hub, "GET", `/${copyId}/changesets`)).body.changesets as Json[];
    assert.deepEqual(
      history.map((c) => [c.index, c.briefcaseId]),
      [
        [1, a.briefcaseId],
        [2, b.briefcaseId],
      ],
    );
    assert.equal(history[0]!.parentId, "", "the copy's history starts at its own baseline");
    await alice.do("close", { key: `${key}-a` });
    await bob.do("close", { key: `${key}-b` });
  }

  it("a fork without history (squashed at the latest changeset): iTwin.js pushes onto it and the other user pulls", async () => {
    const r = await call(hub, "POST", `/${sourceId}/fork`, { iTwinId: COPY_ITWIN, name: "squashed fork" });
    assert.equal(r.status, 202);
    const forkId = r.headers.get("location")!.split("/").pop()!;
    await created(hub, forkId);
    assert.deepEqual((await call(hub, "GET", `/${forkId}/changesets`)).body.changesets, []);
    await pushAndPull(forkId, "fork");
    // The source did not move.
    assert.equal(((await call(hub, "GET", `/${sourceId}/changesets`)).body.changesets as Json[]).length, 2);
  });

  it("an iModel created from the template at changeset 1 (5 elements): iTwin.js pushes onto it and the other user pulls", async () => {
    const first = ((await call(hub, "GET", `/${sourceId}/changesets/1`)).body.changeset as Json).id as string;
    const r = await call(hub, "POST", "", {
      iTwinId: COPY_ITWIN,
      name: "from template",
      template: { iModelId: sourceId, changesetId: first },
    });
    assert.equal(r.status, 201);
    const copyId = r.body.iModel.id as string;
    await created(hub, copyId);
    const common = { iModelId: copyId, iTwinId: COPY_ITWIN, dir: join(work, "template") };
    const a = await alice.do<Json>("download", { ...common, key: "template-a" });
    const b = await bob.do<Json>("download", { ...common, key: "template-b" });
    assert.deepEqual([a.changesetIndex, a.count, b.count], [0, 5, 5]);
    await alice.do("insert", { key: "template-a", count: 1, labelPrefix: "template alice" });
    assert.equal(await alice.do("push", { key: "template-a" }), 1);
    assert.deepEqual(await bob.do("pull", { key: "template-b" }), { changesetIndex: 1, count: 6 });
    await bob.do("insert", { key: "template-b", count: 2, labelPrefix: "template bob" });
    assert.equal(await bob.do("push", { key: "template-b" }), 2);
    assert.deepEqual(await alice.do("pull", { key: "template-a" }), { changesetIndex: 2, count: 8 });
    await alice.do("close", { key: "template-a" });
    await bob.do("close", { key: "template-b" });
  });

  it("a template copy at the latest changeset takes the same pushes as the fork", async () => {
    const r = await call(hub, "POST", "", {
      iTwinId: COPY_ITWIN,
      name: "from template, latest",
      template: { iModelId: sourceId },
    });
    assert.equal(r.status, 201);
    await created(hub, r.body.iModel.id as string);
    await pushAndPull(r.body.iModel.id as string, "latest");
  });
});
