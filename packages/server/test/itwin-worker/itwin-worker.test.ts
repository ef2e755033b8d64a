import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createHash, randomUUID } from "node:crypto";
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { FileRejected } from "../../src/ports/imodel-file-worker.js";
import { ITwinWorker } from "../../src/adapters/itwin-worker/itwin-worker.js";
import type { BriefcaseFixture, Fixture } from "@modelhub/test-support/fixtures.js";
import { makeBriefcase, makeChangesets, makeVersion0 } from "@modelhub/test-support/fixtures.js";

const CHANGESETS = 3;
// Read, not required: this process must never load iTwin.js (a test below checks its module cache).
const WORKSPACE_ITWIN = (
  JSON.parse(readFileSync(createRequire(import.meta.url).resolve("@itwin/core-backend/package.json"), "utf8")) as {
    version: string;
  }
).version;
const HOST51 = fileURLToPath(new URL("../../../backend-access/test/host51", import.meta.url));
const HOST4X = fileURLToPath(new URL("../../../backend-access/test/host4x", import.meta.url));
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
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

function physicalObjectCount(path: string): number {
  const [row] = query<{ n: number }>(
    path,
    `SELECT count(*) AS n FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId
     JOIN ec_Schema s ON s.Id = c.SchemaId WHERE s.Name = 'Generic' AND c.Name = 'PhysicalObject'`,
  );
  return row!.n;
}

describe("ITwinWorker (the workspace's iTwin.js in a child process)", () => {
  let dir: string;
  let worker: ITwinWorker;
  let fixture: Fixture;
  let briefcase: BriefcaseFixture;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-worker-test-"));
    worker = new ITwinWorker({ workDir: join(dir, "work") });
    const cache = join(tmpdir(), "modelhub-fixtures");
    // The child starts while the fixtures are made (or read from the cache).
    [, fixture, briefcase] = await Promise.all([
      worker.start(),
      makeChangesets(cache, CHANGESETS),
      makeBriefcase(cache),
    ]);
  });

  after(async () => {
    await worker.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("says which iTwin.js it runs (in /ready); MODELHUB_ITWIN_ROOT runs another installed one, which makes checkpoints too", async () => {
    const health = await worker.health(5000);
    assert.ok(health.ok, JSON.stringify(health));
    assert.equal(health.itwin?.coreBackend, WORKSPACE_ITWIN);
    assert.match(health.itwin?.native ?? "", /^\d+\.\d+\.\d+$/);
    assert.equal(health.itwin?.root, undefined);

    // The iTwin.js 5.1.9 host of @modelhub/backend-access's tests (scripts/install-hosts.mjs installs it).
    const started: unknown[] = [];
    process.env.MODELHUB_ITWIN_ROOT = HOST51;
    const other = new ITwinWorker({ workDir: join(dir, "work-5.1.9"), onStart: (itwin) => started.push(itwin) });
    try {
      await other.start();
    } finally {
      delete process.env.MODELHUB_ITWIN_ROOT;
    }
    try {
      // Older than the hub's own: said at start-up (the hub logs a warning).
      assert.deepEqual(started, [{ coreBackend: "5.1.9", native: "5.1.72", root: HOST51, behind: WORKSPACE_ITWIN }]);
      const outputPath = join(dir, "cp-5.1.9", "cp.bim");
      const result = await other.makeCheckpoint({
        basePath: fixture.version0Path,
        outputPath,
        changesets: fixture.changesets,
      });
      assert.equal(result.changesetId, fixture.changesets.at(-1)!.id);
      assert.equal(physicalObjectCount(outputPath), CHANGESETS * ELEMENTS_PER_CHANGESET);
    } finally {
      await other.close();
    }
  });

  it("MODELHUB_ITWIN_ROOT on an iTwin.js 4.x or on a folder without iTwin.js: the worker does not start, and says why", async () => {
    for (const [root, why] of [
      [
        HOST4X,
        /iTwin\.js worker exited with code 1: MODELHUB_ITWIN_ROOT: .*host4x has iTwin\.js 4\.11\.7; the hub's worker runs iTwin\.js 5\.x\.$/,
      ],
      [dir, /iTwin\.js worker exited with code 1: MODELHUB_ITWIN_ROOT: no @itwin\/core-backend is installed in /],
    ] as const) {
      process.env.MODELHUB_ITWIN_ROOT = root;
      const other = new ITwinWorker({ workDir: join(dir, "work-refused") });
      try {
        await assert.rejects(other.start(), why);
      } finally {
        delete process.env.MODELHUB_ITWIN_ROOT;
        await other.close();
      }
    }
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
    assert.equal(info.noLocks, false);
    // inspect's read-only open left no -wal/-shm behind either.
    assert.deepEqual(await readdir(join(dir, "baseline-a")), ["baseline.bim"]);
    assert.equal(physicalObjectCount(outputPath), 0);
    // The input is not modified (the fixture is shared by other tests).
    assert.equal(await sha256(fixture.version0Path), inputHash);
    assert.deepEqual(await readdir(dirname(fixture.version0Path)), ["changesets", "manifest.json", "version0.bim"]);
  });

  it("initializeBaseline reports the changeset a non-empty file is at", async () => {
    const checkpoint = join(dir, "at-2.bim");
    await worker.makeCheckpoint({
      basePath: fixture.version0Path,
      outputPath: checkpoint,
      changesets: fixture.changesets.slice(0, 2),
    });
    const outputPath = join(dir, "baseline-b", "baseline.bim");
    const result = await worker.initializeBaseline({
      inputPath: checkpoint,
      outputPath,
      iModelId: randomUUID(),
      iTwinId: randomUUID(),
    });
    assert.equal(result.changesetId, fixture.changesets[1]!.id);
    assert.equal(result.changesetIndex, 2);
    // Stamping a new iModel id clears the file's changeset (native setIModelId does): the output claims version 0
    // while holding the data of changesets 1 and 2.
    const info = await worker.inspect({ path: outputPath });
    assert.deepEqual({ id: info.changesetId, index: info.changesetIndex }, { id: "", index: 0 });
    assert.equal(physicalObjectCount(outputPath), 2 * ELEMENTS_PER_CHANGESET);
  });

  it("initializeBaseline of a real briefcase clears its txns and briefcase id and keeps its NoLocking unless told", async () => {
    // The fixture briefcase: id 2, at changeset 2, with saved but unpushed inserts; HubMock made it with noLocks.
    // Work on a copy: plain SQLite reads of a WAL file leave -wal/-shm files next to it, not wanted in the shared cache.
    const input = join(dir, "briefcase.bim");
    await copyFile(briefcase.briefcasePath, input);
    assert.ok(briefcase.briefcaseId >= 2);
    assert.ok(query<{ n: number }>(input, "SELECT count(*) AS n FROM dgn_Txns")[0]!.n > 0);
    const before = await worker.inspect({ path: input });
    assert.deepEqual(
      { briefcaseId: before.briefcaseId, changesetId: before.changesetId, noLocks: before.noLocks },
      { briefcaseId: briefcase.briefcaseId, changesetId: briefcase.changesetId, noLocks: true },
    );
    const inputHash = await sha256(input);

    const kept = join(dir, "baseline-bc", "kept.bim");
    const iModelId = randomUUID();
    const iTwinId = randomUUID();
    const result = await worker.initializeBaseline({ inputPath: input, outputPath: kept, iModelId, iTwinId });
    // The result names where the input was; the output is at version 0 (see the previous test).
    assert.deepEqual(
      { changesetId: result.changesetId, changesetIndex: result.changesetIndex },
      { changesetId: briefcase.changesetId, changesetIndex: briefcase.changesetIndex },
    );
    assert.deepEqual(await worker.inspect({ path: kept }), {
      iModelId,
      iTwinId,
      changesetId: "",
      changesetIndex: 0,
      briefcaseId: 0,
      noLocks: true,
    });

    const cleared = join(dir, "baseline-bc", "cleared.bim");
    await worker.initializeBaseline({ inputPath: input, outputPath: cleared, iModelId, iTwinId, noLocks: false });
    assert.equal((await worker.inspect({ path: cleared })).noLocks, false);
    const set = join(dir, "baseline-bc", "set.bim");
    await worker.initializeBaseline({
      inputPath: fixture.version0Path,
      outputPath: set,
      iModelId,
      iTwinId,
      noLocks: true,
    });
    assert.equal((await worker.inspect({ path: set })).noLocks, true);

    assert.equal(await sha256(input), inputHash);
    assert.deepEqual((await readdir(join(dir, "baseline-bc"))).sort(), ["cleared.bim", "kept.bim", "set.bim"]);

    // (Plain SQLite reads last: they leave -wal/-shm files.)
    assert.equal(query<{ n: number }>(kept, "SELECT count(*) AS n FROM dgn_Txns")[0]!.n, 0);
    // Deleting txns forgets the changes, not the data: the unpushed elements are still in the file.
    assert.equal(
      physicalObjectCount(kept),
      briefcase.changesets.length * ELEMENTS_PER_CHANGESET + briefcase.pendingElements,
    );
  });

  it("initializeBaseline rejects a file that is not SQLite, leaving nothing behind", async () => {
    const inputPath = join(dir, "not-sqlite.bim");
    await writeFile(inputPath, "this is a text file, not an iModel\n".repeat(100));
    const outDir = join(dir, "baseline-c");
    await assert.rejects(
      worker.initializeBaseline({
        inputPath,
        outputPath: join(outDir, "baseline.bim"),
        iModelId: randomUUID(),
        iTwinId: randomUUID(),
      }),
      (err: Error) => {
        assert.ok(err instanceof FileRejected, String(err));
        assert.match(err.message, /^The uploaded file is not an iModel: /);
        return true;
      },
    );
    assert.deepEqual(await readdir(outDir).catch(() => []), []);
  });

  it("initializeBaseline rejects an SQLite database that is not an iModel, leaving nothing behind", async () => {
    const inputPath = join(dir, "plain.sqlite");
    const db = new Database(inputPath);
    db.exec("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);");
    db.close();
    const outDir = join(dir, "baseline-d");
    await assert.rejects(
      worker.initializeBaseline({
        inputPath,
        outputPath: join(outDir, "baseline.bim"),
        iModelId: randomUUID(),
        iTwinId: randomUUID(),
      }),
      (err: Error) => {
        assert.ok(err instanceof FileRejected, String(err));
        assert.match(err.message, /^The uploaded file is not an iModel: .*BE_SQLITE_ERROR_NoPropertyTable/);
        assert.ok(!err.message.includes(dir), `the message names no server path: ${err.message}`);
        return true;
      },
    );
    assert.deepEqual(await readdir(outDir).catch(() => []), []);
  });

  it("createEmptyBaseline writes a stamped empty iModel with the root subject", async () => {
    const outputPath = join(dir, "empty", "baseline.bim");
    const iModelId = randomUUID();
    const iTwinId = randomUUID();
    const result = await worker.createEmptyBaseline({
      outputPath,
      iModelId,
      iTwinId,
      rootSubjectName: "Site Alpha",
      rootSubjectDescription: "made by the test",
    });
    assert.equal(result.fileSize, (await stat(outputPath)).size);
    assert.deepEqual(await readdir(join(dir, "empty")), ["baseline.bim"]);
    const [root] = query<{ CodeValue: string }>(outputPath, "SELECT CodeValue FROM bis_Element WHERE Id = 1");
    assert.equal(root!.CodeValue, "Site Alpha");
    assert.ok((await readFile(outputPath)).includes("made by the test"));
    const info = await worker.inspect({ path: outputPath });
    assert.deepEqual(
      { ...info, changesetIndex: undefined },
      { iModelId, iTwinId, changesetId: "", briefcaseId: 0, changesetIndex: undefined, noLocks: false },
    );
  });

  it("makeVersion0 makes a real iModel with the root subject asked for, which becomes a baseline", async () => {
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"), { name: "Bridge 7" });
    const [root] = query<{ CodeValue: string }>(version0, "SELECT CodeValue FROM bis_Element WHERE Id = 1");
    assert.equal(root!.CodeValue, "Bridge 7");
    const outputPath = join(dir, "from-v0", "baseline.bim");
    const iModelId = randomUUID();
    assert.equal(
      (await worker.initializeBaseline({ inputPath: version0, outputPath, iModelId, iTwinId: randomUUID() }))
        .changesetId,
      "",
    );
    assert.equal((await worker.inspect({ path: outputPath })).iModelId, iModelId);
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

  it("computeChangesetId rejects a file that is not a changeset and a malformed parent id", async () => {
    const first = fixture.changesets[0]!;
    const second = fixture.changesets[1]!;
    const pathname = join(dir, "not-a-changeset");
    await writeFile(pathname, "garbage ".repeat(1000));
    await assert.rejects(worker.computeChangesetId({ parentId: "", pathname }), (err: Error) => {
      assert.ok(err instanceof FileRejected, String(err));
      assert.equal(err.message, "Unsupported changeset persistence file version");
      return true;
    });
    // A version0 is not a changeset either.
    await assert.rejects(worker.computeChangesetId({ parentId: "", pathname: fixture.version0Path }), FileRejected);
    // One flipped byte inside the compressed stream is detected.
    const flipped = join(dir, "flipped.cs");
    const bytes = await readFile(second.pathname);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(flipped, bytes);
    await assert.rejects(
      worker.computeChangesetId({ parentId: second.parentId, pathname: flipped }),
      /Corrupted changeset file/,
    );
    // A truncated file is not detected as such: it just gets another id (so the hub must compare ids).
    const truncated = join(dir, "truncated.cs");
    await writeFile(truncated, (await readFile(second.pathname)).subarray(0, 200));
    const { id: truncatedId } = await worker.computeChangesetId({ parentId: second.parentId, pathname: truncated });
    assert.match(truncatedId, /^[0-9a-f]{40}$/);
    assert.notEqual(truncatedId, second.id);
    // The parent must be "" or 40 hex digits (either case).
    await assert.rejects(worker.computeChangesetId({ parentId: "abc", pathname: second.pathname }), FileRejected);
    assert.equal(
      (await worker.computeChangesetId({ parentId: second.parentId.toUpperCase(), pathname: second.pathname })).id,
      second.id,
    );
    // A missing file is the server's problem, not the uploader's.
    await assert.rejects(worker.computeChangesetId({ parentId: "", pathname: join(dir, "missing") }), (err: Error) => {
      assert.ok(!(err instanceof FileRejected), String(err));
      assert.match(err.message, /No changeset file/);
      return true;
    });
    // The worker survived all of it.
    assert.equal(
      (await worker.computeChangesetId({ parentId: first.parentId, pathname: first.pathname })).id,
      first.id,
    );
  });

  it("makeCheckpoint applies the changesets in order", async () => {
    const outputPath = join(dir, "checkpoint", "cp.bim");
    const last = fixture.changesets.at(-1)!;
    const result = await worker.makeCheckpoint({
      basePath: fixture.version0Path,
      outputPath,
      changesets: fixture.changesets,
    });
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

  it("describeElements names elements by label, class and model (the web UI's lock list), and leaves out ids the file lacks", async () => {
    const path = join(dir, "labels", "cp.bim");
    await worker.makeCheckpoint({ basePath: fixture.version0Path, outputPath: path, changesets: fixture.changesets });
    // The expected answer read with plain SQLite: two physical objects, their labels and models.
    const rows = query<{ id: number; label: string | null; model: number }>(
      path,
      `SELECT e.Id AS id, e.UserLabel AS label, e.ModelId AS model FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId
       WHERE c.Name = 'PhysicalObject' ORDER BY e.Id LIMIT 2`,
    );
    assert.equal(rows.length, 2);
    const hex = (n: number) => `0x${BigInt(n).toString(16)}`;
    const ids = [...rows.map((r) => hex(r.id)), "0xfffffffff0", "0x1"];
    const { elements } = await worker.describeElements({ path, ids });
    const byId = new Map(elements.map((e) => [e.id, e]));
    for (const row of rows) {
      const element = byId.get(hex(row.id));
      assert.ok(element, `element ${hex(row.id)} described`);
      assert.equal(element.className, "Generic:PhysicalObject");
      assert.equal(element.model?.id, hex(row.model));
      if (row.label !== null) assert.equal(element.label, row.label);
    }
    assert.equal(byId.get("0x1")?.className, "BisCore:Subject", "the root subject");
    assert.equal(byId.has("0xfffffffff0"), false, "an id the file does not have is left out");
    assert.equal(elements.length, 3);
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
    await worker.makeCheckpoint({
      basePath: fixture.version0Path,
      outputPath: at1,
      changesets: fixture.changesets.slice(0, 1),
    });
    assert.equal(physicalObjectCount(at1), ELEMENTS_PER_CHANGESET);
    const at3 = join(dir, "chain", "at-3.bim");
    const result = await worker.makeCheckpoint({
      basePath: at1,
      outputPath: at3,
      changesets: fixture.changesets.slice(1),
    });
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
      worker.makeCheckpoint({
        basePath: fixture.version0Path,
        outputPath: join(outDir, "cp.bim"),
        changesets: [first!, { ...second!, pathname: corrupt }, third!],
      }),
      (err: Error) => {
        assert.ok(err instanceof FileRejected, String(err));
        assert.match(
          err.message,
          new RegExp(`^Changeset ${second!.index} \\('${second!.id}'\\) could not be applied: `),
        );
        // An unknown changeset format (what a newer iTwin.js would write reads the same) names the worker's iTwin.js
        // and what to do.
        assert.match(
          err.message,
          new RegExp(
            `: Unsupported changeset persistence file version\\. The hub's worker runs iTwin\\.js ${WORKSPACE_ITWIN.replaceAll(".", "\\.")} \\(native [0-9.]+\\); if a newer iTwin\\.js wrote it, run the worker on that version \\(MODELHUB_ITWIN_ROOT`,
          ),
        );
        return true;
      },
    );
    assert.deepEqual(await readdir(outDir).catch(() => []), []);
  });

  it("makeCheckpoint rejects changesets applied out of order", async () => {
    const outDir = join(dir, "out-of-order");
    const [, second] = fixture.changesets;
    await assert.rejects(
      worker.makeCheckpoint({
        basePath: fixture.version0Path,
        outputPath: join(outDir, "cp.bim"),
        changesets: [second!],
      }),
      (err: Error) => {
        assert.ok(err instanceof FileRejected, String(err));
        assert.match(err.message, new RegExp(`^Changeset ${second!.index} `));
        return true;
      },
    );
    assert.deepEqual(await readdir(outDir).catch(() => []), []);
  });

  it("a child that dies rejects the pending request, and the next request gets a fresh child", async () => {
    // A FIFO with no writer makes the child's copy block, so the request is deterministically in flight.
    const fifo = join(dir, "blocked.fifo");
    execFileSync("mkfifo", [fifo]);
    const baseline = join(dir, "kill-baseline.bim");
    await worker.initializeBaseline({
      inputPath: fixture.version0Path,
      outputPath: baseline,
      iModelId: randomUUID(),
      iTwinId: randomUUID(),
    }); // the child is up
    const pid = worker.pid!;
    const pending = worker.makeCheckpoint({ basePath: fifo, outputPath: join(dir, "never.bim"), changesets: [] });
    // Queued behind it: not sent yet, so the crash does not concern it.
    const queued = worker.inspect({ path: baseline });
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(pid, "SIGKILL");
    await assert.rejects(pending, (err: Error) => {
      assert.ok(!(err instanceof FileRejected));
      assert.match(err.message, /^iTwin\.js worker exited with signal SIGKILL/);
      return true;
    });
    assert.equal((await queued).briefcaseId, 0);
    assert.notEqual(worker.pid, pid);
    const first = fixture.changesets[0]!;
    assert.equal((await worker.computeChangesetId(first)).id, first.id);
    assert.deepEqual(await readdir(dir).then((names) => names.filter((n) => n.startsWith("never"))), []);
  });

  it("a request over the time limit is rejected and the child is replaced", async () => {
    const fifo = join(dir, "blocked-2.fifo");
    execFileSync("mkfifo", [fifo]);
    const slow = new ITwinWorker({ workDir: join(dir, "work-2"), requestTimeoutMs: 1000 });
    try {
      const first = fixture.changesets[0]!;
      await slow.computeChangesetId(first); // the child is up
      const pid = slow.pid!;
      await assert.rejects(
        slow.makeCheckpoint({ basePath: fifo, outputPath: join(dir, "never-2.bim"), changesets: [] }),
        /did not answer 'makeCheckpoint' within 1000 ms/,
      );
      assert.equal((await slow.computeChangesetId(first)).id, first.id);
      assert.notEqual(slow.pid, pid);
    } finally {
      await slow.close();
    }
    await assert.rejects(slow.computeChangesetId(fixture.changesets[0]!), /closed/);
  });

  it("close() rejects what is still queued and ends the child; the server process never loads the native library", async () => {
    const fifo = join(dir, "blocked-3.fifo");
    execFileSync("mkfifo", [fifo]);
    const other = new ITwinWorker({ workDir: join(dir, "work-3"), closeGraceMs: 500 });
    await other.start();
    const pid = other.pid!;
    const running = other.makeCheckpoint({ basePath: fifo, outputPath: join(dir, "never-3.bim"), changesets: [] });
    const queued = other.inspect({ path: fixture.version0Path });
    const outcomes = Promise.all([assert.rejects(running, /closed/), assert.rejects(queued, /closed/)]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await other.close(); // the running request never ends by itself: the child is killed after the grace time
    await outcomes;
    assert.throws(() => process.kill(pid, 0), { code: "ESRCH" });
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    assert.ok(
      !loaded.some((path) => path.includes("imodeljs-native") || path.includes("core-backend")),
      "no iTwin.js backend in this process",
    );
  });
});
