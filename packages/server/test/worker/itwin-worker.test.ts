import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { FileRejected } from "../../src/ports/imodel-file-worker.js";
import { ITwinWorker } from "../../src/worker/itwin-worker.js";
import type { Fixture } from "../support/fixtures.js";
import { makeChangesets } from "../support/fixtures.js";

const CHANGESETS = 3;
const ELEMENTS_PER_CHANGESET = 5;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Reads the file with plain SQLite (not iTwin.js), so the checks do not trust the code under test. */
function query<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

function physicalObjectCount(path: string): number {
  const [row] = query<{ n: number }>(
    path,
    `SELECT count(*) AS n FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId
     JOIN ec_Schema s ON s.Id = c.SchemaId WHERE s.Name = 'Generic' AND c.Name = 'PhysicalObject'`,
  );
  return row!.n;
}

describe("ITwinWorker (iTwin.js 5.1.9 in a child process)", () => {
  let dir: string;
  let worker: ITwinWorker;
  let fixture: Fixture;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-worker-test-"));
    worker = new ITwinWorker({ workDir: join(dir, "work") });
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), CHANGESETS);
  });

  after(async () => {
    await worker.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("initializeBaseline stamps the ids, resets the briefcase id and leaves one self-contained file", async () => {
    const outputPath = join(dir, "baseline-a", "baseline.bim");
    const inputHash = await sha256(fixture.version0Path);
    const iModelId = randomUUID();
    const iTwinId = randomUUID();
    const result = await worker.initializeBaseline({ inputPath: fixture.version0Path, outputPath, iModelId, iTwinId });
    assert.equal(result.changesetId, "");
    assert.equal(result.fileSize, (await stat(outputPath)).size);
    assert.deepEqual(await readdir(join(dir, "baseline-a")), ["baseline.bim"]); // no -wal/-shm, no temp file
    const info = await worker.inspect({ path: outputPath });
    assert.equal(info.iModelId, iModelId);
    assert.equal(info.iTwinId, iTwinId);
    assert.equal(info.briefcaseId, 0);
    assert.equal(info.changesetId, "");
    assert.equal(physicalObjectCount(outputPath), 0);
    // The input is not modified (the fixture is shared by other tests).
    assert.equal(await sha256(fixture.version0Path), inputHash);
    assert.deepEqual(await readdir(dirname(fixture.version0Path)), ["changesets", "manifest.json", "version0.bim"]);
  });

  it("initializeBaseline reports the changeset a non-empty file is at", async () => {
    const checkpoint = join(dir, "at-2.bim");
    await worker.makeCheckpoint({ basePath: fixture.version0Path, outputPath: checkpoint, changesets: fixture.changesets.slice(0, 2) });
    const outputPath = join(dir, "baseline-b", "baseline.bim");
    const result = await worker.initializeBaseline({ inputPath: checkpoint, outputPath, iModelId: randomUUID(), iTwinId: randomUUID() });
    assert.equal(result.changesetId, fixture.changesets[1]!.id);
  });

  it("initializeBaseline rejects a file that is not SQLite, leaving nothing behind", async () => {
    const inputPath = join(dir, "not-sqlite.bim");
    await writeFile(inputPath, "this is a text file, not an iModel\n".repeat(100));
    const outDir = join(dir, "baseline-c");
    await assert.rejects(worker.initializeBaseline({ inputPath, outputPath: join(outDir, "baseline.bim"), iModelId: randomUUID(), iTwinId: randomUUID() }), (err: Error) => {
      assert.ok(err instanceof FileRejected, String(err));
      assert.match(err.message, /^The uploaded file is not an iModel: /);
      return true;
    });
    assert.deepEqual(await readdir(outDir).catch(() => []), []);
  });

  it("initializeBaseline rejects an SQLite database that is not an iModel, leaving nothing behind", async () => {
    const inputPath = join(dir, "plain.sqlite");
    const db = new Database(inputPath);
    db.exec("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);");
    db.close();
    const outDir = join(dir, "baseline-d");
    await assert.rejects(worker.initializeBaseline({ inputPath, outputPath: join(outDir, "baseline.bim"), iModelId: randomUUID(), iTwinId: randomUUID() }), (err: Error) => {
      assert.ok(err instanceof FileRejected, String(err));
      assert.match(err.message, /^The uploaded file is not an iModel: ./);
      return true;
    });
    assert.deepEqual(await readdir(outDir).catch(() => []), []);
  });

  it("createEmptyBaseline writes a stamped empty iModel with the root subject", async () => {
    const outputPath = join(dir, "empty", "baseline.bim");
    const iModelId = randomUUID();
    const iTwinId = randomUUID();
    const result = await worker.createEmptyBaseline({ outputPath, iModelId, iTwinId, rootSubjectName: "Site Alpha", rootSubjectDescription: "made by the test" });
    assert.equal(result.fileSize, (await stat(outputPath)).size);
    assert.deepEqual(await readdir(join(dir, "empty")), ["baseline.bim"]);
    const [root] = query<{ CodeValue: string }>(outputPath, "SELECT CodeValue FROM bis_Element WHERE Id = 1");
    assert.equal(root!.CodeValue, "Site Alpha");
    assert.ok((await readFile(outputPath)).includes("made by the test"));
    const info = await worker.inspect({ path: outputPath });
    assert.deepEqual({ ...info, changesetIndex: undefined }, { iModelId, iTwinId, changesetId: "", briefcaseId: 0, changesetIndex: undefined });
  });

  it("computeChangesetId reproduces the ids iTwin.js gave the fixture changesets; the parent is part of the id", async () => {
    assert.equal(fixture.changesets.length, CHANGESETS);
    for (const cs of fixture.changesets) {
      const { id } = await worker.computeChangesetId({ parentId: cs.parentId, pathname: cs.pathname });
      assert.match(id, /^[0-9a-f]{40}$/);
      assert.equal(id, cs.id, `changeset ${cs.index}`);
    }
    const second = fixture.changesets[1]!;
    const { id: other } = await worker.computeChangesetId({ parentId: "", pathname: second.pathname });
    assert.notEqual(other, second.id);
  });

  it("computeChangesetId rejects a file that is not a changeset", async () => {
    const pathname = join(dir, "not-a-changeset");
    await writeFile(pathname, "garbage ".repeat(1000));
    await assert.rejects(worker.computeChangesetId({ parentId: "", pathname }), FileRejected);
    await assert.rejects(worker.computeChangesetId({ parentId: "", pathname: join(dir, "missing") }), FileRejected);
    // The worker survived.
    const first = fixture.changesets[0]!;
    assert.equal((await worker.computeChangesetId({ parentId: first.parentId, pathname: first.pathname })).id, first.id);
  });

  it("makeCheckpoint applies the changesets in order", async () => {
    const outputPath = join(dir, "checkpoint", "cp.bim");
    const last = fixture.changesets.at(-1)!;
    const result = await worker.makeCheckpoint({ basePath: fixture.version0Path, outputPath, changesets: fixture.changesets });
    assert.equal(result.changesetId, last.id);
    assert.equal(result.fileSize, (await stat(outputPath)).size);
    assert.deepEqual(await readdir(join(dir, "checkpoint")), ["cp.bim"]);
    const info = await worker.inspect({ path: outputPath });
    assert.equal(info.changesetId, last.id);
    assert.equal(info.briefcaseId, 0);
    assert.equal(physicalObjectCount(outputPath), CHANGESETS * ELEMENTS_PER_CHANGESET);
    // The changeset files are left in place (the hub owns them).
    for (const cs of fixture.changesets) assert.ok(await exists(cs.pathname));
  });

  it("the fixture changesets apply to a baseline re-stamped with other ids (what the hub does on upload)", async () => {
    const baseline = join(dir, "restamped", "baseline.bim");
    const iModelId = randomUUID();
    const iTwinId = randomUUID();
    await worker.initializeBaseline({ inputPath: fixture.version0Path, outputPath: baseline, iModelId, iTwinId });
    const outputPath = join(dir, "restamped", "cp.bim");
    const result = await worker.makeCheckpoint({ basePath: baseline, outputPath, changesets: fixture.changesets });
    assert.equal(result.changesetId, fixture.changesets.at(-1)!.id);
    const info = await worker.inspect({ path: outputPath });
    assert.equal(info.iModelId, iModelId);
    assert.equal(info.iTwinId, iTwinId);
    assert.equal(physicalObjectCount(outputPath), CHANGESETS * ELEMENTS_PER_CHANGESET);
  });

  it("makeCheckpoint from an intermediate checkpoint continues the timeline", async () => {
    const at1 = join(dir, "chain", "at-1.bim");
    await worker.makeCheckpoint({ basePath: fixture.version0Path, outputPath: at1, changesets: fixture.changesets.slice(0, 1) });
    assert.equal(physicalObjectCount(at1), ELEMENTS_PER_CHANGESET);
    const at3 = join(dir, "chain", "at-3.bim");
    const result = await worker.makeCheckpoint({ basePath: at1, outputPath: at3, changesets: fixture.changesets.slice(1) });
    assert.equal(result.changesetId, fixture.changesets.at(-1)!.id);
    assert.equal(physicalObjectCount(at3), CHANGESETS * ELEMENTS_PER_CHANGESET);
  });

  it("makeCheckpoint rejects a corrupt changeset, naming it, and leaves no output", async () => {
    const [first, second, third] = fixture.changesets;
    const corrupt = join(dir, "corrupt.cs");
    const bytes = await readFile(second!.pathname);
    bytes.fill(0x5a, 16); // keep a few header bytes, trash the rest
    await writeFile(corrupt, bytes);
    const outDir = join(dir, "corrupt-out");
    await assert.rejects(
      worker.makeCheckpoint({ basePath: fixture.version0Path, outputPath: join(outDir, "cp.bim"), changesets: [first!, { ...second!, pathname: corrupt }, third!] }),
      (err: Error) => {
        assert.ok(err instanceof FileRejected, String(err));
        assert.match(err.message, new RegExp(`^Changeset ${second!.index} \\('${second!.id}'\\) could not be applied: `));
        return true;
      },
    );
    assert.deepEqual(await readdir(outDir).catch(() => []), []);
  });

  it("makeCheckpoint rejects changesets applied out of order", async () => {
    const outDir = join(dir, "out-of-order");
    const [, second] = fixture.changesets;
    await assert.rejects(worker.makeCheckpoint({ basePath: fixture.version0Path, outputPath: join(outDir, "cp.bim"), changesets: [second!] }), (err: Error) => {
      assert.ok(err instanceof FileRejected, String(err));
      assert.match(err.message, new RegExp(`^Changeset ${second!.index} `));
      return true;
    });
    assert.deepEqual(await readdir(outDir).catch(() => []), []);
  });

  it("a child that dies rejects the pending request, and the next request gets a fresh child", async () => {
    // A FIFO with no writer makes the child's copy block, so the request is deterministically in flight.
    const fifo = join(dir, "blocked.fifo");
    execFileSync("mkfifo", [fifo]);
    const baseline = join(dir, "kill-baseline.bim");
    await worker.initializeBaseline({ inputPath: fixture.version0Path, outputPath: baseline, iModelId: randomUUID(), iTwinId: randomUUID() }); // the child is up
    const pid = worker.pid!;
    const pending = worker.makeCheckpoint({ basePath: fifo, outputPath: join(dir, "never.bim"), changesets: [] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(pid, "SIGKILL");
    await assert.rejects(pending, (err: Error) => {
      assert.ok(!(err instanceof FileRejected));
      assert.match(err.message, /^iTwin\.js worker exited with signal SIGKILL/);
      return true;
    });
    const info = await worker.inspect({ path: baseline });
    assert.equal(info.briefcaseId, 0);
    assert.notEqual(worker.pid, pid);
  });

  it("a request over the time limit is rejected and the child is replaced", async () => {
    const fifo = join(dir, "blocked-2.fifo");
    execFileSync("mkfifo", [fifo]);
    const slow = new ITwinWorker({ workDir: join(dir, "work-2"), requestTimeoutMs: 1000 });
    try {
      const first = fixture.changesets[0]!;
      await slow.computeChangesetId(first); // the child is up
      const pid = slow.pid!;
      await assert.rejects(slow.makeCheckpoint({ basePath: fifo, outputPath: join(dir, "never-2.bim"), changesets: [] }), /did not answer 'makeCheckpoint' within 1000 ms/);
      assert.equal((await slow.computeChangesetId(first)).id, first.id);
      assert.notEqual(slow.pid, pid);
    } finally {
      await slow.close();
    }
    await assert.rejects(slow.computeChangesetId(fixture.changesets[0]!), /closed/);
  });

});
