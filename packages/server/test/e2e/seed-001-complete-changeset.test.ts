// Seed 001: PATCH /imodels/{id}/changesets/{changesetId} — every example of the page, with real iTwin.js files.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, putFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("seed 001: complete a changeset push", () => {
  let hub: TestHub;
  let iModelId: string;
  let briefcaseId: number;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startTestHub({ pendingPushTimeoutMs: 1500 });
    iModelId = (await createIModelFromFile(hub, fixture.version0Path)).id;
    briefcaseId = await acquireBriefcase(hub, iModelId);
  });
  after(() => hub.close());

  async function create(cs: { id: string; parentId: string; pathname: string }, bc = briefcaseId, user = "alice") {
    const size = (await stat(cs.pathname)).size;
    return hub.api<Json>("POST", `/${iModelId}/changesets`, {
      user,
      body: {
        id: cs.id,
        parentId: cs.parentId,
        briefcaseId: bc,
        description: "Changeset 15",
        containingChanges: 0,
        fileSize: size,
      },
    });
  }

  it("200: returns the changeset in the seed's shape, and the stored file is byte-identical", async () => {
    const cs = fixture.changesets[0]!;
    const created = await create(cs);
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.changeset.state, "waitingForFile");
    assert.equal((await putFile(created.body.changeset._links.upload.href, cs.pathname)).status, 201);

    const r = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
      body: { state: "fileUploaded", briefcaseId },
    });
    assert.equal(r.status, 200, r.text);
    const c = r.body.changeset;
    assert.deepEqual(Object.keys(c).sort(), [
      "_links",
      "application",
      "briefcaseId",
      "containingChanges",
      "creatorId",
      "description",
      "displayName",
      "fileSize",
      "groupId",
      "id",
      "index",
      "parentId",
      "pushDateTime",
      "state",
      "synchronizationInfo",
      // modelhub's documented extension (docs/compatibility.md): iTwin.js records it, the API has no field for it.
      "uncompressedSize",
    ]);
    assert.equal(c.id, cs.id);
    assert.equal(c.displayName, "1");
    assert.equal(c.description, "Changeset 15");
    assert.equal(c.index, 1);
    assert.equal(c.parentId, "");
    assert.equal(c.state, "fileUploaded");
    assert.equal(c.containingChanges, 0);
    assert.equal(c.fileSize, (await stat(cs.pathname)).size);
    assert.equal(c.briefcaseId, briefcaseId);
    assert.equal(c.groupId, null);
    assert.equal(c.creatorId, "alice");
    assert.ok(!Number.isNaN(Date.parse(c.pushDateTime)));
    assert.equal(c.application, null);
    assert.equal(c.synchronizationInfo, null);
    assert.deepEqual(Object.keys(c._links).sort(), [
      "creator",
      "currentOrPrecedingCheckpoint",
      "download",
      "namedVersion",
      "self",
    ]);
    assert.equal(c._links.creator.href, `${hub.baseUrl}/${iModelId}/users/alice`);
    assert.equal(c._links.self.href, `${hub.baseUrl}/${iModelId}/changesets/${cs.id}`);
    assert.equal(c._links.namedVersion, null);
    assert.equal(c._links.download, null);

    const got = await hub.api<Json>("GET", `/${iModelId}/changesets/1`);
    const download = await fetch(got.body.changeset._links.download.href);
    assert.equal(download.status, 200);
    const bytes = Buffer.from(await download.arrayBuffer());
    const original = await readFile(cs.pathname);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), createHash("sha256").update(original).digest("hex"));
  });

  it("re-sending the same PATCH after success is harmless", async () => {
    const cs = fixture.changesets[0]!;
    const again = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
      body: { state: "fileUploaded", briefcaseId },
    });
    assert.equal(again.status, 200);
    assert.equal(again.body.changeset.index, 1);
    const list = await hub.api<Json>("GET", `/${iModelId}/changesets`);
    assert.equal(list.body.changesets.length, 1);
  });

  it("401: no Authorization header", async () => {
    const r = await hub.api("PATCH", `/${iModelId}/changesets/${fixture.changesets[0]!.id}`, {
      user: null,
      body: { state: "fileUploaded", briefcaseId },
    });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, {
      error: { code: "HeaderNotFound", message: "Header Authorization was not found in the request. Access denied." },
    });
  });

  it("403: a user may not complete another user's push", async () => {
    const r = await hub.api("PATCH", `/${iModelId}/changesets/${fixture.changesets[0]!.id}`, {
      user: "mallory",
      body: { state: "fileUploaded", briefcaseId },
    });
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, {
      error: {
        code: "InsufficientPermissions",
        message: "The user has insufficient permissions for the requested operation.",
      },
    });
  });

  it("404: unknown iModel", async () => {
    const r = await hub.api("PATCH", `/5e19bee0-3aea-4355-a9f0-c6df9989ee7d/changesets/${fixture.changesets[0]!.id}`, {
      body: { state: "fileUploaded", briefcaseId },
    });
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { error: { code: "iModelNotFound", message: "Requested iModel is not available." } });
  });

  it("404: FileNotFound when the file was never uploaded", async () => {
    const cs = fixture.changesets[1]!;
    assert.equal((await create(cs)).status, 201);
    const r = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
      body: { state: "fileUploaded", briefcaseId },
    });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, "FileNotFound");
  });

  it("409: ConflictWithAnotherUser while another briefcase's push is in flight, and after its reservation was taken over", async () => {
    const other = await acquireBriefcase(hub, iModelId, "bob");
    const cs = fixture.changesets[1]!; // alice's push from the previous test is still waiting for its file
    const blocked = await create(cs, other, "bob");
    assert.equal(blocked.status, 409);
    assert.deepEqual(blocked.body, {
      error: { code: "ConflictWithAnotherUser", message: "Another user is pushing a Changeset." },
    });

    // Alice's reservation lapses (pendingPushTimeoutMs = 1.5 s); bob takes the slot; alice's late PATCH is refused.
    await new Promise((r) => setTimeout(r, 1600));
    const bobs = await create(cs, other, "bob");
    assert.equal(bobs.status, 201, bobs.text);
    await putFile(bobs.body.changeset._links.upload.href, cs.pathname);
    const done = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
      user: "bob",
      body: { state: "fileUploaded", briefcaseId: other },
    });
    assert.equal(done.status, 200, done.text);
  });

  it("415: a body that is not JSON", async () => {
    const r = await hub.api("PATCH", `/${iModelId}/changesets/${fixture.changesets[0]!.id}`, {
      rawBody: "state=fileUploaded",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(r.status, 415);
    assert.deepEqual(r.body, { error: { code: "UnsupportedMediaType", message: "Media Type is not supported." } });
  });

  it("422: each of the seed's details", async () => {
    const path = `/${iModelId}/changesets/${fixture.changesets[2]!.id}`;
    const invalid = await hub.api<Json>("PATCH", path, { body: { state: "waitingForFile", briefcaseId } });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.body, {
      error: {
        code: "InvalidiModelsRequest",
        message: "Cannot update Changeset.",
        details: [
          {
            code: "InvalidValue",
            message: "Provided 'state' value is not valid. Should be set to 'fileUploaded'.",
            target: "state",
          },
        ],
      },
    });
    const missing = await hub.api<Json>("PATCH", path, { body: { briefcaseId } });
    assert.deepEqual(missing.body, {
      error: {
        code: "InvalidiModelsRequest",
        message: "Cannot update Changeset.",
        details: [{ code: "MissingRequiredProperty", message: "Required property is missing.", target: "state" }],
      },
    });
    const garbage = await hub.api<Json>("PATCH", path, {
      rawBody: "{not json",
      headers: { "content-type": "application/json" },
    });
    assert.equal(garbage.status, 422);
    assert.equal(garbage.body.error.code, "InvalidiModelsRequest");
    assert.deepEqual(garbage.body.error.details, [
      { code: "InvalidRequestBody", message: "Failed to parse request body. Make sure it is a valid JSON." },
    ]);
  });

  it("429: TooManyRequests with retry-after", async () => {
    const limited = await startTestHub({ rateLimitPerMinute: 1 });
    try {
      await limited.api("PATCH", `/${iModelId}/changesets/${fixture.changesets[0]!.id}`, {
        body: { state: "fileUploaded", briefcaseId },
      });
      const r = await limited.api("PATCH", `/${iModelId}/changesets/${fixture.changesets[0]!.id}`, {
        body: { state: "fileUploaded", briefcaseId },
      });
      assert.equal(r.status, 429);
      assert.deepEqual(r.body, {
        error: {
          code: "TooManyRequests",
          message: "More requests were received than the subscription rate-limit allows.",
        },
      });
      assert.ok(r.headers.get("retry-after"));
    } finally {
      await limited.close();
    }
  });
});
