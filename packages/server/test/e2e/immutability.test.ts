// Reliability findings 1, 2 and 5: completed objects cannot be rewritten through their links, uploads die with
// their iModel, and nothing is left behind that nothing will delete. Over real HTTP, with real changeset files.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { UrlSigner, loadOrCreateSecret, storageUrl } from "../../src/http/storage/url-signer.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset, putFile } from "@modelhub/test-support/flows.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const ITWIN = "33333333-3333-4333-8333-333333333333";

async function download(hub: TestHub, iModelId: string, index: number): Promise<Buffer> {
  const got = await hub.api<Json>("GET", `/${iModelId}/changesets/${index}`);
  const response = await fetch(got.body.changeset._links.download.href);
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

async function putBytes(href: string, bytes: Buffer, query = ""): Promise<{ status: number; text: string }> {
  const response = await fetch(href + query, {
    method: "PUT",
    headers: { "x-ms-blob-type": "BlockBlob", "content-length": String(bytes.length) },
    body: bytes,
  });
  return { status: response.status, text: await response.text() };
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...MODELHUB, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe("completed objects are immutable", () => {
  let hub: TestHub;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let iModelId: string;
  let briefcaseId: number;
  let signer: UrlSigner;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 8);
    hub = await startTestHub();
    iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "immutable" })).id;
    briefcaseId = await acquireBriefcase(hub, iModelId);
    signer = new UrlSigner(await loadOrCreateSecret(hub.dataDir));
  });
  after(() => hub.close());

  it("finding 1: after completion the upload link writes nothing (Put Blob and Put Block List), and the verified bytes are served", async () => {
    const cs = fixture.changesets[0]!;
    const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      body: {
        id: cs.id,
        parentId: cs.parentId,
        briefcaseId,
        description: "first",
        containingChanges: 0,
        fileSize: cs.size,
      },
    });
    const upload = created.body.changeset._links.upload.href as string;
    assert.equal((await putFile(upload, cs.pathname)).status, 201);
    const done = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
      body: { state: "fileUploaded", briefcaseId },
    });
    assert.equal(done.status, 200, done.text);

    const garbage = Buffer.alloc(cs.size, 0x5a);
    const replaced = await putBytes(upload, garbage);
    assert.equal(replaced.status, 409);
    assert.match(replaced.text, /<Code>BlobImmutableDueToPolicy<\/Code>/);
    const block = await putBytes(upload, garbage, "&comp=block&blockid=YQ%3D%3D");
    assert.equal(block.status, 409);
    const list = await fetch(`${upload}&comp=blocklist`, {
      method: "PUT",
      body: "<BlockList><Latest>YQ==</Latest></BlockList>",
    });
    assert.equal(list.status, 409);

    assert.equal(sha256(await download(hub, iModelId, 1)), sha256(await readFile(cs.pathname)));
    const record = await hub.api<Json>("GET", `/${iModelId}/changesets/1`);
    assert.equal(record.body.changeset.fileSize, cs.size);
  });

  it("finding 1: a link can never write a completed changeset's, a baseline's or a checkpoint's file, even with a valid signature", async () => {
    const origin = hub.url;
    for (const key of [
      `files/${iModelId}/changesets/${fixture.changesets[0]!.id}.cs`,
      `files/${iModelId}/checkpoints/0.bim`,
      `files/${iModelId}/baseline/received.bim`,
    ]) {
      const r = await putBytes(storageUrl(origin, key, signer, "w", 600), Buffer.from("overwrite"));
      assert.equal(r.status, 403, key);
      assert.match(r.text, /<Code>AuthorizationPermissionMismatch<\/Code>/);
    }
    assert.equal(sha256(await download(hub, iModelId, 1)), sha256(await readFile(fixture.changesets[0]!.pathname)));
  });

  it("finding 1: a same-size garbage upload racing the completion is never kept under a 200 (5 rounds)", async () => {
    for (let round = 1; round <= 5; round++) {
      const cs = fixture.changesets[round]!;
      const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
        body: {
          id: cs.id,
          parentId: cs.parentId,
          briefcaseId,
          description: `race ${round}`,
          containingChanges: 0,
          fileSize: cs.size,
        },
      });
      assert.equal(created.status, 201, created.text);
      const upload = created.body.changeset._links.upload.href as string;
      assert.equal((await putFile(upload, cs.pathname)).status, 201);
      const garbage = Buffer.alloc(cs.size, round);
      // Both at once; the garbage PUT starts a little before, after or together with the PATCH.
      const [patch, put] = await Promise.all([
        hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, { body: { state: "fileUploaded", briefcaseId } }),
        new Promise((r) => setTimeout(r, round - 1)).then(() => putBytes(upload, garbage)),
      ]);
      if (patch.status !== 200) {
        // The garbage was what got frozen and checked: refused, and the real file can be sent again.
        assert.equal(patch.status, 422, patch.text);
        assert.equal((await putFile(upload, cs.pathname)).status, 201);
        const retry = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
          body: { state: "fileUploaded", briefcaseId },
        });
        assert.equal(retry.status, 200, retry.text);
      }
      assert.ok([201, 403, 409].includes(put.status), `garbage PUT answered ${put.status}`);
      assert.equal(
        sha256(await download(hub, iModelId, round + 1)),
        sha256(await readFile(cs.pathname)),
        `round ${round}: the kept bytes are the verified ones`,
      );
    }
  });

  it("finding 1: once the baseline is received, its upload link writes nothing, and the iModel is made from what was received", async () => {
    const size = (await stat(fixture.version0Path)).size;
    const created = await hub.api<Json>("POST", "", {
      body: { iTwinId: ITWIN, name: "baseline immutability", baselineFile: { size } },
    });
    const upload = created.body.iModel._links.upload.href as string;
    assert.equal((await putFile(upload, fixture.version0Path)).status, 201);
    assert.equal((await hub.api("POST", `/${created.body.iModel.id}/baselinefile`, { body: {} })).status, 200);
    const late = await putBytes(upload, Buffer.alloc(size, 1));
    assert.equal(late.status, 409);
    assert.match(late.text, /<Code>BlobImmutableDueToPolicy<\/Code>/);
    const state = await eventually(
      async () => {
        const r = await hub.api<Json>("GET", `/${created.body.iModel.id}/baselinefile`);
        return r.body.baselineFile.state === "initializationScheduled"
          ? undefined
          : (r.body.baselineFile.state as string);
      },
      120_000,
      "baseline initialization",
    );
    assert.equal(state, "initialized");
  });

  it("finding 2: another user cannot take over a push in progress by re-sending its create", async () => {
    const cs = fixture.changesets[6]!;
    const body = {
      id: cs.id,
      parentId: cs.parentId,
      briefcaseId,
      description: "mine",
      containingChanges: 0,
      fileSize: cs.size,
    };
    assert.equal((await hub.api<Json>("POST", `/${iModelId}/changesets`, { body })).status, 201);
    const stolen = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      user: "mallory",
      body: { ...body, fileSize: 10 },
    });
    assert.equal(stolen.status, 403);
    assert.equal(stolen.body.changeset, undefined, "no upload link for mallory");
    const mine = await hub.api<Json>("POST", `/${iModelId}/changesets`, { body });
    assert.equal(mine.status, 200);
    assert.equal(mine.body.changeset.fileSize, cs.size, "the declared size was not overwritten");
    assert.equal((await putFile(mine.body.changeset._links.upload.href, cs.pathname)).status, 201);
    assert.equal(
      (await hub.api("PATCH", `/${iModelId}/changesets/${cs.id}`, { body: { state: "fileUploaded", briefcaseId } }))
        .status,
      200,
    );
  });
});

describe("nothing is left that nothing will delete", () => {
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 8);
  });

  it("finding 5: an iModel's upload links die with it, and its files are deleted", async () => {
    const hub = await startTestHub();
    try {
      const iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN })).id;
      const briefcaseId = await acquireBriefcase(hub, iModelId);
      const cs = fixture.changesets[0]!;
      const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
        body: {
          id: cs.id,
          parentId: cs.parentId,
          briefcaseId,
          description: "d",
          containingChanges: 0,
          fileSize: cs.size,
        },
      });
      const folder = join(hub.dataDir, "blobs", "files", iModelId);
      assert.ok(existsSync(folder));
      assert.equal((await hub.api("DELETE", `/${iModelId}`)).status, 204);
      const late = await putFile(created.body.changeset._links.upload.href, cs.pathname);
      assert.equal(late.status, 403);
      assert.match(await late.text(), /<Code>AuthorizationFailure<\/Code>/);
      await eventually(
        async () => (existsSync(folder) ? undefined : true),
        10_000,
        "the deleted iModel's folder to go",
      );
    } finally {
      await hub.close();
    }
  });

  it("finding 5: deleting an iModel while its baseline is being initialized leaves no file (8 tries)", async () => {
    const hub = await startTestHub();
    try {
      const size = (await stat(fixture.version0Path)).size;
      const ids: string[] = [];
      for (let attempt = 0; attempt < 8; attempt++) {
        const created = await hub.api<Json>("POST", "", {
          body: { iTwinId: ITWIN, name: `deleted while initializing ${attempt}`, baselineFile: { size } },
        });
        const id = created.body.iModel.id as string;
        ids.push(id);
        assert.equal((await putFile(created.body.iModel._links.upload.href, fixture.version0Path)).status, 201);
        assert.equal((await hub.api("POST", `/${id}/baselinefile`, { body: {} })).status, 200);
        // Delete at different moments of the initialization (which takes a few hundred ms in the worker).
        await new Promise((r) => setTimeout(r, attempt * 60));
        assert.equal((await hub.api("DELETE", `/${id}`)).status, 204);
      }
      const files = join(hub.dataDir, "blobs", "files");
      // Once no job runs any more, no folder of theirs exists.
      await eventually(
        async () => {
          const left = ids.filter((id) => existsSync(join(files, id)));
          return left.length === 0 ? true : undefined;
        },
        60_000,
        "the deleted iModels' folders to go",
      );
      await new Promise((r) => setTimeout(r, 2000)); // a job finishing late would write now
      assert.deepEqual(
        ids.filter((id) => existsSync(join(files, id))),
        [],
      );
    } finally {
      await hub.close();
    }
  });

  it("finding 5: a partial upload cut by a crash is removed when the hub starts again", async () => {
    const hubProcess = await startHubProcess({ logLevel: "silent" });
    let restarted: Awaited<ReturnType<typeof startHubProcess>> | undefined;
    try {
      const api = (method: string, path: string, body?: unknown) =>
        fetch(`${hubProcess.url}/imodels${path}`, {
          method,
          headers: {
            authorization: "Bearer alice",
            "content-type": "application/json",
            accept: "application/vnd.bentley.itwin-platform.v2+json",
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));
      const created = await api("POST", "", {
        iTwinId: ITWIN,
        name: "crash mid-upload",
        baselineFile: { size: 50_000_000 },
      });
      assert.equal(created.status, 201);
      const target = new URL(created.body.iModel._links.upload.href as string);
      // Half of a 50 MB body, then nothing: the hub is killed while the upload is open.
      const partial = request(target, {
        method: "PUT",
        headers: { "content-length": "50000000", "x-ms-blob-type": "BlockBlob" },
      });
      partial.on("error", () => undefined);
      partial.write(Buffer.alloc(25_000_000, 7));
      const temp = join(hubProcess.dataDir, "blobs", ".tmp");
      await eventually(
        async () => {
          for (const name of await readdir(temp))
            if ((await stat(join(temp, name)).catch(() => undefined))?.size) return true;
          return undefined;
        },
        10_000,
        "the partial upload to reach the disk",
      );
      await hubProcess.kill();
      partial.destroy();
      assert.notDeepEqual(await readdir(temp), [], "the crash left the partial upload behind");
      restarted = await startHubProcess({ dataDir: hubProcess.dataDir, logLevel: "silent" });
      assert.deepEqual(await readdir(temp), []);
    } finally {
      await restarted?.stop();
      await rm(hubProcess.dataDir, { recursive: true, force: true });
    }
  });

  it("finding 5: `modelhub doctor` reports files nothing refers to, and --repair removes them and only them", async () => {
    const hub = await startTestHub();
    try {
      const iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN })).id;
      const briefcaseId = await acquireBriefcase(hub, iModelId);
      for (const cs of fixture.changesets.slice(0, 2)) await pushChangeset(hub, iModelId, briefcaseId, cs);
      const files = join(hub.dataDir, "blobs", "files");
      const hourAgo = new Date(Date.now() - 3600_000);
      const orphan = async (relative: string, old = true) => {
        const path = join(files, relative);
        await mkdir(join(path, ".."), { recursive: true });
        await writeFile(path, "left over");
        if (old) await utimes(path, hourAgo, hourAgo);
        return relative;
      };
      const expected = [
        await orphan(`${randomUUID()}/changesets/${"1".repeat(40)}.cs`), // an iModel that does not exist
        await orphan(`${iModelId}/checkpoints/7-0123abcd.bim`), // no checkpoint record
        await orphan(`${iModelId}/uploads/${fixture.changesets[0]!.id}.${briefcaseId}.cs`), // the upload of a completed push
        await orphan(`${iModelId}/notes.txt`), // not a file the hub makes
      ].map((k) => `files/${k}`);
      const recent = `files/${await orphan(`${iModelId}/checkpoints/9-fresh.bim`, false)}`;
      const before = await filesUnder(files);

      const report = await runCli(["doctor", "--data", hub.dataDir, "--json"]);
      assert.equal(report.code, 1, report.stderr);
      const json = JSON.parse(report.stdout) as {
        orphans: { key: string; reason: string }[];
        orphansTooRecent: number;
        repaired: boolean;
      };
      assert.deepEqual(json.orphans.map((o) => o.key).sort(), [...expected, recent].sort());
      assert.equal(json.orphansTooRecent, 1);
      assert.deepEqual(await filesUnder(files), before, "a report changes nothing");

      const repair = await runCli(["doctor", "--data", hub.dataDir, "--repair"]);
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
      assert.match(repair.stdout, /nothing refers to: 5, 4 removed/);
      const after = (await filesUnder(files)).map((p) => `files/${p.slice(files.length + 1)}`);
      for (const key of expected) assert.ok(!after.includes(key), `${key} removed`);
      assert.ok(after.includes(recent), "a file younger than the grace period is left alone");
      // Everything the hub refers to is still there and still served.
      for (const [i, cs] of fixture.changesets.slice(0, 2).entries()) {
        const got = await hub.api<Json>("GET", `/${iModelId}/changesets/${i + 1}`);
        const bytes = Buffer.from(await (await fetch(got.body.changeset._links.download.href)).arrayBuffer());
        assert.equal(sha256(bytes), sha256(await readFile(cs.pathname)));
      }
      const checkpoint = await hub.api<Json>("GET", `/${iModelId}/checkpoints`);
      assert.equal(checkpoint.status, 200);
    } finally {
      await hub.close();
    }
  });
});

// Issue 18, finding 3: one upload link staged 200 blocks (20 MB) for a 100 KB changeset; blocks stayed 7 days after
// completion; doctor did not see them.
describe("staged blocks", () => {
  let hub: TestHub;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let iModelId: string;
  let briefcaseId: number;
  const blocks = () => join(hub.dataDir, "blobs", ".blocks");
  const block = (upload: string, id: string, bytes: Buffer) =>
    putBytes(upload, bytes, `&comp=block&blockid=${encodeURIComponent(Buffer.from(id).toString("base64"))}`);
  const blockList = async (upload: string, ids: string[]) =>
    (
      await fetch(`${upload}&comp=blocklist`, {
        method: "PUT",
        body: `<BlockList>${ids.map((id) => `<Latest>${Buffer.from(id).toString("base64")}</Latest>`).join("")}</BlockList>`,
      })
    ).status;
  const startPush = async (cs: { id: string; parentId: string; size: number }) =>
    (
      await hub.api<Json>("POST", `/${iModelId}/changesets`, {
        body: { id: cs.id, parentId: cs.parentId, briefcaseId, fileSize: cs.size },
      })
    ).body.changeset._links.upload.href as string;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startTestHub();
    iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "staged" })).id;
    briefcaseId = await acquireBriefcase(hub, iModelId);
  });
  after(() => hub.close());

  it("the blocks staged through one link stay within the declared size, counted together; completion drops the ones not committed", async () => {
    const cs = fixture.changesets[0]!;
    const bytes = await readFile(cs.pathname);
    const upload = await startPush(cs);
    const half = Math.ceil(bytes.length / 2);
    // The file in two blocks, each under the declared size; then one more block would pass the total: refused.
    assert.equal((await block(upload, "a", bytes.subarray(0, half))).status, 201);
    assert.equal((await block(upload, "b", bytes.subarray(half))).status, 201);
    const over = await block(upload, "c", Buffer.alloc(1));
    assert.equal(over.status, 413, over.text);
    assert.match(over.text, /<Code>RequestBodyTooLarge<\/Code>/);
    // 200 blocks of the whole size each (the probe's 20 MB): every one refused, nothing kept.
    for (let i = 0; i < 200; i++)
      assert.equal((await block(upload, `x${i}`, Buffer.alloc(Math.min(bytes.length, 100_000)))).status, 413);
    // Staging a block again under its id replaces it: within the size again.
    assert.equal((await block(upload, "b", Buffer.alloc(1))).status, 201);
    assert.equal((await block(upload, "b", bytes.subarray(half))).status, 201);
    const staged = await filesUnder(blocks());
    assert.equal(staged.filter((f) => !f.endsWith("/key")).length, 2, "only the two blocks are kept");
    assert.equal(
      (await Promise.all(staged.filter((f) => !f.endsWith("/key")).map(async (f) => (await stat(f)).size))).reduce(
        (a, b) => a + b,
        0,
      ),
      bytes.length,
    );
    // A block staged and never committed is dropped with the completion (not 7 days later).
    assert.equal(await blockList(upload, ["a", "b"]), 201);
    assert.equal((await block(upload, "late", Buffer.alloc(10))).status, 201);
    const done = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
      body: { state: "fileUploaded", briefcaseId },
    });
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(await filesUnder(blocks()), [], "no staged block is left");
    assert.equal(sha256(await download(hub, iModelId, 1)), sha256(bytes));
  });

  it("staged blocks die with their iModel", async () => {
    const other = (
      await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "staged-then-deleted" })
    ).id;
    const bc = await acquireBriefcase(hub, other);
    const cs = fixture.changesets[0]!;
    const created = await hub.api<Json>("POST", `/${other}/changesets`, {
      body: { id: cs.id, parentId: cs.parentId, briefcaseId: bc, fileSize: cs.size },
    });
    const upload = created.body.changeset._links.upload.href as string;
    assert.equal((await block(upload, "a", Buffer.alloc(100))).status, 201);
    assert.notDeepEqual(await filesUnder(blocks()), []);
    assert.equal((await hub.api("DELETE", `/${other}`)).status, 204);
    await eventually(
      async () => ((await filesUnder(blocks())).length === 0 ? true : undefined),
      10_000,
      "staged blocks removed with the iModel",
    );
  });

  it("`modelhub doctor` reports blocks nothing will commit, and --repair removes them (not those of a push in progress)", async () => {
    const [first, second] = [fixture.changesets[1]!, fixture.changesets[2]!];
    // A push in progress with a staged block: kept.
    const live = await startPush(first);
    assert.equal((await block(live, "a", Buffer.alloc(100))).status, 201);
    // Blocks a crash left for an upload key whose push is gone, and blocks an older hub staged (no key recorded).
    const root = blocks();
    const hourAgo = new Date(Date.now() - 3600_000);
    const leftover = async (folder: string, key?: string) => {
      await mkdir(join(root, folder), { recursive: true });
      await writeFile(join(root, folder, "b".repeat(64)), Buffer.alloc(1000));
      if (key !== undefined) await writeFile(join(root, folder, "key"), key);
      await utimes(join(root, folder, "b".repeat(64)), hourAgo, hourAgo);
    };
    const goneKey = `files/${iModelId}/uploads/${second.id}.${briefcaseId + 1000}.cs`;
    await leftover(sha256(Buffer.from(goneKey)), goneKey);
    await leftover("c".repeat(64));

    const report = await runCli(["doctor", "--data", hub.dataDir, "--json"]);
    assert.equal(report.code, 1, report.stderr);
    const json = JSON.parse(report.stdout) as {
      staged: { key?: string; blocks: number; bytes: number; reason: string }[];
      stagedScanned: number;
    };
    assert.equal(json.stagedScanned, 3);
    assert.deepEqual(
      json.staged.map((s) => [s.key ?? null, s.blocks, s.bytes, s.reason]).sort(),
      [
        [goneKey, 1, 1000, "the upload of a push that is no longer in progress"],
        [null, 1, 1000, "blocks staged by an earlier hub, for a file it did not record"],
      ].sort(),
    );
    const text = await runCli(["doctor", "--data", hub.dataDir]);
    assert.match(text.stdout, /staged blocks \(never committed\): 3 sets; nothing will commit: 2/);
    const repair = await runCli(["doctor", "--data", hub.dataDir, "--repair"]);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.match(repair.stdout, /nothing will commit: 2 \(0\.0 MB\), 2 removed/);
    const left = await readdir(root);
    assert.deepEqual(
      left,
      [sha256(Buffer.from(`files/${iModelId}/uploads/${first.id}.${briefcaseId}.cs`))],
      "the push in progress keeps its block",
    );
  });
});
