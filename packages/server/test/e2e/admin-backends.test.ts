// The admin commands open stores through the registry, so they serve every backend a hub runs on or refuse it by
// name (issue 19, one composition root): `modelhub doctor` reports and repairs a hub on PostgreSQL and Azure Blob
// Storage (Azurite), `modelhub backup` refuses PostgreSQL and Azure with what to use instead, `modelhub tokens`
// works on PostgreSQL. A real hub, a real PostgreSQL schema, a real Azurite, the real CLI.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { BlobSpec, MetadataSpec } from "../../src/adapters/registry.js";
import { openBlobStore } from "../../src/adapters/registry.js";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { createIModelFromFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";

const ITWIN = "5e1f0a55-1111-4111-8111-111111111111";
const CONTAINER = "doctor-backends";

function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...MODELHUB, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("admin commands on PostgreSQL and Azure Blob Storage", () => {
  let azurite: Azurite;
  let schema: { url: string; drop(): Promise<void> };
  let hub: TestHub;
  let dataDir: string;
  let iModelId: string;
  let env: Record<string, string>;
  const metadata = (): MetadataSpec => ({ kind: "postgres", url: schema.url });
  const blobs: BlobSpec = { kind: "azure", container: CONTAINER };

  before(async () => {
    azurite = await startAzurite();
    schema = await privateSchema("admin_backends");
    env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
    process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
    dataDir = await mkdtemp(join(tmpdir(), "modelhub-admin-backends-"));
    hub = await startTestHub({ dataDir, metadata: metadata(), blobs });
    iModelId = (
      await createIModelFromFile(hub, await makeVersion0(join(tmpdir(), "modelhub-fixtures")), { iTwinId: ITWIN })
    ).id;
  });

  after(async () => {
    await hub?.close();
    await azurite?.stop();
    await schema?.drop();
    await rm(dataDir, { recursive: true, force: true });
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
  });

  it("doctor reports a file in the Azure container that no PostgreSQL record refers to, and --repair removes it", async () => {
    const store = await openBlobStore(blobs, dataDir);
    const key = `files/${iModelId}/notes.txt`; // under the prefix where the hub keeps what it refers to
    await store.put(key, Readable.from([Buffer.from("left over")]));
    const args = [
      "doctor",
      "--data",
      dataDir,
      "--metadata",
      schema.url,
      "--blobs",
      `azure:${CONTAINER}`,
      "--grace",
      "0",
    ];

    const report = await runCli([...args, "--json"], env);
    assert.equal(report.code, 1, `exit 1: something to repair\n${report.stdout}\n${report.stderr}`);
    const json = JSON.parse(report.stdout) as { orphans: { key: string }[]; blobsScanned: number; repaired: boolean };
    assert.equal(json.repaired, false);
    assert.ok(json.blobsScanned >= 2, `the container was listed (${json.blobsScanned} blobs)`);
    assert.deepEqual(
      json.orphans.map((o) => o.key),
      [key],
    );
    assert.ok(await store.stat(key), "a report changes nothing");

    const repair = await runCli([...args, "--repair"], env);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.equal(await store.stat(key), undefined, "the orphan was removed from the container");
    // What the hub refers to is untouched: the iModel is still served, its baseline still downloadable.
    const got = await hub.api<{ iModel: { state: string } }>("GET", `/${iModelId}`);
    assert.equal(got.body.iModel.state, "initialized");
    const again = await runCli([...args, "--json"], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  it("doctor refuses a PostgreSQL database that is not at this modelhub's schema, by name", async () => {
    const empty = await privateSchema("admin_backends_empty");
    try {
      const result = await runCli(["doctor", "--data", dataDir, "--metadata", empty.url], env);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /schema version 0, this modelhub's is \d+: run modelhub migrate/);
    } finally {
      await empty.drop();
    }
  });

  it("backup refuses a hub on PostgreSQL or on Azure by name, and changes nothing", async () => {
    const target = join(dataDir, "..", `backup-${Date.now()}`);
    const pg = await runCli(["backup", "--data", dataDir, "--to", target, "--metadata", schema.url], env);
    assert.equal(pg.code, 2, pg.stdout + pg.stderr);
    assert.match(
      pg.stderr,
      /^modelhub backup: refused: the hub's metadata is in PostgreSQL \(postgres:\/\/.*\); modelhub backup copies the embedded SQLite file\. Back it up with PostgreSQL's own tools/,
    );
    const azure = await runCli(
      ["backup", "--data", dataDir, "--to", target, "--blobs", `azure:${CONTAINER}`, "--json"],
      env,
    );
    assert.equal(azure.code, 2, azure.stdout + azure.stderr);
    // The CLI contract: under --json an error is one JSON object on stderr, stdout stays empty.
    assert.equal(azure.stdout, "");
    assert.deepEqual(JSON.parse(azure.stderr), {
      error: {
        code: "Refused",
        message: `the hub's files are in Azure Blob Storage (--blobs azure:${CONTAINER}); modelhub backup copies files under --data. Protect the container with the storage account's own means (soft delete, versioning, object replication; see docs/deploy.md).`,
        command: "modelhub backup",
        exitCode: 2,
      },
    });
    const bad = await runCli(["backup", "--data", dataDir, "--to", target, "--blobs", "s3:x"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--blobs must be fs/);
  });

  it("tokens made on the PostgreSQL database are the hub's", async () => {
    const created = await runCli(
      ["tokens", "create", "--data", dataDir, "--metadata", schema.url, "--user", "carol", "--json"],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const listed = await runCli(["tokens", "list", "--data", dataDir, "--metadata", schema.url, "--json"], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      // A list under --json: one object per line.
      listed.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { id: string; userId: string })
        .map((t) => [t.id, t.userId]),
      [[id, "carol"]],
    );
  });
});
