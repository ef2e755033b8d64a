// Cloud parity (issue 12, the small items): the unmodified official clients 6.0.2 against a real hub, each answer
// checked field by field against the iModels API v2 reference.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as AuthoringTypes from "@itwin/imodels-client-authoring";
import type * as ManagementTypes from "@itwin/imodels-client-management";
import { ModelHubAccess } from "@modelhub/backend-access";
import { withApplication } from "../../src/http/application.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";
import type { LocalIdentityProvider } from "@modelhub/test-support/identity-provider.js";
import { startIdentityProvider } from "@modelhub/test-support/identity-provider.js";

const require = createRequire(import.meta.url);
const authoring = require("@itwin/imodels-client-authoring") as typeof AuthoringTypes;
const management = require("@itwin/imodels-client-management") as typeof ManagementTypes;
const { createDefaultClientStorage } = require("@itwin/imodels-access-backend/lib/cjs/DefaultClientStorage.js") as {
  createDefaultClientStorage: () => AuthoringTypes.IModelsClientOptions["cloudStorage"];
};

const iTwinId = "8b1f6c0e-3a54-4c1e-9d2f-51e0c7a2b9d4";
const auth = (user: string) => async () => ({ scheme: "Bearer", token: user });
const APP = { id: "parity-app", name: "Parity test app" };
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function clientOf(hub: TestHub, headers: Record<string, string> = {}): AuthoringTypes.IModelsClient {
  return new authoring.IModelsClient({
    api: { baseUrl: hub.baseUrl },
    headers,
    cloudStorage: createDefaultClientStorage(),
  });
}

describe("cloud parity with the official 6.0.2 clients (open mode)", () => {
  let hub: TestHub;
  let fixture: Fixture;
  /** Sends the application headers (open mode has no client id in its tokens). */
  let app: AuthoringTypes.IModelsClient;
  let plain: AuthoringTypes.IModelsClient;
  let iModelId: string;
  let briefcaseId: number;
  let versionId: string;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startTestHub();
    app = clientOf(hub, { "x-modelhub-application-id": APP.id, "x-modelhub-application-name": APP.name });
    plain = clientOf(hub);
    const iModel = await app.iModels.createFromBaseline({
      authorization: auth("alice"),
      iModelProperties: { iTwinId, name: "parity", filePath: fixture.version0Path },
    });
    iModelId = iModel.id;
    briefcaseId = (await app.briefcases.acquire({ authorization: auth("alice"), iModelId })).briefcaseId;
    for (const cs of fixture.changesets) {
      await app.changesets.create({
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
    }
    versionId = (
      await app.namedVersions.create({
        authorization: auth("alice"),
        iModelId,
        namedVersionProperties: { name: "v2", changesetId: fixture.changesets[1]!.id },
      })
    ).id;
  });
  after(async () => {
    await hub?.close();
  });

  it("PUT …/namedversions/{id}/checkpoint as the client sends it (empty body, form content type) answers the checkpoint", async () => {
    const checkpoint = await plain.checkpoints.updateNamedVersionCheckpoint({
      authorization: auth("alice"),
      iModelId,
      namedVersionId: versionId,
    });
    assert.equal(checkpoint.changesetId, fixture.changesets[1]!.id);
    assert.equal(checkpoint.changesetIndex, 2);
    assert.ok(["scheduled", "successful"].includes(checkpoint.state), checkpoint.state);
    assert.equal(checkpoint.directoryAccessInfo, null);
    const done = await eventually(
      async () => {
        const c = await plain.checkpoints.getSingle({
          authorization: auth("alice"),
          iModelId,
          namedVersionId: versionId,
        });
        return c.state === "successful" ? c : undefined;
      },
      120_000,
      "the named version's checkpoint",
    );
    assert.equal(done.changesetIndex, 2);
    assert.ok(done._links.download?.href);
  });

  it("every body-less operation takes an empty application/x-www-form-urlencoded body; a form that says something is 415", async () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const put = await hub.api("PUT", `/${iModelId}/namedversions/${versionId}/checkpoint`, {
      rawBody: "",
      headers: form,
    });
    assert.equal(put.status, 200, put.text);
    const acquired = await hub.api<{ briefcase: { briefcaseId: number } }>("POST", `/${iModelId}/briefcases`, {
      rawBody: "",
      headers: form,
    });
    assert.equal(acquired.status, 201, acquired.text);
    const complete = await hub.api("POST", `/${iModelId}/baselinefile`, { rawBody: "", headers: form });
    assert.equal(complete.status, 200, complete.text);
    const released = await hub.api("DELETE", `/${iModelId}/briefcases/${acquired.body.briefcase.briefcaseId}`, {
      rawBody: "",
      headers: form,
    });
    assert.equal(released.status, 204, released.text);
    const other = await plain.iModels.createEmpty({
      authorization: auth("alice"),
      iModelProperties: { iTwinId, name: "to delete" },
    });
    const deleted = await hub.api("DELETE", `/${other.id}`, { rawBody: "", headers: form });
    assert.equal(deleted.status, 204, deleted.text);
    assert.equal((await hub.api("GET", `/${other.id}`)).status, 404);

    const said = await hub.api<{ error: { code: string } }>(
      "PUT",
      `/${iModelId}/namedversions/${versionId}/checkpoint`,
      { rawBody: "a=1", headers: form },
    );
    assert.equal(said.status, 415);
    assert.equal(said.body.error.code, "UnsupportedMediaType");
  });

  it("application {id, name} on briefcases, changesets and named versions: from the headers, null when unknown", async () => {
    const briefcase = await app.briefcases.getSingle({ authorization: auth("alice"), iModelId, briefcaseId });
    assert.deepEqual(briefcase.application, APP);
    for (const index of [1, 2, 3]) {
      const changeset = await plain.changesets.getSingle({
        authorization: auth("alice"),
        iModelId,
        changesetIndex: index,
      });
      assert.deepEqual(changeset.application, APP, `changeset ${index}`);
    }
    const listed = await management.toArray(
      plain.changesets.getRepresentationList({ authorization: auth("alice"), iModelId }),
    );
    assert.deepEqual(
      listed.map((c) => c.application),
      [APP, APP, APP],
    );
    const version = await plain.namedVersions.getSingle({
      authorization: auth("alice"),
      iModelId,
      namedVersionId: versionId,
    });
    assert.deepEqual(version.application, APP);

    const anonymous = await plain.briefcases.acquire({
      authorization: auth("bob"),
      iModelId,
      briefcaseProperties: { deviceName: "no app" },
    });
    assert.equal(anonymous.application, null);
    const unnamed = clientOf(hub, { "x-modelhub-application-id": "only-an-id" });
    const v0 = await unnamed.namedVersions.create({
      authorization: auth("bob"),
      iModelId,
      namedVersionProperties: { name: "baseline" },
    });
    assert.deepEqual(v0.application, { id: "only-an-id", name: "only-an-id" });
    await plain.briefcases.release({ authorization: auth("bob"), iModelId, briefcaseId: anonymous.briefcaseId });
    // A client id from a verified token wins over the header; the header's name still applies.
    assert.deepEqual(
      withApplication(
        { userId: "u", applicationId: "azp-client" },
        { "x-modelhub-application-id": "spoof", "x-modelhub-application-name": "Tool" },
      ),
      {
        userId: "u",
        applicationId: "azp-client",
        applicationName: "Tool",
      },
    );
  });

  it("a shared lock asked at a changeset older than the last exclusive release of the object is NewerChangesExist (every level)", async () => {
    const bob = (await plain.briefcases.acquire({ authorization: auth("bob"), iModelId })).briefcaseId;
    const [cs1, cs2, cs3] = fixture.changesets.map((c) => c.id) as [string, string, string];
    const lock = (
      user: string,
      briefcase: number,
      changesetId: string,
      lockLevel: AuthoringTypes.LockLevel,
      objectIds: string[],
    ) =>
      plain.locks.update({
        authorization: auth(user),
        iModelId,
        briefcaseId: briefcase,
        changesetId,
        lockedObjects: [{ lockLevel, objectIds }],
      });
    const newer = (objectIds: string[]) => (err: ManagementTypes.IModelsError & { objectIds?: string[] }) => {
      assert.equal(err.code, management.IModelsErrorCode.NewerChangesExist);
      // The client appends the ids to the cloud's message.
      assert.equal(
        err.message,
        `One or more objects have been locked in a newer Changeset. Object ids: ${objectIds.join(" ,")}`,
      ); // sic: the client joins with " ,"
      assert.deepEqual(err.objectIds, objectIds);
      return true;
    };

    // alice takes 0x30 and 0x31 exclusively and releases them with changeset 3.
    await lock("alice", briefcaseId, cs2, authoring.LockLevel.Exclusive, ["0x30", "0x31"]);
    await lock("alice", briefcaseId, cs3, authoring.LockLevel.None, ["0x30", "0x31"]);
    // bob at changeset 2: neither a shared nor an exclusive lock, and nothing of a mixed request is granted.
    await assert.rejects(lock("bob", bob, cs2, authoring.LockLevel.Shared, ["0x30"]), newer(["0x30"]));
    await assert.rejects(lock("bob", bob, cs1, authoring.LockLevel.Exclusive, ["0x31"]), newer(["0x31"]));
    await assert.rejects(
      plain.locks.update({
        authorization: auth("bob"),
        iModelId,
        briefcaseId: bob,
        changesetId: cs2,
        lockedObjects: [
          { lockLevel: authoring.LockLevel.Shared, objectIds: ["0x30", "0x40"] },
          { lockLevel: authoring.LockLevel.Exclusive, objectIds: ["0x31"] },
        ],
      }),
      newer(["0x30", "0x31"]),
    );
    assert.deepEqual(
      await management.toArray(
        plain.locks.getList({ authorization: auth("bob"), iModelId, urlParams: { briefcaseId: bob } }),
      ),
      [],
    );
    // Objects nobody released later than changeset 2 are granted at 2; 0x30/0x31 once bob has pulled to 3.
    const granted = await lock("bob", bob, cs2, authoring.LockLevel.Shared, ["0x40"]);
    assert.deepEqual(granted.lockedObjects, [{ lockLevel: "shared", objectIds: ["0x40"] }]);
    const pulled = await lock("bob", bob, cs3, authoring.LockLevel.Shared, ["0x30"]);
    assert.deepEqual(pulled.lockedObjects, [{ lockLevel: "shared", objectIds: ["0x30", "0x40"] }]);
    // A lock already held is kept whatever the changeset (nothing to pull for it).
    const kept = await lock("bob", bob, cs1, authoring.LockLevel.Shared, ["0x30"]);
    assert.deepEqual(kept.lockedObjects, [{ lockLevel: "shared", objectIds: ["0x30", "0x40"] }]);
    // Releasing a shared lock records nothing: alice at changeset 3 may take 0x40 after bob lets it go at 3.
    await lock("bob", bob, cs3, authoring.LockLevel.None, ["0x30", "0x40"]);
    const aliceShared = await lock("alice", briefcaseId, cs3, authoring.LockLevel.Exclusive, ["0x40"]);
    assert.deepEqual(aliceShared.lockedObjects, [{ lockLevel: "exclusive", objectIds: ["0x40"] }]);
    await lock("alice", briefcaseId, cs3, authoring.LockLevel.None, ["0x40"]);
    await plain.briefcases.release({ authorization: auth("bob"), iModelId, briefcaseId: bob });
  });

  it("each request for a changeset or checkpoint download link gets a fresh URL; every one of them downloads the file", async () => {
    const first = await plain.changesets.getSingle({ authorization: auth("alice"), iModelId, changesetIndex: 1 });
    const second = await plain.changesets.getSingle({ authorization: auth("alice"), iModelId, changesetIndex: 1 });
    const listed = (
      await management.toArray(plain.changesets.getRepresentationList({ authorization: auth("alice"), iModelId }))
    )[0]!;
    const hrefs = [first, second, listed].map((c) => c._links.download!.href);
    assert.equal(new Set(hrefs).size, 3, hrefs.join("\n"));
    const expected = sha256(await readFile(fixture.changesets[0]!.pathname));
    for (const href of hrefs) assert.equal(sha256(Buffer.from(await (await fetch(href)).arrayBuffer())), expected);
    // The nonce is signed: without it (or with another) the link is refused.
    const bare = hrefs[0]!.replace(/&sn=[^&]*/, "");
    assert.notEqual(bare, hrefs[0]);
    assert.equal((await fetch(bare)).status, 403);
    assert.equal((await fetch(hrefs[0]!.replace(/sn=[^&]*/, "sn=AAAAAAAAAAAA"))).status, 403);

    const c1 = await plain.checkpoints.getSingle({ authorization: auth("alice"), iModelId, changesetIndex: 0 });
    const c2 = await plain.checkpoints.getSingle({ authorization: auth("alice"), iModelId, changesetIndex: 0 });
    assert.notEqual(c1._links.download!.href, c2._links.download!.href);
    for (const c of [c1, c2]) {
      const bytes = Buffer.from(await (await fetch(c._links.download!.href)).arrayBuffer());
      assert.equal(bytes.subarray(0, 15).toString("latin1"), "SQLite format 3");
    }
  });

  it("GET …/baselinefile of an iModel created empty describes the baseline the hub made", async () => {
    const empty = await plain.iModels.createEmpty({
      authorization: auth("alice"),
      iModelProperties: { iTwinId, name: "made empty" },
    });
    assert.equal(empty.state, "initialized");
    const baseline = await plain.baselineFiles.getSingle({ authorization: auth("alice"), iModelId: empty.id });
    assert.equal(baseline.id, empty.id);
    assert.equal(baseline.displayName, `${empty.id}.bim`);
    assert.equal(baseline.state, "initialized");
    const checkpoint = await plain.checkpoints.getSingle({
      authorization: auth("alice"),
      iModelId: empty.id,
      changesetIndex: 0,
    });
    assert.ok(baseline.fileSize > 0);
    assert.equal(baseline.fileSize, (checkpoint as { size?: number }).size);
    assert.match(baseline._links.creator!.href, new RegExp(`/imodels/${empty.id}/users/alice$`));
    const bytes = Buffer.from(await (await fetch(baseline._links.download!.href)).arrayBuffer());
    assert.equal(bytes.length, baseline.fileSize);
    assert.equal(bytes.subarray(0, 15).toString("latin1"), "SQLite format 3");
  });

  it("ChangesetProps.uncompressedSize: @modelhub/backend-access sends it on push, the hub keeps it and returns it", async () => {
    const target = await app.iModels.createFromBaseline({
      authorization: auth("alice"),
      iModelProperties: { iTwinId, name: "uncompressed", filePath: fixture.version0Path },
    });
    const hubAccess = new ModelHubAccess({
      baseUrl: hub.url,
      accessToken: "Bearer alice",
      installCheckpointDownload: false,
      verifyChangesetIds: false,
    });
    const accessToken = "Bearer alice";
    const bc = await hubAccess.acquireNewBriefcaseId({ iModelId: target.id, accessToken });
    const [cs1, cs2] = fixture.changesets as [Fixture["changesets"][number], Fixture["changesets"][number]];
    const props = (cs: typeof cs1) => ({
      id: cs.id,
      parentId: cs.parentId,
      index: 0,
      changesType: cs.changesType,
      description: cs.description,
      briefcaseId: bc,
      pushDate: "",
      userCreated: "",
      size: cs.size,
      pathname: cs.pathname,
    });
    assert.equal(
      await hubAccess.pushChangeset({
        iModelId: target.id,
        accessToken,
        changesetProps: { ...props(cs1), uncompressedSize: 987_654 },
      }),
      1,
    );
    assert.equal(await hubAccess.pushChangeset({ iModelId: target.id, accessToken, changesetProps: props(cs2) }), 2);

    const queried = await hubAccess.queryChangeset({ iModelId: target.id, accessToken, changeset: { index: 1 } });
    assert.equal(queried.uncompressedSize, 987_654);
    assert.equal(
      (await hubAccess.queryChangeset({ iModelId: target.id, accessToken, changeset: { index: 2 } })).uncompressedSize,
      undefined,
    );
    const [q1, q2] = await hubAccess.queryChangesets({ iModelId: target.id, accessToken, range: { first: 1 } });
    assert.equal(q1!.uncompressedSize, 987_654);
    assert.equal(q2!.uncompressedSize, undefined);
    // The official client passes the extension field through; it reads null where none was declared.
    const official = await management.toArray(
      plain.changesets.getRepresentationList({ authorization: auth("alice"), iModelId: target.id }),
    );
    assert.deepEqual(
      official.map((c) => (c as unknown as { uncompressedSize: number | null }).uncompressedSize),
      [987_654, null],
    );
    const bad = await hub.api<{ error: { code: string; details: { target: string }[] } }>(
      "POST",
      `/${target.id}/changesets`,
      {
        body: { id: fixture.changesets[2]!.id, parentId: cs2.id, briefcaseId: bc, fileSize: 10, uncompressedSize: -1 },
      },
    );
    assert.equal(bad.status, 422);
    assert.equal(bad.body.error.details[0]!.target, "uncompressedSize");
  });
});

describe("cloud parity with the official 6.0.2 clients (oidc mode): users", () => {
  let idp: LocalIdentityProvider;
  let hub: TestHub;
  let client: AuthoringTypes.IModelsClient;
  let iModelId: string;
  const users = [
    {
      clientId: "alice",
      secret: "alice-secret-0123456789-abcdefghij",
      claims: { name: "Alice Zimmer", given_name: "Alice", family_name: "Zimmer", email: "alice@example.com" },
    },
    {
      clientId: "bob",
      secret: "bob-secret-0123456789-abcdefghijkl",
      claims: { name: "Bob Adams", given_name: "Bob", family_name: "Adams", email: "bob@example.com" },
    },
    {
      clientId: "carl",
      secret: "carl-secret-0123456789-abcdefghijk",
      claims: { name: "Alice Adams", given_name: "Alice", family_name: "Adams", email: "aa@example.com" },
    },
  ];
  const tokenOf = (user: string) => async () => ({ scheme: "Bearer", token: await idp.token(user) });

  before(async () => {
    idp = await startIdentityProvider(users);
    hub = await startTestHub({
      auth: { mode: "oidc", issuer: idp.issuer, audience: idp.audience },
      rateLimitPerMinute: 0,
      admins: ["alice", "bob", "carl"],
    });
    client = clientOf(hub);
    iModelId = (
      await client.iModels.createEmpty({
        authorization: tokenOf("alice"),
        iModelProperties: { iTwinId, name: "users" },
      })
    ).id;
  });
  after(async () => {
    await hub?.close();
    await idp?.close();
  });

  it("names and email from the verified tokens, statistics.applications from the briefcases, $orderBy with two keys", async () => {
    const aliceBriefcase = (await client.briefcases.acquire({ authorization: tokenOf("alice"), iModelId })).briefcaseId;
    const bobBriefcase = (await client.briefcases.acquire({ authorization: tokenOf("bob"), iModelId })).briefcaseId;
    await client.briefcases.acquire({ authorization: tokenOf("carl"), iModelId });
    // The token's client id (azp/client_id) is the application.
    const briefcase = await client.briefcases.getSingle({
      authorization: tokenOf("alice"),
      iModelId,
      briefcaseId: aliceBriefcase,
    });
    assert.deepEqual(briefcase.application, { id: "alice", name: "alice" });
    await client.locks.update({
      authorization: tokenOf("alice"),
      iModelId,
      briefcaseId: aliceBriefcase,
      changesetId: "",
      lockedObjects: [{ lockLevel: authoring.LockLevel.Exclusive, objectIds: ["0x1"] }],
    });
    await client.locks.update({
      authorization: tokenOf("bob"),
      iModelId,
      briefcaseId: bobBriefcase,
      changesetId: "",
      lockedObjects: [{ lockLevel: authoring.LockLevel.Shared, objectIds: ["0x10"] }],
    });

    const byName = await management.toArray(
      client.users.getRepresentationList({
        authorization: tokenOf("alice"),
        iModelId,
        urlParams: {
          $orderBy: [
            { property: management.UserOrderByProperty.GivenName, operator: management.OrderByOperator.Ascending },
            { property: management.UserOrderByProperty.Surname, operator: management.OrderByOperator.Ascending },
          ],
        },
      }),
    );
    assert.deepEqual(
      byName.map((u) => u.id),
      ["carl", "alice", "bob"],
    );
    const bySurname = await management.toArray(
      client.users.getMinimalList({
        authorization: tokenOf("alice"),
        iModelId,
        urlParams: {
          $orderBy: [
            { property: management.UserOrderByProperty.Surname },
            { property: management.UserOrderByProperty.GivenName, operator: management.OrderByOperator.Descending },
          ],
        },
      }),
    );
    assert.deepEqual(
      bySurname.map((u) => u.id),
      ["bob", "carl", "alice"],
    );

    const alice = byName.find((u) => u.id === "alice")!;
    assert.equal(alice.displayName, "Alice Zimmer");
    assert.equal(alice.givenName, "Alice");
    assert.equal(alice.surname, "Zimmer");
    assert.equal(alice.email, "alice@example.com");
    assert.match(alice._links.self!.href, new RegExp(`/imodels/${iModelId}/users/alice$`));
    assert.deepEqual(alice.statistics, {
      pushedChangesetsCount: 0,
      lastChangesetPushDate: null,
      createdVersionsCount: 0,
      briefcasesCount: 1,
      applications: [{ id: "alice", name: "alice", ownsLocks: true, ownsExclusiveRootElementLock: true }],
    });
    const bob = await client.users.getSingle({ authorization: tokenOf("alice"), iModelId, userId: "bob" });
    assert.deepEqual(bob.statistics.applications, [
      { id: "bob", name: "bob", ownsLocks: true, ownsExclusiveRootElementLock: false },
    ]);
    assert.equal(bob.surname, "Adams");
    const carl = await client.users.getSingle({ authorization: tokenOf("carl"), iModelId, userId: "carl" });
    assert.deepEqual(carl.statistics.applications, [
      { id: "carl", name: "carl", ownsLocks: false, ownsExclusiveRootElementLock: false },
    ]);

    const repeated = await hub.api<{ error: { code: string } }>(
      "GET",
      `/${iModelId}/users?$orderBy=surname asc,surname desc`,
      { user: null, headers: { authorization: `Bearer ${await idp.token("alice")}` } },
    );
    assert.equal(repeated.status, 422);
    assert.equal(repeated.body.error.code, "InvalidiModelsRequest");
    assert.ok(ISO.test(briefcase.acquiredDateTime));
  });
});
