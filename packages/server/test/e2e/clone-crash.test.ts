// A hub process SIGKILLed while a Clone iModel job runs (issue 12): restarted on the same data, the clone completes,
// the create-operation endpoint reports it (scheduled, then successful), and no client ever sees a half-copied
// iModel: its changesets list is empty until the whole history is there, in one transaction.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { putFile } from "@modelhub/test-support/flows.js";
import { ACCEPT } from "../support/hub.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SOURCE_ITWIN = "3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
const TARGET_ITWIN = "6f5e4d3c-2b1a-4c9d-8e7f-0a1b2c3d4e5f";

async function call(
  hub: HubProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; body: Json; text: string }> {
  const r = await fetch(path.startsWith("http") ? path : `${hub.url}/imodels${path}`, {
    method,
    headers: {
      authorization: "Bearer alice",
      accept: ACCEPT,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: text ? (JSON.parse(text) as Json) : {}, text };
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("SIGKILL during a clone job", () => {
  let fixture: Fixture;
  let dataDir: string;
  let hub: HubProcess;
  let sourceId: string;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    dataDir = await mkdtemp(join(tmpdir(), "modelhub-clone-crash-"));
    hub = await startHubProcess({ dataDir });
    // The source: a real baseline and three real changesets.
    const created = await call(hub, "POST", "", {
      iTwinId: SOURCE_ITWIN,
      name: "source",
      baselineFile: { size: (await stat(fixture.version0Path)).size },
    });
    assert.equal(created.status, 201, created.text);
    sourceId = created.body.iModel.id;
    assert.equal((await putFile(created.body.iModel._links.upload.href, fixture.version0Path)).status, 201);
    assert.equal((await call(hub, "POST", `/${sourceId}/baselinefile`, {})).status, 200);
    await until("the source's baseline", 60_000, async () =>
      (await call(hub, "GET", `/${sourceId}`)).body.iModel.state === "initialized" ? true : undefined,
    );
    const briefcaseId = (await call(hub, "POST", `/${sourceId}/briefcases`, {})).body.briefcase.briefcaseId as number;
    for (const cs of fixture.changesets) {
      const made = await call(hub, "POST", `/${sourceId}/changesets`, {
        id: cs.id,
        parentId: cs.parentId,
        briefcaseId,
        fileSize: cs.size,
      });
      assert.equal(made.status, 201, made.text);
      assert.equal((await putFile(made.body.changeset._links.upload.href, cs.pathname)).status, 201);
      assert.equal(
        (await call(hub, "PATCH", made.body.changeset._links.complete.href, { state: "fileUploaded", briefcaseId }))
          .status,
        200,
      );
    }
  });
  after(async () => {
    await hub?.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Starts a clone of the whole source, kills the hub at `killWhen`, restarts it and follows the clone to its end. */
  async function cloneKilled(
    name: string,
    killWhen: () => Promise<unknown>,
  ): Promise<{ copyId: string; states: string[] }> {
    const r = await call(hub, "POST", `/${sourceId}/clone`, { iTwinId: TARGET_ITWIN, name });
    assert.equal(r.status, 202, r.text);
    const copyId = r.headers.get("location")!.split("/").pop()!;
    await killWhen();
    await hub.kill();
    hub = await startHubProcess({ dataDir });

    // Every look while the job runs again: no changesets, or all of them in an initialized iModel. Read in this
    // order (changesets, iModel, operation) the job may commit between two reads, but never shows a part.
    const states: string[] = [];
    await until("the clone after the restart", 45_000, async () => {
      const changesets = (await call(hub, "GET", `/${copyId}/changesets`)).body.changesets as Json[];
      const iModel = (await call(hub, "GET", `/${copyId}`)).body.iModel as Json;
      const op = (await call(hub, "GET", `/${copyId}/operations/create`)).body.createOperation as Json;
      if (states.at(-1) !== op.state) states.push(op.state as string);
      if (op.state === "failed") throw new Error(`the clone failed: ${JSON.stringify(op)}`);
      assert.ok(changesets.length === 0 || changesets.length === 3, `the copy lists ${changesets.length} changesets`);
      if (changesets.length === 3)
        assert.equal(iModel.state, "initialized", "changesets are listed only once the copy is initialized");
      if (iModel.state === "initialized") assert.equal(op.state, "successful");
      return op.state === "successful" ? true : undefined;
    });
    return { copyId, states };
  }

  /** The finished clone: the source's history (ids, indexes, parents, sizes), hard links of its files, nothing extra stored. */
  async function assertComplete(copyId: string): Promise<void> {
    const op = (await call(hub, "GET", `/${copyId}/operations/create`)).body.createOperation as Json;
    assert.deepEqual(op, {
      state: "successful",
      clonedFrom: { iModelId: sourceId, changesetId: fixture.changesets[2]!.id },
      forkedFrom: null,
    });
    const rows = (await call(hub, "GET", `/${copyId}/changesets`)).body.changesets as Json[];
    assert.deepEqual(
      rows.map((c) => [c.index, c.id, c.parentId, c.fileSize, c.state]),
      fixture.changesets.map((c) => [c.index, c.id, c.parentId, c.size, "fileUploaded"]),
    );
    const files = join(dataDir, "blobs", "files");
    for (const c of fixture.changesets) {
      const [copied, source] = await Promise.all([
        stat(join(files, copyId, "changesets", `${c.id}.cs`)),
        stat(join(files, sourceId, "changesets", `${c.id}.cs`)),
      ]);
      assert.equal(copied.ino, source.ino, `changeset ${c.index} is a hard link of the source's`);
    }
    // Exactly the history and one baseline: nothing left over from the killed attempt.
    const stored = (await readdir(join(files, copyId), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(join(files, copyId).length + 1));
    assert.deepEqual(
      stored.filter((f) => f.startsWith("changesets")).sort(),
      fixture.changesets.map((c) => join("changesets", `${c.id}.cs`)).sort(),
      stored.join(", "),
    );
    assert.equal(
      stored.filter((f) => !f.startsWith("changesets")).length,
      1,
      `one baseline checkpoint: ${stored.join(", ")}`,
    );
    assert.equal((await call(hub, "GET", `/${copyId}/changesets/0/checkpoint`)).body.checkpoint.state, "successful");
  }

  it("killed right after the 202: the restarted hub runs the job, the operation goes from scheduled to successful", async () => {
    const { copyId, states } = await cloneKilled("killed at once", async () => undefined);
    assert.deepEqual(states, ["scheduled", "successful"]);
    await assertComplete(copyId);
  });

  it("killed while the job stamps the copy's baseline (its scratch directory exists): completed after the restart, nothing half-copied seen", async () => {
    const scratch = join(dataDir, "tmp");
    const { copyId, states } = await cloneKilled("killed mid-job", () =>
      until("the clone job's scratch directory", 30_000, () => jobStarted(scratch)),
    );
    // Not finished before the kill: the restarted hub first reports it scheduled.
    assert.deepEqual(states, ["scheduled", "successful"]);
    await assertComplete(copyId);
    // The source is untouched.
    assert.equal(((await call(hub, "GET", `/${sourceId}/changesets`)).body.changesets as Json[]).length, 3);
  });
});

/** True once a baseline job has made its scratch directory under `scratch`. */
async function jobStarted(scratch: string): Promise<true | undefined> {
  return (await readdir(scratch)).some((f) => f.startsWith("baseline-")) ? true : undefined;
}
