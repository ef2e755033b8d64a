// Issue 18, finding 8: under umask 022 the data directory (token hashes, audit log, link key, every model) was
// readable by every local user. Now folders are 0700 and files 0600 — the SQLite database and its WAL/SHM, blobs,
// temporary files of uploads in flight, secret.key, files the iTwin.js worker made, backups and restores — and a
// data directory made by an older hub is tightened at start, which the log says.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, lstatSync, readdirSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Permission bits of `path` (0 if it vanished meanwhile, e.g. a temp file renamed by the hub). */
const mode = (path: string) => (lstatSync(path, { throwIfNoEntry: false })?.mode ?? 0) & 0o777;
const octal = (m: number) => `0${m.toString(8)}`;

/** Folders and files under `root` (root included). */
function entriesUnder(root: string): { path: string; dir: boolean }[] {
  const found = readdirSync(root, { withFileTypes: true, recursive: true }).filter(
    (e) => e.isDirectory() || e.isFile(),
  );
  return [{ path: root, dir: true }, ...found.map((e) => ({ path: join(e.parentPath, e.name), dir: e.isDirectory() }))];
}

/** The folders and files under `root` another user could read, with their modes. */
function readableByOthers(root: string): string[] {
  return entriesUnder(root)
    .filter(({ path }) => mode(path) & 0o077)
    .map(({ path }) => `${path.slice(root.length) || "/"} ${octal(mode(path))}`);
}

/** Files under `root` (the test's own sanity: it must have looked at something). */
const fileCount = (root: string) => entriesUnder(root).filter((e) => !e.dir).length;

function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...MODELHUB, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
}

describe("the data directory is its user's alone (umask 022 around the hub)", () => {
  let fixture: Fixture;
  let work: string;
  let hub: TestHub | undefined;
  const previousUmask = process.umask(0o022);

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 1);
    work = await mkdtemp(join(tmpdir(), "modelhub-modes-"));
    process.umask(0o022);
  });
  after(async () => {
    await hub?.close();
    process.umask(previousUmask);
    await rm(work, { recursive: true, force: true });
  });

  it("a new data directory: 0700 folders, 0600 files — database, WAL/SHM, secret.key, blobs, checkpoints, upload temp files", async () => {
    const dataDir = join(work, "data");
    hub = await startTestHub({ dataDir });
    const iModel = await createIModelFromFile(hub, fixture.version0Path, { name: "modes" });
    const briefcaseId = await acquireBriefcase(hub, iModel.id as string);
    await pushChangeset(hub, iModel.id as string, briefcaseId, fixture.changesets[0]!);

    // An upload in flight: its temporary file is private too.
    const created = await hub.api<Json>("POST", "", {
      body: { iTwinId: "11111111-1111-4111-8111-111111111111", name: "in-flight", baselineFile: { size: 1_000_000 } },
    });
    const link = new URL(created.body.iModel._links.upload.href);
    const socket = connect(Number(link.port), "127.0.0.1");
    try {
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write(
        `PUT ${link.pathname}${link.search} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 1000000\r\n\r\n`,
      );
      socket.write(Buffer.alloc(200_000, 7));
      const temp = await eventually(
        async () => (await readdir(join(dataDir, "blobs", ".tmp"))).find((name) => !name.startsWith(".")),
        5000,
        "the upload's temp file",
      );
      assert.equal(octal(mode(join(dataDir, "blobs", ".tmp", temp))), "0600");
    } finally {
      socket.destroy();
    }

    const names = readdirSync(dataDir);
    for (const expected of ["metadata.db", "metadata.db-wal", "metadata.db-shm", "secret.key", "blobs"])
      assert.ok(names.includes(expected), `${expected} in ${names.join(", ")}`);
    assert.ok(fileCount(join(dataDir, "blobs")) >= 3, "baseline, checkpoint and changeset files were looked at");
    assert.deepEqual(readableByOthers(dataDir), []);
    assert.equal(octal(mode(dataDir)), "0700");
  });

  it("`modelhub backup`, `restore` and `tokens create` (run under umask 022) write private files", async () => {
    const dataDir = join(work, "data");
    process.umask(0o022); // the hub set its own; the commands below start from the lax one
    const backupDir = join(work, "backup");
    const backedUp = await runCli(["backup", "--data", dataDir, "--to", backupDir]);
    assert.equal(backedUp.code, 0, backedUp.stderr);
    assert.ok(fileCount(backupDir) >= 5);
    assert.deepEqual(readableByOthers(backupDir), []);
    const restoredDir = join(work, "restored");
    const restored = await runCli(["restore", "--from", backupDir, "--data", restoredDir]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(readableByOthers(restoredDir), []);
    // A token made before the hub ever started creates the directory and the database holding its hash.
    const tokensOnly = join(work, "tokens-only");
    const token = await runCli(["tokens", "create", "--user", "ops", "--data", tokensOnly]);
    assert.equal(token.code, 0, token.stderr);
    assert.ok(readdirSync(tokensOnly).includes("metadata.db"));
    assert.deepEqual(readableByOthers(tokensOnly), []);
  });

  it("a data directory an older hub left world-readable is tightened at start, and the log says so", async () => {
    await hub?.close();
    hub = undefined;
    const dataDir = join(work, "data");
    // What a hub before this fix left under umask 022.
    for (const { path, dir } of entriesUnder(dataDir)) chmodSync(path, dir ? 0o755 : 0o644);
    process.umask(0o022);
    let log = "";
    const served = await startHubProcess({ dataDir, logLevel: "warn", onStdout: (text) => (log += text) });
    try {
      assert.equal((await fetch(`${served.url}/health`)).status, 200);
      assert.equal(octal(mode(dataDir)), "0700");
      for (const name of ["metadata.db", "secret.key"]) assert.equal(octal(mode(join(dataDir, name))), "0600", name);
      for (const name of ["blobs", "tmp"]) assert.equal(octal(mode(join(dataDir, name))), "0700", name);
      const line = log.split("\n").find((l) => l.includes("the data directory was readable by other users"));
      assert.ok(line, `no warning in the log:\n${log}`);
      const entry = JSON.parse(line) as {
        level: number;
        dataDir: string;
        tightened: { path: string; was: string; now: string }[];
      };
      assert.equal(entry.dataDir, dataDir);
      assert.deepEqual(
        entry.tightened.find((t) => t.path === dataDir),
        { path: dataDir, was: "0755", now: "0700" },
      );
      assert.deepEqual(
        entry.tightened.find((t) => t.path === join(dataDir, "metadata.db")),
        { path: join(dataDir, "metadata.db"), was: "0644", now: "0600" },
      );
    } finally {
      await served.stop();
    }
  });
});
