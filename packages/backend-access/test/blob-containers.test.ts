// iTwin.js's blob containers through a modelhub hub (`--blobs azure:` on Azurite), with unmodified iTwin.js code in
// two processes that each installed @modelhub/backend-access's ContainerService with one call:
// - a workspace container made with WorkspaceEditor by one process is read by the other through the app workspace,
//   and a later edit is seen there too;
// - SchemaSync: one briefcase enables it (a container scoped to the iModel) and imports a schema without the schema
//   lock; another picks the schema up from the container without pulling that changeset;
// - V2 checkpoints: the checkpoint of a named version answers directoryAccessInfo, which opens with iTwin.js's
//   CloudSqlite against Azurite (4 MB blocks, the checkpoint's database at the named changeset).
// MODELHUB_AGENT_ROOT=<folder of an app with iTwin.js 5.7.3 and the built @modelhub packages> runs the two processes
// on that iTwin.js (passed here with 5.7.3 as well as with the workspace's 5.1.9).
// run-tests: heavy (Azurite, a hub process and two iTwin.js processes)
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "4d0c7b5e-2a61-4f38-9e1d-6b7a8c9d0e1f";

interface ContainerAgent {
  do<T = Json>(command: string, args?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/** container-agent.ts in a process of its own, as `user`. */
async function startAgent(hubUrl: string, user: string): Promise<ContainerAgent> {
  const script = fileURLToPath(new URL("./support/container-agent.ts", import.meta.url));
  const child = fork(script, [hubUrl, user], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`agent exited with ${code}`)));
  });
  let nextId = 1;
  const pending = new Map<number, (answer: { ok: boolean; result?: unknown; error?: Json }) => void>();
  child.on("message", (m: { id?: number; ok: boolean; result?: unknown; error?: Json }) => {
    if (m.id !== undefined) pending.get(m.id)?.(m);
  });
  child.once("exit", (code, signal) => {
    for (const settle of pending.values())
      settle({ ok: false, error: { message: `agent exited with ${signal ?? code}` } });
  });
  return {
    async do<T>(command: string, args: Record<string, unknown> = {}) {
      const id = nextId++;
      const answer = await new Promise<{ ok: boolean; result?: unknown; error?: Json }>((resolve) => {
        pending.set(id, resolve);
        child.send({ id, command, args });
      });
      pending.delete(id);
      if (!answer.ok) throw new Error(`${command} failed: ${JSON.stringify(answer.error)}`);
      return answer.result as T;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

describe("blob containers through the hub: workspaces and SchemaSync with unmodified iTwin.js", () => {
  let azurite: Azurite;
  let hub: HubProcess;
  let work: string;
  let writer: ContainerAgent;
  let reader: ContainerAgent;
  /** The iModel the SchemaSync test made (and its tip), for the V2 checkpoint test. */
  let schemaSyncIModel: { iModelId: string; changesetIndex: number } | undefined;

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const response = await fetch(`${hub.url}${path}`, {
      method,
      headers: {
        authorization: "Bearer alice",
        accept: "application/vnd.bentley.itwin-platform.v2+json",
        ...(body ? { "content-type": "application/json" } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-blob-containers-"));
    azurite = await startAzurite();
    // A checkpoint after every changeset, one automatic one kept: pruning runs too (its V2 copies must go).
    hub = await startHubProcess({
      args: ["--blobs", "azure:hub-files", "--checkpoint-every", "1", "--keep-checkpoints", "1"],
      env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
    });
    [writer, reader] = await Promise.all([startAgent(hub.url, "alice"), startAgent(hub.url, "bob")]);
  });
  after(async () => {
    await Promise.all([writer?.stop(), reader?.stop()]);
    await hub?.stop();
    await azurite?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("a workspace container written by one process is read by another, and its later edits too", async (t) => {
    // MODELHUB_AGENT_ROOT=<an app folder> runs the two processes on that folder's iTwin.js (e.g. 5.7.3).
    t.diagnostic(`iTwin.js ${await writer.do<string>("hostVersion")} in the agents`);
    const made = await writer.do<{ containerId: string; baseUri: string; dbName: string }>("createWorkspace", {
      iTwinId: ITWIN,
      label: "Team settings",
      strings: { greeting: "hello from alice", "units/length": "m" },
    });
    assert.equal(made.baseUri, azurite.blobEndpoint);
    // The hub knows it as a workspace container of the iTwin.
    const listed = await api("GET", `/blobcontainers?iTwinId=${ITWIN}&containerType=workspace`);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.containers.map((c: Json) => c.containerId),
      [made.containerId],
    );
    assert.equal(listed.body.containers[0].metadata.label, "Team settings");

    const first = await reader.do("readWorkspace", {
      containerId: made.containerId,
      baseUri: made.baseUri,
      names: ["greeting", "units/length", "missing"],
    });
    assert.deepEqual(first, { greeting: "hello from alice", "units/length": "m", missing: null });

    await writer.do("editWorkspace", {
      containerId: made.containerId,
      baseUri: made.baseUri,
      strings: { greeting: "hello again" },
    });
    const second = await reader.do("readWorkspace", {
      containerId: made.containerId,
      baseUri: made.baseUri,
      names: ["greeting"],
    });
    assert.deepEqual(second, { greeting: "hello again" });
  });

  it("SchemaSync: a schema imported without the schema lock by one briefcase is picked up by another from the container", async () => {
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"), { name: "schema-sync" });
    const iModelId = await writer.do<string>("createIModel", { iTwinId: ITWIN, name: "SchemaSync", version0 });
    const dir = join(work, "briefcases");
    await writer.do("download", { iTwinId: ITWIN, iModelId, dir: join(dir, "alice"), key: "a" });
    await reader.do("download", { iTwinId: ITWIN, iModelId, dir: join(dir, "bob"), key: "b" });

    const enabled = await writer.do<{ containerId: string; changesetIndex: number; enabled: boolean }>(
      "enableSchemaSync",
      { key: "a" },
    );
    assert.equal(enabled.enabled, true);
    const container = await api("GET", `/blobcontainers/${enabled.containerId}`);
    assert.equal(container.status, 200);
    assert.deepEqual(container.body.container.scope, { iTwinId: ITWIN, iModelId });
    assert.equal(container.body.container.metadata.containerType, "schemasync");

    // bob takes the changeset that enabled SchemaSync, and nothing after it.
    assert.deepEqual(await reader.do("pull", { key: "b", toIndex: enabled.changesetIndex }), {
      changesetIndex: enabled.changesetIndex,
      schemaSync: true,
    });
    assert.equal(await reader.do("hasSchema", { key: "b", name: "SyncedThings" }), null);

    const imported = await writer.do<{ heldSchemaLock: boolean; changesetIndex: number }>("importSchema", {
      key: "a",
      xml: SCHEMA,
    });
    assert.equal(imported.heldSchemaLock, false, "SchemaSync imports need no schema lock");
    assert.equal(imported.changesetIndex, enabled.changesetIndex + 1);

    // From the container, not from the changeset: bob is still at the enabling changeset.
    assert.deepEqual(await reader.do("schemaSyncPull", { key: "b" }), { changesetIndex: enabled.changesetIndex });
    assert.equal(await reader.do("hasSchema", { key: "b", name: "SyncedThings" }), "1.0.0");
    // And pulling the import's changeset on top of it goes through.
    assert.deepEqual(await reader.do("pull", { key: "b" }), {
      changesetIndex: imported.changesetIndex,
      schemaSync: true,
    });
    schemaSyncIModel = { iModelId, changesetIndex: imported.changesetIndex };
  });

  it("V2 checkpoints: a checkpoint's directoryAccessInfo opens as a CloudSqlite container of 4 MB blocks on Azurite", async () => {
    assert.ok(schemaSyncIModel, "the SchemaSync test made the iModel");
    const { iModelId, changesetIndex } = schemaSyncIModel;
    const checkpointOf = async (index: number, name: string): Promise<Json> => {
      const version = await api("POST", `/imodels/${iModelId}/namedversions`, { name, changesetIndex: index });
      assert.equal(version.status, 201);
      let made: Json | undefined;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        made = (await api("GET", `/imodels/${iModelId}/changesets/${index}/checkpoint`)).body.checkpoint;
        if (made?.state === "successful" || made?.state === "failed") break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.equal(made?.state, "successful", JSON.stringify(made));
      return made!;
    };
    // Two checkpoints in one container: the second one's publishing must not lay the container out again.
    const earlier = await checkpointOf(changesetIndex - 1, "before the schema");
    const checkpoint: Json | undefined = await checkpointOf(changesetIndex, "v2 checkpoint");
    const info = checkpoint!.directoryAccessInfo;
    assert.ok(info, "directoryAccessInfo is filled in");
    // The cloud's shape: the account's URL and name, the container, a read-only SAS token.
    assert.equal(info.baseUrl, azurite.blobEndpoint);
    assert.equal(info.storage, "devstoreaccount1");
    assert.equal(info.baseDirectory, `imodelblocks-${iModelId}`);
    assert.equal(info.storageType, "azure");
    assert.match(info.azure.sasToken, /(^|&)sp=rl(&|$)/);
    assert.match(info.azure.sasToken, /(^|&)sig=/);
    assert.match(checkpoint!.dbName, new RegExp(`^${changesetIndex}-v2[0-9a-f]+$`));
    // The whole file is still there for clients that download files.
    assert.ok(checkpoint!._links.download?.href);

    const opened = await reader.do<Json>("openV2Checkpoint", {
      directoryAccessInfo: info,
      dbName: checkpoint!.dbName,
      localFile: join(work, "v2.bim"),
    });
    assert.equal(opened.blockSize, 4 * 1024 * 1024);
    // The baseline (made when the iModel was created) was published too.
    const baseline = (await api("GET", `/imodels/${iModelId}/changesets/0/checkpoint`)).body.checkpoint;
    assert.equal(baseline.directoryAccessInfo?.baseDirectory, `imodelblocks-${iModelId}`);
    assert.match(baseline.dbName, /^0-v2[0-9a-f]+$/);
    assert.ok(
      opened.databases.includes(baseline.dbName) &&
        opened.databases.includes(earlier.dbName) &&
        opened.databases.includes(checkpoint!.dbName),
      JSON.stringify(opened.databases),
    );

    // The container holds exactly the live checkpoints' databases once no job runs: pruned automatic ones are gone.
    await writer.do("insertAndPush", { key: "a", count: 2 });
    await writer.do("insertAndPush", { key: "a", count: 2 });
    let live: Json[] = [];
    const settled = Date.now() + 120_000;
    while (Date.now() < settled) {
      live = (await api("GET", `/imodels/${iModelId}/checkpoints`)).body.checkpoints;
      if (
        live.length > 0 &&
        live.every((c) => c.state !== "scheduled") &&
        live.some((c) => c.changesetIndex === changesetIndex + 2)
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.ok(
      live.every((c) => c.state === "successful" && c.directoryAccessInfo),
      JSON.stringify(live),
    );
    // The checkpoint job deletes a pruned checkpoint's V2 database after the transaction that deletes its row: the list
    // above can settle a moment before the container does, so it is read again until it matches (or 60 s pass).
    const liveNames = live.map((c) => c.dbName as string).sort();
    let after: Json = {};
    for (let attempt = 0, until = Date.now() + 60_000; ; attempt++) {
      after = await reader.do<Json>("openV2Checkpoint", {
        directoryAccessInfo: info,
        dbName: checkpoint!.dbName,
        localFile: join(work, `v2-again-${attempt}.bim`),
      });
      if (JSON.stringify([...after.databases].sort()) === JSON.stringify(liveNames) || Date.now() > until) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.deepEqual([...after.databases].sort(), liveNames);
    assert.ok(live.length < 3 + 2, `automatic checkpoints were pruned: ${live.map((c) => c.changesetIndex).join()}`);
    assert.ok(opened.totalBlocks >= 1, JSON.stringify(opened));
    assert.equal(opened.iModelId, iModelId);
    assert.equal(opened.changeset.id, checkpoint!.changesetId);
    assert.equal(opened.changeset.index, changesetIndex);
  });
});

const SCHEMA = `<?xml version="1.0" encoding="UTF-8"?>
<ECSchema schemaName="SyncedThings" alias="st" version="01.00.00" xmlns="http://www.bentley.com/schemas/Bentley.ECXML.3.2">
  <ECSchemaReference name="BisCore" version="01.00.00" alias="bis"/>
  <ECEntityClass typeName="Widget">
    <BaseClass>bis:PhysicalElement</BaseClass>
    <ECProperty propertyName="Size" typeName="double"/>
  </ECEntityClass>
</ECSchema>`;
