// The unmodified official clients (@itwin/imodels-client-authoring 6.0.2, @itwin/imodels-access-backend 6.0.2)
// pointed at a real hub on loopback, with real files made by iTwin.js.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as AuthoringTypes from "@itwin/imodels-client-authoring";
import type * as ManagementTypes from "@itwin/imodels-client-management";
import type * as AccessTypes from "@itwin/imodels-access-backend";
import type * as CoreCommonTypes from "@itwin/core-common";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";

const require = createRequire(import.meta.url);
// CommonJS packages that re-export other packages: require() sees every export, ESM named imports may not.
const authoring = require("@itwin/imodels-client-authoring") as typeof AuthoringTypes;
const management = require("@itwin/imodels-client-management") as typeof ManagementTypes;
const access = require("@itwin/imodels-access-backend") as typeof AccessTypes;
const coreCommon = require("@itwin/core-common") as typeof CoreCommonTypes;
const { createDefaultClientStorage } = require("@itwin/imodels-access-backend/lib/cjs/DefaultClientStorage.js") as {
  createDefaultClientStorage: () => AuthoringTypes.IModelsClientOptions["cloudStorage"];
};

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
const auth = (user: string) => async () => ({ scheme: "Bearer", token: user });

describe("official iModels clients against modelhub", () => {
  let hub: TestHub;
  let client: AuthoringTypes.IModelsClient;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let work: string;
  let iModelId: string;
  let briefcaseId: number;
  const iTwinId = "5d2ab5d5-4b5c-4a43-9e87-7a1f0d5e8f11";

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startTestHub();
    work = await mkdtemp(join(tmpdir(), "modelhub-official-"));
    client = new authoring.IModelsClient({ api: { baseUrl: hub.baseUrl }, cloudStorage: createDefaultClientStorage() });
  });
  after(async () => {
    await hub.close();
    await rm(work, { recursive: true, force: true });
  });

  it("createFromBaseline uploads a real .bim and waits until it is initialized", async () => {
    const iModel = await client.iModels.createFromBaseline({
      authorization: auth("alice"),
      iModelProperties: {
        iTwinId,
        name: "Official client model",
        description: "made by the official client",
        filePath: fixture.version0Path,
      },
    });
    assert.equal(iModel.state, "initialized");
    assert.equal(iModel.iTwinId, iTwinId);
    assert.equal(iModel.name, "Official client model");
    iModelId = iModel.id;
  });

  it("a duplicate name is iModelExists", async () => {
    await assert.rejects(
      client.iModels.createEmpty({
        authorization: auth("alice"),
        iModelProperties: { iTwinId, name: "Official client model" },
      }),
      (err: ManagementTypes.IModelsError) => err.code === management.IModelsErrorCode.IModelExists,
    );
  });

  it("acquires a briefcase and pushes real changesets (create, Azure-style upload, complete)", async () => {
    const briefcase = await client.briefcases.acquire({
      authorization: auth("alice"),
      iModelId,
      briefcaseProperties: { deviceName: "test rig" },
    });
    briefcaseId = briefcase.briefcaseId;
    assert.equal(briefcaseId, 2);
    for (const cs of fixture.changesets) {
      const pushed = await client.changesets.create({
        authorization: auth("alice"),
        iModelId,
        changesetProperties: {
          id: cs.id,
          parentId: cs.parentId || undefined,
          briefcaseId,
          description: cs.description,
          containingChanges: 0,
          filePath: cs.pathname,
        },
      });
      assert.equal(pushed.index, cs.index);
      assert.equal(pushed.state, "fileUploaded");
    }
  });

  it("lists changesets with ranges and descending order, and downloads them byte-identical", async () => {
    const range = await management.toArray(
      client.changesets.getRepresentationList({
        authorization: auth("alice"),
        iModelId,
        urlParams: {
          afterIndex: 1,
          lastIndex: 3,
          $orderBy: {
            property: management.ChangesetOrderByProperty.Index,
            operator: management.OrderByOperator.Descending,
          },
        },
      }),
    );
    assert.deepEqual(
      range.map((c) => c.index),
      [3, 2],
    );
    const latest = await management.take(
      client.changesets.getMinimalList({
        authorization: auth("alice"),
        iModelId,
        urlParams: {
          $top: 1,
          $orderBy: {
            property: management.ChangesetOrderByProperty.Index,
            operator: management.OrderByOperator.Descending,
          },
        },
      }),
      1,
    );
    assert.equal(latest[0]!.index, 3);

    const downloaded = await client.changesets.downloadList({
      authorization: auth("alice"),
      iModelId,
      targetDirectoryPath: join(work, "cs"),
    });
    assert.equal(downloaded.length, fixture.changesets.length);
    for (const cs of fixture.changesets) {
      const file = downloaded.find((d) => d.id === cs.id)!;
      assert.equal(await sha256(file.filePath), await sha256(cs.pathname), `changeset ${cs.index}`);
    }
    const single = await client.changesets.downloadSingle({
      authorization: auth("alice"),
      iModelId,
      changesetIndex: 2,
      targetDirectoryPath: join(work, "single"),
    });
    assert.equal(await sha256(single.filePath), await sha256(fixture.changesets[1]!.pathname));
  });

  it("names a version and finds its changeset; the baseline checkpoint downloads", async () => {
    const version = await client.namedVersions.create({
      authorization: auth("alice"),
      iModelId,
      namedVersionProperties: { name: "v1", changesetId: fixture.changesets[1]!.id },
    });
    assert.equal(version.changesetIndex, 2);
    const byName = await management.toArray(
      client.namedVersions.getMinimalList({ authorization: auth("alice"), iModelId, urlParams: { name: "v1" } }),
    );
    assert.deepEqual(
      byName.map((v) => v.id),
      [version.id],
    );
    const changeset = await version.getChangeset();
    assert.equal(changeset?.index, 2);

    const checkpoint = await client.checkpoints.getSingle({
      authorization: auth("alice"),
      iModelId,
      changesetIndex: 0,
    });
    assert.equal(checkpoint.state, "successful");
    assert.ok(checkpoint._links.download?.href);
    const bytes = Buffer.from(await (await fetch(checkpoint._links.download!.href)).arrayBuffer());
    assert.equal(bytes.subarray(0, 15).toString("latin1"), "SQLite format 3");
  });

  it("locks: acquire, list, conflict naming the holder, NewerChangesExist, release", async () => {
    const other = (await client.briefcases.acquire({ authorization: auth("bob"), iModelId })).briefcaseId;
    const lock = await client.locks.update({
      authorization: auth("alice"),
      iModelId,
      briefcaseId,
      changesetId: fixture.changesets[2]!.id,
      lockedObjects: [
        { lockLevel: authoring.LockLevel.Exclusive, objectIds: ["0x1", "0xa"] },
        { lockLevel: authoring.LockLevel.Shared, objectIds: ["0x2", "0xb"] },
      ],
    });
    assert.deepEqual(lock.lockedObjects, [
      { lockLevel: "exclusive", objectIds: ["0x1", "0xa"] },
      { lockLevel: "shared", objectIds: ["0x2", "0xb"] },
    ]);
    await assert.rejects(
      client.locks.update({
        authorization: auth("bob"),
        iModelId,
        briefcaseId: other,
        changesetId: fixture.changesets[2]!.id,
        lockedObjects: [{ lockLevel: authoring.LockLevel.Exclusive, objectIds: ["0xa"] }],
      }),
      (err: AuthoringTypes.ConflictingLocksError) => {
        assert.equal(err.code, management.IModelsErrorCode.ConflictWithAnotherUser);
        assert.deepEqual(err.conflictingLocks, [
          { objectId: "0xa", lockLevel: "exclusive", briefcaseIds: [briefcaseId] },
        ]);
        return true;
      },
    );
    // alice releases 0x1 at changeset 3; bob, still at changeset 2, may not take it exclusively.
    await client.locks.update({
      authorization: auth("alice"),
      iModelId,
      briefcaseId,
      changesetId: fixture.changesets[2]!.id,
      lockedObjects: [{ lockLevel: authoring.LockLevel.None, objectIds: ["0x1"] }],
    });
    await assert.rejects(
      client.locks.update({
        authorization: auth("bob"),
        iModelId,
        briefcaseId: other,
        changesetId: fixture.changesets[1]!.id,
        lockedObjects: [{ lockLevel: authoring.LockLevel.Exclusive, objectIds: ["0x1"] }],
      }),
      (err: ManagementTypes.IModelsError & { objectIds?: string[] }) => {
        assert.equal(err.code, management.IModelsErrorCode.NewerChangesExist);
        assert.deepEqual(err.objectIds, ["0x1"]);
        return true;
      },
    );
    const list = await management.toArray(
      client.locks.getList({ authorization: auth("alice"), iModelId, urlParams: { briefcaseId } }),
    );
    assert.deepEqual(list, [
      {
        briefcaseId,
        lockedObjects: [
          { lockLevel: "exclusive", objectIds: ["0xa"] },
          { lockLevel: "shared", objectIds: ["0x2", "0xb"] },
        ],
      },
    ]);
  });

  it("BackendIModelsAccess 6.0.2: briefcase ids, changesets, locks, releaseAllLocks, queryIModelByName, delete", async () => {
    const hubAccess = new access.BackendIModelsAccess({ api: { baseUrl: hub.baseUrl } });
    const accessToken = "Bearer alice";
    assert.deepEqual(await hubAccess.getMyBriefcaseIds({ iModelId, accessToken }), [briefcaseId]);
    const latest = await hubAccess.getLatestChangeset({ iModelId, accessToken });
    assert.equal(latest.index, 3);
    const queried = await hubAccess.queryChangesets({ iModelId, accessToken, range: { first: 2, end: 3 } });
    assert.deepEqual(
      queried.map((c) => c.index),
      [2, 3],
    );
    const named = await hubAccess.getChangesetFromNamedVersion({ iModelId, accessToken, versionName: "v1" });
    assert.equal(named.index, 2);

    const arg = { iModelId, accessToken, briefcaseId, changeset: { id: latest.id, index: latest.index } };
    await hubAccess.acquireLocks(
      arg,
      new Map([
        ["0x20000000001", coreCommon.LockState.Exclusive],
        ["0x20000000002", coreCommon.LockState.Shared],
      ]),
    );
    const held = await hubAccess.queryAllLocks(arg);
    assert.ok(held.some((l) => l.id === "0x20000000001" && l.state === coreCommon.LockState.Exclusive));
    // 6.0.2 releases by reading the first page and PATCHing each entity to "none" until the page is empty.
    await hubAccess.releaseAllLocks(arg);
    assert.deepEqual(await hubAccess.queryAllLocks(arg), []);

    assert.equal(
      await hubAccess.queryIModelByName({ iTwinId, iModelName: "Official client model", accessToken }),
      iModelId,
    );
    assert.equal(await hubAccess.queryIModelByName({ iTwinId, iModelName: "no such model", accessToken }), undefined);
    await hubAccess.releaseBriefcase({ iModelId, accessToken, briefcaseId });
    assert.deepEqual(await hubAccess.getMyBriefcaseIds({ iModelId, accessToken }), []);
    await hubAccess.deleteIModel({ iModelId, iTwinId, accessToken });
    assert.equal((await hub.api("GET", `/${iModelId}`)).status, 404);
  });
});
