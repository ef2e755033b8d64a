// Clone iModel and Fork iModel with the official management client 6.0.2 against a real hub: the copy's history is
// the source's up to the changeset (ids, indexes, parents, bytes), its files are hard links of the source's on the
// filesystem store, and its history applies to its own re-stamped baseline (a named version's checkpoint of the copy
// is made by iTwin.js and carries the copy's ids).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import type * as ManagementTypes from "@itwin/imodels-client-management";
import { ITwinWorker } from "../../src/adapters/itwin-worker/itwin-worker.js";
import type { SecuredHub } from "../support/access.js";
import { accessControl, startSecuredHub } from "../support/access.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const require = createRequire(import.meta.url);
const management = require("@itwin/imodels-client-management") as typeof ManagementTypes;

const auth = async () => ({ scheme: "Bearer", token: "alice" });
const SOURCE_ITWIN = "5b2c8e1a-3f4d-4a6b-9c7e-1d2f3a4b5c6d";
const TARGET_ITWIN = "8e7d6c5b-4a39-4281-9f0e-a1b2c3d4e5f6";
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("clone and fork with the official client", () => {
  let hub: TestHub;
  let client: ManagementTypes.IModelsClient;
  let fixture: Fixture;
  let sourceId: string;
  let work: string;
  const inspector = new ITwinWorker({ workDir: join(tmpdir(), `modelhub-inspect-${process.pid}`) });

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    work = await mkdtemp(join(tmpdir(), "modelhub-clone-"));
    hub = await startTestHub(
      { checkpoints: { everyChangesets: 0, everyBytes: 0, keepAutomatic: 1 } },
      // Audit entries are written at close: the "writes nothing" case counts the metadata database's commits.
      { auditFlushIntervalMs: 3_600_000 },
    );
    client = new management.IModelsClient({ api: { baseUrl: hub.baseUrl } });
    sourceId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: SOURCE_ITWIN, name: "source" })).id;
    const briefcaseId = await acquireBriefcase(hub, sourceId);
    for (const cs of fixture.changesets) await pushChangeset(hub, sourceId, briefcaseId, cs);
  });
  after(async () => {
    await hub?.close();
    await inspector.close();
    await rm(work, { recursive: true, force: true });
  });

  const blobPath = (iModelId: string, changesetId: string) =>
    join(hub.dataDir, "blobs", "files", iModelId, "changesets", `${changesetId}.cs`);

  /** The copy's changesets equal the fixture's first `count` (ids, indexes, parents, sizes, bytes by sha256) and share inodes with the source's. */
  async function assertHistory(copyId: string, count: number): Promise<void> {
    const listed = await hub.api<Json>("GET", `/${copyId}/changesets`, {
      headers: { prefer: "return=representation" },
    });
    assert.equal(listed.status, 200, listed.text);
    const rows = listed.body.changesets as Json[];
    assert.deepEqual(
      rows.map((c) => [c.index, c.id, c.parentId, c.fileSize, c.state]),
      fixture.changesets.slice(0, count).map((c) => [c.index, c.id, c.parentId, c.size, "fileUploaded"]),
    );
    for (const row of rows) {
      const downloaded = Buffer.from(await (await fetch(row._links.download.href)).arrayBuffer());
      const original = await readFile(fixture.changesets[row.index - 1]!.pathname);
      assert.equal(sha256(downloaded), sha256(original), `changeset ${row.index} bytes`);
      const [copied, source] = await Promise.all([stat(blobPath(copyId, row.id)), stat(blobPath(sourceId, row.id))]);
      assert.equal(copied.ino, source.ino, `changeset ${row.index}: a hard link, not a copy`);
    }
  }

  /** A named version of the copy gets a checkpoint made by iTwin.js from the copy's baseline and history. */
  async function assertCheckpoint(copyId: string, index: number): Promise<void> {
    const changesetId = fixture.changesets[index - 1]!.id;
    const version = await client.namedVersions.create({
      authorization: auth,
      iModelId: copyId,
      namedVersionProperties: { name: `at ${index}`, changesetId },
    });
    const cp = await eventually(
      async () => {
        const r = await hub.api<Json>("GET", `/${copyId}/namedversions/${version.id}/checkpoint`);
        if (r.body.checkpoint?.state === "failed") throw new Error(`checkpoint failed: ${r.text}`);
        return r.body.checkpoint?.state === "successful" ? (r.body.checkpoint as Json) : undefined;
      },
      120_000,
      "checkpoint of the copy",
    );
    const file = join(work, `${copyId}-${index}.bim`);
    await writeFile(file, Buffer.from(await (await fetch(cp._links.download.href)).arrayBuffer()));
    const info = await inspector.inspect({ path: file });
    assert.equal(info.iModelId, copyId);
    assert.equal(info.changesetId, changesetId);
    assert.equal(info.briefcaseId, 0);
  }

  it("clone up to changeset 2: 202 + Location, initialized copy with the source's first 2 changesets (hard links), clonedFrom, a checkpoint iTwin.js made", async () => {
    const cloned = await client.iModels.clone({
      authorization: auth,
      iModelId: sourceId,
      iModelProperties: { iTwinId: TARGET_ITWIN, name: "the clone", changesetIndex: 2 },
    });
    assert.notEqual(cloned.id, sourceId);
    assert.equal(cloned.state, management.IModelState.Initialized);
    assert.equal(cloned.name, "the clone");
    assert.equal(cloned.iTwinId, TARGET_ITWIN);
    const details = await client.operations.getCreateIModelDetails({ authorization: auth, iModelId: cloned.id });
    assert.deepEqual(details, {
      state: management.IModelCreationState.Successful,
      clonedFrom: { iModelId: sourceId, changesetId: fixture.changesets[1]!.id },
      forkedFrom: null,
    });
    await assertHistory(cloned.id, 2);
    await assertCheckpoint(cloned.id, 2);
    // The source is untouched.
    const source = await hub.api<Json>("GET", `/${sourceId}/changesets`);
    assert.equal((source.body.changesets as Json[]).length, 3);
  });

  it("the raw answer: 202, no body, Location and Create-iModel-Operation headers; name and description default to the source's", async () => {
    const r = await hub.api<Json>("POST", `/${sourceId}/clone`, { body: { iTwinId: TARGET_ITWIN, changesetId: "" } });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.text, "");
    const location = r.headers.get("location") ?? "";
    assert.match(location, new RegExp(`^${hub.baseUrl}/[0-9a-f-]{36}$`));
    assert.equal(r.headers.get("create-imodel-operation"), `${location}/operations/create`);
    const copyId = location.split("/").pop()!;
    await eventually(
      async () => ((await hub.api<Json>("GET", `/${copyId}`)).body.iModel.state === "initialized" ? true : undefined),
      60_000,
      "clone",
    );
    const copy = (await hub.api<Json>("GET", `/${copyId}`)).body.iModel;
    assert.equal(copy.name, "source");
    assert.deepEqual((await hub.api<Json>("GET", `/${copyId}/changesets`)).body.changesets, []);
    assert.deepEqual((await hub.api<Json>("GET", `/${copyId}/operations/create`)).body.createOperation.clonedFrom, {
      iModelId: sourceId,
      changesetId: "",
    });
  });

  it("fork with preserveHistory and no changeset: every changeset copied, forkedFrom with a relationship id", async () => {
    const forked = await client.iModels.fork({
      authorization: auth,
      iModelId: sourceId,
      iModelProperties: { iTwinId: TARGET_ITWIN, name: "the fork", preserveHistory: true },
    });
    assert.equal(forked.state, management.IModelState.Initialized);
    const details = await client.operations.getCreateIModelDetails({ authorization: auth, iModelId: forked.id });
    assert.equal(details.state, management.IModelCreationState.Successful);
    assert.equal(details.clonedFrom, null);
    assert.equal(details.forkedFrom?.iModelId, sourceId);
    assert.equal(details.forkedFrom?.changesetId, fixture.changesets[2]!.id);
    assert.match(details.forkedFrom?.relationshipId ?? "", /^[0-9a-f-]{36}$/);
    await assertHistory(forked.id, 3);
    await assertCheckpoint(forked.id, 3);
  });

  /** A squashed copy: no changesets, and a baseline that is the source's content at `index` as a version 0 with the copy's ids. */
  async function assertSquashed(copyId: string, index: number): Promise<void> {
    assert.deepEqual((await hub.api<Json>("GET", `/${copyId}/changesets`)).body.changesets, []);
    const cp = (await hub.api<Json>("GET", `/${copyId}/changesets/0/checkpoint`)).body.checkpoint as Json;
    assert.equal(cp.state, "successful");
    const file = join(work, `${copyId}-0.bim`);
    await writeFile(file, Buffer.from(await (await fetch(cp._links.download.href)).arrayBuffer()));
    const info = await inspector.inspect({ path: file });
    assert.equal(info.iModelId, copyId);
    assert.equal(info.changesetId, "");
    assert.equal(info.briefcaseId, 0);
    // The content is the source's at `index`: the same elements as the source's own checkpoint there.
    assert.equal(elementCount(file), await sourceElementsAt(index));
  }

  const elementCount = (path: string): number => {
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare("SELECT COUNT(*) AS n FROM bis_Element").get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  async function sourceElementsAt(index: number): Promise<number> {
    const version = await client.namedVersions.create({
      authorization: auth,
      iModelId: sourceId,
      namedVersionProperties: { name: `source at ${index}`, changesetId: fixture.changesets[index - 1]!.id },
    });
    const cp = await eventually(
      async () => {
        const r = await hub.api<Json>("GET", `/${sourceId}/namedversions/${version.id}/checkpoint`);
        return r.body.checkpoint?.state === "successful" ? (r.body.checkpoint as Json) : undefined;
      },
      120_000,
      "source checkpoint",
    );
    const file = join(work, `source-${index}.bim`);
    await writeFile(file, Buffer.from(await (await fetch(cp._links.download.href)).arrayBuffer()));
    return elementCount(file);
  }

  it("fork without history (the client's default) at changeset 2: the source's content there as the fork's baseline, no changesets", async () => {
    const forked = await client.iModels.fork({
      authorization: auth,
      iModelId: sourceId,
      iModelProperties: { iTwinId: TARGET_ITWIN, name: "squashed fork", changesetIndex: 2 },
    });
    assert.equal(forked.state, management.IModelState.Initialized);
    const details = await client.operations.getCreateIModelDetails({ authorization: auth, iModelId: forked.id });
    assert.equal(details.forkedFrom?.changesetId, fixture.changesets[1]!.id);
    await assertSquashed(forked.id, 2);
  });

  it("createFromTemplate (latest changeset by default): an initialized iModel whose baseline is the template's latest content", async () => {
    const made = await client.iModels.createFromTemplate({
      authorization: auth,
      iModelProperties: { iTwinId: TARGET_ITWIN, name: "from template", template: { iModelId: sourceId } },
    });
    assert.equal(made.state, management.IModelState.Initialized);
    assert.equal(made.name, "from template");
    const details = await client.operations.getCreateIModelDetails({ authorization: auth, iModelId: made.id });
    assert.deepEqual(details, { state: management.IModelCreationState.Successful, clonedFrom: null, forkedFrom: null });
    await assertSquashed(made.id, 3);
    // A copy: opening the shared fixture, even read-only, would leave -wal/-shm files beside it.
    const version0 = join(work, "version0-copy.bim");
    await copyFile(fixture.version0Path, version0);
    assert.ok(
      elementCount(join(work, `${made.id}-0.bim`)) > elementCount(version0),
      "the template's changesets are in the baseline",
    );
  });

  it("refusals: unknown changeset 404 ChangesetNotFound, unknown source 404 iModelNotFound, taken name 409 iModelExists, bad body 422 — nothing created", async () => {
    const before = ((await hub.api<Json>("GET", `?iTwinId=${TARGET_ITWIN}`)).body.iModels as Json[]).length;
    const notFound = await hub.api<Json>("POST", `/${sourceId}/clone`, {
      body: { iTwinId: TARGET_ITWIN, name: "x", changesetIndex: 9 },
    });
    assert.equal(notFound.status, 404, notFound.text);
    assert.equal(notFound.body.error.code, "ChangesetNotFound");
    const noSource = await hub.api<Json>("POST", `/00000000-0000-4000-8000-000000000000/fork`, {
      body: { iTwinId: TARGET_ITWIN, name: "y" },
    });
    assert.equal(noSource.status, 404, noSource.text);
    assert.equal(noSource.body.error.code, "iModelNotFound");
    const taken = await hub.api<Json>("POST", `/${sourceId}/clone`, {
      body: { iTwinId: TARGET_ITWIN, name: "the clone" },
    });
    assert.equal(taken.status, 409, taken.text);
    assert.equal(taken.body.error.code, "iModelExists");
    const bad = await hub.api<Json>("POST", `/${sourceId}/clone`, { body: { iTwinId: "nope", preserveHistory: true } });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.body.error.code, "InvalidiModelsRequest");
    assert.equal(((await hub.api<Json>("GET", `?iTwinId=${TARGET_ITWIN}`)).body.iModels as Json[]).length, before);
  });

  it("a refused copy or template into an iTwin the hub has never seen writes nothing: no iTwin made and discarded (the fuzzer's find)", async () => {
    // A copy into an unknown iTwin makes the iTwin (its caller the Owner) before the copy; a copy refused for its
    // source used to make it and discard it again: two commits for a refused request. (This hub writes its audit
    // entries at close, and the earlier cases' background jobs are waited for: nothing else commits meanwhile.)
    const db = new Database(join(hub.dataDir, "metadata.db"), { readonly: true });
    const dataVersion = () => db.pragma("data_version", { simple: true }) as number;
    const fresh = "3c9b7a6e-5d4c-4b3a-8f2e-1a0b9c8d7e6f";
    try {
      const busy = () =>
        (db.prepare("SELECT count(*) AS n FROM jobs WHERE state IN ('queued', 'running')").get() as { n: number }).n;
      await eventually(async () => (busy() === 0 ? true : undefined), 60_000, "background jobs done");
      const versionBefore = dataVersion();
      for (const [path, body, code] of [
        [`/00000000-0000-4000-8000-000000000000/fork`, { iTwinId: fresh }, "iModelNotFound"],
        [`/${sourceId}/clone`, { iTwinId: fresh, changesetIndex: 9 }, "ChangesetNotFound"],
        [
          "",
          { iTwinId: fresh, name: "t", template: { iModelId: sourceId, changesetId: "f".repeat(40) } },
          "ChangesetNotFound",
        ],
      ] as const) {
        const r = await hub.api<Json>("POST", path, { body });
        assert.equal(r.status, 404, r.text);
        assert.equal(r.body.error.code, code);
      }
      assert.equal(dataVersion(), versionBefore, "no transaction committed");
      assert.equal((await hub.api<Json>("GET", `?iTwinId=${fresh}`)).body.iModels.length, 0);
    } finally {
      db.close();
    }
  });
});

describe("clone, fork and template permissions (tokens mode)", () => {
  let s: SecuredHub;
  let sourceId: string;
  const S = "0f1e2d3c-4b5a-4697-8877-665544332211"; // alice's
  const X = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f1a2b3c4d"; // bob's

  before(async () => {
    s = await startSecuredHub(["alice", "bob"]);
    // Each claims an iTwin by creating its first iModel there.
    const created = await s.as("alice").api<Json>("POST", "", { body: { iTwinId: S, name: "alice's" } });
    assert.equal(created.status, 201, created.text);
    sourceId = created.body.iModel.id;
    assert.equal((await s.as("bob").api<Json>("POST", "", { body: { iTwinId: X, name: "bob's" } })).status, 201);
    await eventually(
      async () =>
        (await s.as("alice").api<Json>("GET", `/${sourceId}`)).body.iModel.state === "initialized" ? true : undefined,
      60_000,
      "source",
    );
  });
  after(() => s?.close());

  const cloneAs = (user: string, kind: "clone" | "fork", iTwinId: string, name: string) =>
    s.as(user).api<Json>("POST", `/${sourceId}/${kind}`, { body: { iTwinId, name } });
  const templateAs = (user: string, iTwinId: string, name: string) =>
    s.as(user).api<Json>("POST", "", { body: { iTwinId, name, template: { iModelId: sourceId } } });

  it("needs read on the source (else 404: it is not revealed) and imodels_manage on the target iTwin (else 403)", async () => {
    for (const r of [
      await cloneAs("bob", "clone", X, "c1"),
      await cloneAs("bob", "fork", X, "f1"),
      await templateAs("bob", X, "t1"),
    ]) {
      assert.equal(r.status, 404, r.text);
      assert.equal(r.body.error.code, "iModelNotFound");
    }
    for (const r of [
      await cloneAs("alice", "clone", X, "c2"),
      await cloneAs("alice", "fork", X, "f2"),
      await templateAs("alice", X, "t2"),
    ]) {
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.error.code, "InsufficientPermissions");
    }
    // alice makes bob a reader of her iTwin: now he may copy her iModel into his.
    const ac = accessControl(s.as("alice"));
    const role = await ac<Json>("POST", `/itwins/${S}/roles`, {
      displayName: "readers",
      permissions: ["imodels_read"],
    });
    assert.equal(role.status, 201, role.text);
    assert.equal(
      (await ac("POST", `/itwins/${S}/members/users`, { members: [{ userId: "bob", roleIds: [role.body.role.id] }] }))
        .status,
      201,
    );
    assert.equal((await cloneAs("bob", "clone", X, "c3")).status, 202);
    assert.equal((await cloneAs("bob", "fork", X, "f3")).status, 202);
    const made = await templateAs("bob", X, "t3");
    assert.equal(made.status, 201, made.text);
    assert.equal(made.body.iModel.iTwinId, X);
    // A reader still cannot copy into alice's iTwin (no imodels_manage there).
    assert.equal((await cloneAs("bob", "clone", S, "c4")).status, 403);
  });
});
