// A real full disk: the hub's data directory on a small tmpfs (mounting needs root; the tests skip, saying why,
// where mounting is refused). Uploads, metadata writes and checkpoint jobs that run out of space fail cleanly with
// a retryable error, leave nothing half-written, and the hub works again once space is freed.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TestContext } from "node:test";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const run = promisify(execFile);
const FS_SIZE_MB = 24;
const MiB = 1024 * 1024;

describe("a full disk", () => {
  let mountPoint: string;
  let mounted = false;
  let skipReason: string | undefined;
  let hub: TestHub;
  let fixture: Fixture;
  let iModelId: string;
  let briefcaseId: number;
  let filler: string;

  before(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), "modelhub-diskfull-"));
    try {
      await run("mount", ["-t", "tmpfs", "-o", `size=${FS_SIZE_MB}m`, "tmpfs", mountPoint]);
      mounted = true;
    } catch (err) {
      skipReason = `cannot mount a small tmpfs for a real ENOSPC (needs root): ${((err as { stderr?: string }).stderr ?? String(err)).trim()}`;
      return;
    }
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    // No automatic checkpoints: the only checkpoint job is the one the test asks for.
    hub = await startTestHub({
      dataDir: join(mountPoint, "data"),
      checkpoints: { everyChangesets: 1000, everyBytes: 0, keepAutomatic: 1 },
    });
    iModelId = (await createIModelFromFile(hub, fixture.version0Path)).id;
    briefcaseId = await acquireBriefcase(hub, iModelId);
    await pushChangeset(hub, iModelId, briefcaseId, fixture.changesets[0]!);
    filler = join(mountPoint, "filler");
  });

  after(async () => {
    await hub?.close();
    if (mounted) await run("umount", [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  const skipped = (t: TestContext) => {
    if (skipReason) t.skip(skipReason);
    return skipReason !== undefined;
  };

  const freeBytes = async () => {
    const s = await statfs(mountPoint);
    return s.bavail * s.bsize;
  };

  /** Fills the file system until only `leave` bytes are free (0: until a write fails with ENOSPC). */
  async function fill(leave: number): Promise<void> {
    const handle = await open(filler, "a");
    try {
      const chunk = Buffer.alloc(256 * 1024, 1);
      for (;;) {
        const room = (await freeBytes()) - leave;
        if (room <= 0) break;
        try {
          await handle.write(chunk, 0, Math.min(chunk.length, room));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    } finally {
      await handle.close();
    }
  }

  const freeSpace = () => rm(filler, { force: true });

  /** Files under the blob store's temp folder (a write that failed must leave none). */
  const blobTemps = async () =>
    (await readdir(join(hub.dataDir, "blobs", ".tmp")).catch(() => [] as string[])).filter((n) => !n.startsWith("."));

  /** The metadata database is intact: SQLite's own check over a read-only connection. */
  const integrity = () => {
    const db = new Database(join(hub.dataDir, "metadata.db"), { readonly: true, fileMustExist: true });
    try {
      return db.pragma("integrity_check", { simple: true });
    } finally {
      db.close();
    }
  };

  it("an upload bigger than the free space answers 503 in Azure's XML with retry-after and leaves no partial blob", async (t) => {
    if (skipped(t)) return;
    const size = 4 * MiB;
    const created = await hub.api<Json>("POST", "", {
      body: { iTwinId: "44444444-4444-4444-8444-444444444444", name: "too-big", baselineFile: { size } },
    });
    assert.equal(created.status, 201, created.text);
    const href: string = created.body.iModel._links.upload.href;
    const blobPath = join(
      hub.dataDir,
      "blobs",
      decodeURIComponent(new URL(href).pathname.replace(/^\/storage\/modelhub\//, "")),
    );
    const body = randomBytes(size);
    await fill(1 * MiB);
    try {
      const answer = await fetch(href, {
        method: "PUT",
        headers: { "x-ms-blob-type": "BlockBlob", "content-type": "application/octet-stream" },
        body,
      });
      const text = await answer.text();
      assert.ok(answer.status === 503 || answer.status === 507, `status ${answer.status}: ${text}`);
      assert.ok(Number(answer.headers.get("retry-after")) > 0, "retry-after");
      const code = answer.headers.get("x-ms-error-code");
      assert.ok(code, "x-ms-error-code");
      assert.match(answer.headers.get("content-type") ?? "", /^application\/xml/);
      assert.match(
        text,
        new RegExp(`^<\\?xml[^>]*\\?><Error><Code>${code}</Code><Message>[^<]*disk space[^<]*</Message>`),
      );
      assert.equal(existsSync(blobPath), false, "no partial blob");
      assert.deepEqual(await blobTemps(), [], "no temp file left in blobs/.tmp");
      const baseline = await hub.api<Json>("GET", `/${created.body.iModel.id}/baselinefile`);
      assert.equal(baseline.body.baselineFile.state, "waitingForFile");
    } finally {
      await freeSpace();
    }
    // With space again, the same link takes the same upload.
    const again = await fetch(href, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body });
    assert.equal(again.status, 201, await again.text());
    assert.equal(existsSync(blobPath), true);
  });

  it("a metadata write that hits SQLITE_FULL answers 503 ServiceUnavailable with retry-after and changes nothing", async (t) => {
    if (skipped(t)) return;
    // ~900 KB of extended data: far more than the WAL file has room for, so SQLite must grow it.
    const data = Buffer.from(JSON.stringify({ big: "x".repeat(650_000) })).toString("base64");
    await fill(0);
    try {
      const answer = await hub.api<Json>("POST", `/${iModelId}/changesets/1/extendeddata`, { body: { data } });
      assert.equal(answer.status, 503, answer.text);
      assert.equal(answer.body.error.code, "ServiceUnavailable");
      assert.match(answer.body.error.message, /disk space/, "the answer says why (and it is not some other 503)");
      assert.ok(Number(answer.headers.get("retry-after")) > 0, "retry-after");
      assert.match(answer.headers.get("content-type") ?? "", /^application\/vnd\.bentley\.itwin-platform\.v2\+json/);
      // The hub still reads, and the write left nothing behind.
      const read = await hub.api<Json>("GET", `/${iModelId}/changesets/1/extendeddata`);
      assert.equal(read.status, 404, read.text);
      assert.equal((await hub.api("GET", `/${iModelId}`)).status, 200);
    } finally {
      await freeSpace();
    }
    assert.equal(integrity(), "ok");
    const retried = await hub.api<Json>("POST", `/${iModelId}/changesets/1/extendeddata`, { body: { data } });
    assert.equal(retried.status, 201, retried.text);
  });

  it("a checkpoint job that runs out of space fails or retries without corrupting anything, and succeeds once space is freed", async (t) => {
    if (skipped(t)) return;
    const scratch = join(hub.dataDir, "tmp");
    await mkdir(scratch, { recursive: true });
    // Room for the small writes that schedule the job, not for the 1.4 MB checkpoint file it makes.
    await fill(256 * 1024);
    let versionId: string;
    try {
      const version = await hub.api<Json>("POST", `/${iModelId}/namedversions`, {
        body: { name: "on a full disk", changesetIndex: 1 },
      });
      assert.equal(version.status, 201, version.text);
      versionId = version.body.namedVersion.id;
      // The job ran into the full disk at least once: the queue recorded the error.
      const lastError = await eventually(
        async () => {
          const db = new Database(join(hub.dataDir, "metadata.db"), { readonly: true, fileMustExist: true });
          try {
            const row = db
              .prepare("SELECT last_error, state FROM jobs WHERE kind LIKE '%checkpoint%' AND last_error IS NOT NULL")
              .get() as { last_error: string } | undefined;
            return row?.last_error;
          } finally {
            db.close();
          }
        },
        60_000,
        "the checkpoint job to fail on the full disk",
      );
      assert.match(lastError, /ENOSPC|no space|full/i);
      const checkpoint = await hub.api<Json>("GET", `/${iModelId}/namedversions/${versionId}/checkpoint`);
      assert.equal(checkpoint.status, 200, checkpoint.text);
      assert.ok(["scheduled", "failed"].includes(checkpoint.body.checkpoint.state), checkpoint.text);
      assert.equal(checkpoint.body.checkpoint._links.download, null);
      assert.deepEqual(await blobTemps(), [], "no temp file left in blobs/.tmp");
      assert.equal((await hub.api("GET", `/${iModelId}/changesets/1`)).status, 200, "the hub still serves");
    } finally {
      await freeSpace();
    }
    assert.equal(integrity(), "ok");
    // Retried by the queue, or (if it gave up) scheduled again by hand: either way it succeeds now.
    const done = await eventually(
      async () => {
        const r = await hub.api<Json>("GET", `/${iModelId}/namedversions/${versionId}/checkpoint`);
        if (r.body.checkpoint.state === "failed")
          await hub.api("PUT", `/${iModelId}/namedversions/${versionId}/checkpoint`, { body: {} });
        return r.body.checkpoint.state === "successful" ? r.body.checkpoint : undefined;
      },
      120_000,
      "the checkpoint to succeed after space was freed",
    );
    const file = await fetch(done._links.download.href);
    assert.equal(file.status, 200);
    assert.equal((await file.arrayBuffer()).byteLength, done.size);
    // The row turns successful inside the job's scratch folder, which is removed right after: look once no checkpoint
    // job is queued or running any more (a CI run under load once found the successful run's folder still there).
    await eventually(
      async () => {
        const db = new Database(join(hub.dataDir, "metadata.db"), { readonly: true, fileMustExist: true });
        try {
          const { n } = db
            .prepare("SELECT count(*) AS n FROM jobs WHERE kind LIKE '%checkpoint%' AND state IN ('queued', 'running')")
            .get() as { n: number };
          return n === 0 ? true : undefined;
        } finally {
          db.close();
        }
      },
      60_000,
      "the checkpoint jobs to end",
    );
    const leftovers = (await readdir(scratch)).filter((n) => n.startsWith("checkpoint-"));
    assert.deepEqual(leftovers, [], "no scratch folder left by the failed runs");
  });

  it("once space is freed, a push succeeds", async (t) => {
    if (skipped(t)) return;
    await fill(0);
    let refused: Json;
    try {
      // A push while the disk is full fails somewhere (create, upload or complete) with a retryable 503, never a 500.
      refused = await pushChangeset(hub, iModelId, briefcaseId, fixture.changesets[1]!).then(
        (cs: Json) => ({ pushed: cs }),
        (err: Error) => ({ error: err.message }),
      );
      if ("error" in refused) assert.match(refused.error as string, /failed: 503\b/);
    } finally {
      await freeSpace();
    }
    const pushed =
      "pushed" in refused ? refused.pushed : await pushChangeset(hub, iModelId, briefcaseId, fixture.changesets[1]!);
    assert.equal(pushed.index, 2);
    const next = await pushChangeset(hub, iModelId, briefcaseId, fixture.changesets[2]!);
    assert.equal(next.index, 3);
    assert.equal(integrity(), "ok");
  });
});
