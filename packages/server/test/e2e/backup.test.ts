// `modelhub backup` (a separate process) while a real hub serves continuous pushes of real changesets and makes and
// prunes checkpoints on the same data directory; `modelhub restore` into a new one; a hub on the restored data has
// every acknowledged changeset byte for byte, and unmodified iTwin.js downloads a briefcase and pulls it to the tip.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";
import { startITwinAgent } from "../support/itwin-agent.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ITWIN = "5a5b5c5d-1111-4222-8333-444455556666";
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...MODELHUB, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

describe("modelhub backup / restore", () => {
  let work: string;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let fileSha: Map<string, string>;
  let backupDir: string;
  let iModelId: string;
  /** Changesets the hub had acknowledged (PATCH → 200) when the backup process was started. */
  let ackedBeforeBackup: number;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 40);
    fileSha = new Map(
      await Promise.all(fixture.changesets.map(async (c) => [c.id, sha256(await readFile(c.pathname))] as const)),
    );
    work = await mkdtemp(join(tmpdir(), "modelhub-backup-test-"));
    backupDir = join(work, "backup");
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("backs up a hub serving continuous pushes (and pruning checkpoints); restore gives every acknowledged changeset byte for byte; iTwin.js pulls to the tip", async (t) => {
    const dataDir = join(work, "data");
    // A checkpoint every 4 changesets, one kept: checkpoint files are made and deleted while the backup copies.
    const hub = await startTestHub({ dataDir, checkpoints: { everyChangesets: 4, everyBytes: 0, keepAutomatic: 1 } });
    let pushing = true;
    let acked = 0;
    let pushError: unknown;
    let pushLoop: Promise<void> | undefined;
    try {
      iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "backed up" })).id;
      const briefcaseId = await acquireBriefcase(hub, iModelId);
      for (const cs of fixture.changesets.slice(0, 10)) {
        await pushChangeset(hub, iModelId, briefcaseId, cs);
        acked = cs.index;
      }
      const pushesStarted = performance.now();
      pushLoop = (async () => {
        for (const cs of fixture.changesets.slice(10)) {
          if (!pushing) return;
          await pushChangeset(hub, iModelId, briefcaseId, cs);
          acked = cs.index;
          // Paced, so that the 30 pushes outlast the backup process (its start alone takes a second or two).
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })().catch((err: unknown) => {
        pushError = err;
      });
      await eventually(async () => (acked >= 12 ? true : undefined), 60_000, "pushes under way");

      ackedBeforeBackup = acked;
      const backupStarted = performance.now();
      const result = await runCli(["backup", "--data", dataDir, "--to", backupDir, "--json"]);
      const backupMs = performance.now() - backupStarted;
      const ackedAfterBackup = acked;
      assert.equal(result.code, 0, result.stderr);
      const summary = JSON.parse(result.stdout) as Json;
      assert.equal(summary.ok, true);
      assert.deepEqual(
        summary.steps.map((s: Json) => s.step),
        ["hold", "metadata", "blobs", "secret", "verify", "release"],
      );
      assert.ok(
        summary.manifest.contents.changesets >= ackedBeforeBackup,
        `the backup has at least the ${ackedBeforeBackup} acknowledged changesets`,
      );
      // The snapshot was taken while pushes went on: some came after it.
      assert.ok(summary.manifest.contents.changesets < fixture.changesets.length, "pushes went on after the snapshot");
      assert.ok(ackedAfterBackup > ackedBeforeBackup, "pushes were acknowledged while the backup ran");
      // No hold is left behind in the live database.
      const holds = await import("better-sqlite3").then(({ default: Database }) => {
        const db = new Database(join(dataDir, "metadata.db"), { readonly: true });
        try {
          return db.prepare("SELECT COUNT(*) AS n FROM blob_deletion_holds").get() as { n: number };
        } finally {
          db.close();
        }
      });
      assert.equal(holds.n, 0);
      // The hub kept serving pushes during the backup.
      await eventually(
        async () => (acked >= ackedAfterBackup + 1 ? true : undefined),
        60_000,
        "a push after the backup",
      );
      pushing = false;
      await pushLoop;
      assert.equal(pushError, undefined, String(pushError));
      const pushSeconds = (performance.now() - pushesStarted) / 1000;
      t.diagnostic(
        `backup of ${summary.manifest.contents.changesets} changesets, ${summary.manifest.blobs.count} files (${summary.manifest.blobs.bytes} bytes) took ${Math.round(backupMs)} ms (process start included); ` +
          `pushes went on at ${((acked - 10) / pushSeconds).toFixed(1)}/s (${ackedAfterBackup - ackedBeforeBackup} acknowledged while it ran); steps: ${summary.steps.map((s: Json) => `${s.step} ${s.ms} ms`).join(", ")}`,
      );
    } finally {
      pushing = false;
      await pushLoop;
      await hub.close();
    }

    const restoredDir = join(work, "restored");
    const restored = await runCli(["restore", "--from", backupDir, "--data", restoredDir]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /modelhub restore: done in/);

    const hub2: TestHub = await startTestHub({ dataDir: restoredDir });
    const agent = await startITwinAgent(hub2.url, "alice");
    try {
      const list = await hub2.api<Json>("GET", `/${iModelId}/changesets?$top=1000`, {
        headers: { prefer: "return=representation" },
      });
      assert.equal(list.status, 200);
      const changesets = list.body.changesets as Json[];
      assert.ok(changesets.length >= ackedBeforeBackup);
      // Linear history: indexes 1..n, each parent the previous changeset, the same ids as pushed.
      changesets.forEach((c, i) => {
        assert.equal(c.index, i + 1);
        assert.equal(c.parentId, i === 0 ? "" : changesets[i - 1]!.id);
        assert.equal(c.id, fixture.changesets[i]!.id);
      });
      // Every changeset file downloads, byte for byte what was pushed.
      for (const c of changesets) {
        const response = await fetch(c._links.download.href);
        assert.equal(response.status, 200);
        assert.equal(sha256(new Uint8Array(await response.arrayBuffer())), fileSha.get(c.id), `changeset ${c.index}`);
      }
      // Unmodified iTwin.js: a briefcase downloads (from the nearest checkpoint) and pulls every changeset to the tip.
      const downloaded = await agent.do<Json>("download", {
        iModelId,
        iTwinId: ITWIN,
        dir: join(work, "briefcases"),
        key: "a",
        user: "alice",
      });
      const pulled = await agent.do<Json>("pull", { key: "a", user: "alice" });
      assert.equal(pulled.changesetIndex, changesets.length);
      assert.equal(pulled.count, changesets.length * 5, "every pushed element is there");
      assert.ok(downloaded.changesetIndex <= changesets.length);
    } finally {
      await agent.stop();
      await hub2.close();
    }
  });

  it("restore refuses a non-empty target, a newer schema and a file that does not match the manifest, changing nothing", async () => {
    const occupied = join(work, "occupied");
    await mkdir(occupied, { recursive: true });
    await writeFile(join(occupied, "keep.txt"), "mine");
    const r1 = await runCli(["restore", "--from", backupDir, "--data", occupied]);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /not empty/);
    assert.equal(await readFile(join(occupied, "keep.txt"), "utf8"), "mine");

    const newer = join(work, "newer-backup");
    await cp(backupDir, newer, { recursive: true });
    const manifest = JSON.parse(await readFile(join(newer, "manifest.json"), "utf8")) as Json;
    await writeFile(join(newer, "manifest.json"), JSON.stringify({ ...manifest, schemaVersion: 999 }));
    const r2 = await runCli(["restore", "--from", newer, "--data", join(work, "r2"), "--json"]);
    assert.equal(r2.code, 2);
    // Under --json the refusal is one JSON object on stderr, nothing on stdout.
    assert.equal(r2.stdout, "");
    const refusal = JSON.parse(r2.stderr) as Json;
    assert.deepEqual([refusal.error.code, refusal.error.exitCode], ["Refused", 2]);
    assert.match(refusal.error.message, /schema version 999/);

    const tampered = join(work, "tampered-backup");
    await cp(backupDir, tampered, { recursive: true });
    const victim = (manifest.blobs.files as Json[]).find((f) => String(f.path).endsWith(".cs"))!;
    await writeFile(join(tampered, ...String(victim.path).split("/")), "not the changeset");
    const r3 = await runCli(["restore", "--from", tampered, "--data", join(work, "r3")]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /does not match its manifest/);
    // Nothing was left behind by the refused restores.
    await assert.rejects(readFile(join(work, "r2", "metadata.db")));
    await assert.rejects(readFile(join(work, "r3", "metadata.db")));

    const again = await runCli(["backup", "--data", join(work, "restored"), "--to", backupDir]);
    assert.equal(again.code, 2, "a backup never writes into a non-empty folder");
    assert.match(again.stderr, /not empty/);
  });
});
