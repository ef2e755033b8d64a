// Server-made checkpoints over HTTP with real iTwin.js changesets.
import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ITwinWorker } from "../../src/adapters/itwin-worker/itwin-worker.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("server-made checkpoints", () => {
  let hub: TestHub;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let iModelId: string;
  let briefcaseId: number;
  let work: string;
  const inspector = new ITwinWorker({ workDir: join(tmpdir(), `modelhub-inspect-${process.pid}`) });

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    work = await mkdtemp(join(tmpdir(), "modelhub-cp-"));
    // Automatic checkpoints every 2 changesets, keep only 1 automatic one.
    hub = await startTestHub({ checkpoints: { everyChangesets: 2, everyBytes: 0, keepAutomatic: 1 } });
    iModelId = (await createIModelFromFile(hub, fixture.version0Path)).id;
    briefcaseId = await acquireBriefcase(hub, iModelId);
  });
  after(async () => {
    await hub.close();
    await inspector.close();
    await rm(work, { recursive: true, force: true });
  });

  const checkpointAt = (index: number) => hub.api<Json>("GET", `/${iModelId}/changesets/${index}/checkpoint`);
  const waitFor = (path: string, states: string[]) =>
    eventually(
      async () => {
        const r = await hub.api<Json>("GET", path);
        return r.status === 200 && states.includes(r.body.checkpoint.state) ? r.body.checkpoint : undefined;
      },
      120_000,
      `checkpoint at ${path}`,
    );

  it("a named version gets a checkpoint stamped with the iModel's ids, at its changeset, briefcase id 0", async () => {
    await pushChangeset(hub, iModelId, briefcaseId, fixture.changesets[0]!);
    const version = await hub.api<Json>("POST", `/${iModelId}/namedversions`, {
      body: { name: "first", changesetId: fixture.changesets[0]!.id },
    });
    assert.equal(version.status, 201);
    const scheduledOrDone = await hub.api<Json>(
      "GET",
      `/${iModelId}/namedversions/${version.body.namedVersion.id}/checkpoint`,
    );
    assert.ok(["scheduled", "successful"].includes(scheduledOrDone.body.checkpoint.state));
    if (scheduledOrDone.body.checkpoint.state === "scheduled")
      assert.equal(scheduledOrDone.body.checkpoint._links.download, null);

    const cp = await waitFor(`/${iModelId}/namedversions/${version.body.namedVersion.id}/checkpoint`, ["successful"]);
    assert.equal(cp.changesetIndex, 1);
    assert.equal(cp.changesetId, fixture.changesets[0]!.id);
    const file = join(work, "cp1.bim");
    await writeFile(file, Buffer.from(await (await fetch(cp._links.download.href)).arrayBuffer()));
    const info = await inspector.inspect({ path: file });
    assert.equal(info.iModelId, iModelId);
    assert.equal(info.changesetId, fixture.changesets[0]!.id);
    assert.equal(info.briefcaseId, 0);

    const changeset = await hub.api<Json>("GET", `/${iModelId}/changesets/1`);
    assert.equal(
      changeset.body.changeset._links.currentOrPrecedingCheckpoint.href,
      `${hub.baseUrl}/${iModelId}/changesets/1/checkpoint`,
    );
    assert.equal(
      changeset.body.changeset._links.namedVersion.href,
      `${hub.baseUrl}/${iModelId}/namedversions/${version.body.namedVersion.id}`,
    );
  });

  it("automatic checkpoints follow the policy, the latest is served by /briefcases/checkpoint, old automatic ones are pruned", async () => {
    await pushChangeset(hub, iModelId, briefcaseId, fixture.changesets[1]!);
    await pushChangeset(hub, iModelId, briefcaseId, fixture.changesets[2]!); // 2 since checkpoint 1 → checkpoint 3
    // Scheduled in the push's own transaction: there as soon as the push is answered, not some time after.
    const atOnce = await checkpointAt(3);
    assert.equal(atOnce.status, 200, "the automatic checkpoint exists when the push completes");
    assert.ok(["scheduled", "successful"].includes(atOnce.body.checkpoint.state));
    const cp3 = await waitFor(`/${iModelId}/changesets/3/checkpoint`, ["successful"]);
    assert.equal(cp3.changesetIndex, 3);
    const latest = await hub.api<Json>("GET", `/${iModelId}/briefcases/checkpoint`);
    assert.equal(latest.body.checkpoint.changesetIndex, 3);
    assert.equal((await checkpointAt(2)).status, 404);
    const list = await hub.api<Json>("GET", `/${iModelId}/checkpoints`);
    assert.deepEqual(
      list.body.checkpoints.map((c: Json) => c.changesetIndex),
      [0, 1, 3],
    );
    assert.ok(list.body.totalSize > 0);
  });

  it("a corrupt changeset makes the checkpoint failed with a reason; the hub keeps serving; PUT schedules it again", async () => {
    // Corrupt the stored file of changeset 2 on disk, then ask for a named version there.
    const stored = join(hub.dataDir, "blobs", "files", iModelId, "changesets", `${fixture.changesets[1]!.id}.cs`);
    await copyFile(stored, join(work, "good.cs"));
    await writeFile(stored, Buffer.alloc(2048, 7));
    const version = await hub.api<Json>("POST", `/${iModelId}/namedversions`, {
      body: { name: "second", changesetId: fixture.changesets[1]!.id },
    });
    const path = `/${iModelId}/namedversions/${version.body.namedVersion.id}/checkpoint`;
    const failed = await waitFor(path, ["failed"]);
    assert.match(failed.failureReason, /changeset/i);
    assert.equal(failed._links.download, null);
    assert.equal((await hub.api("GET", "/../health")).status, 200);

    await copyFile(join(work, "good.cs"), stored);
    const again = await hub.api<Json>("PUT", path);
    assert.equal(again.status, 200);
    assert.equal(again.body.checkpoint.state, "scheduled");
    const ok = await waitFor(path, ["successful"]);
    assert.equal(ok.changesetIndex, 2);
  });
});

describe("checkpoint job and a crashing worker", () => {
  it("the worker killed in the middle of a job: the job is retried and completes; nothing partial is ever served", async () => {
    const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 30, 20);
    const hub = await startTestHub({ checkpoints: { everyChangesets: 0, everyBytes: 0, keepAutomatic: 1 } });
    try {
      const iModelId = (await createIModelFromFile(hub, fixture.version0Path)).id;
      const briefcaseId = await acquireBriefcase(hub, iModelId);
      for (const cs of fixture.changesets) await pushChangeset(hub, iModelId, briefcaseId, cs);
      await hub.api("POST", `/${iModelId}/namedversions`, {
        body: { name: "v30", changesetId: fixture.changesets.at(-1)!.id },
      });

      // Kill the worker as soon as the job has it busy, then watch the checkpoint until it is done.
      const pid = await eventually(async () => hub.server.worker.pid, 30_000, "worker start");
      process.kill(pid, "SIGKILL");
      const seen = new Set<string>();
      const done = await eventually(
        async () => {
          const r = await hub.api<Json>("GET", `/${iModelId}/changesets/30/checkpoint`);
          const cp = r.body.checkpoint;
          seen.add(cp.state);
          if (cp.state !== "successful")
            assert.equal(cp._links.download, null, "a checkpoint that is not successful has no download link");
          return cp.state === "successful" ? cp : undefined;
        },
        120_000,
        "checkpoint after the crash",
      );
      assert.notEqual(hub.server.worker.pid, pid, "a new worker process did the work");
      assert.ok(seen.has("scheduled"));

      const file = join(tmpdir(), `cp30-${process.pid}.bim`);
      const bytes = Buffer.from(await (await fetch(done._links.download.href)).arrayBuffer());
      assert.equal(bytes.length, done.size);
      await writeFile(file, bytes);
      const worker = new ITwinWorker({ workDir: join(tmpdir(), `modelhub-inspect2-${process.pid}`) });
      try {
        const info = await worker.inspect({ path: file });
        assert.equal(info.changesetId, fixture.changesets.at(-1)!.id);
        assert.equal(info.iModelId, iModelId);
      } finally {
        await worker.close();
        await rm(file, { force: true });
      }
    } finally {
      await hub.close();
    }
  });
});
