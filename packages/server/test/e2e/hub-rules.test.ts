// Hub rules (hub-semantics.md) and the official clients' wire rules (imodels-api.md §1), over real HTTP with real files.
import assert from "node:assert/strict";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset, putFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";
import { countingIdComputations } from "../support/id-computations.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function allHrefs(value: unknown, out: string[] = []): string[] {
  if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (key === "href" && typeof child === "string") out.push(child);
      else allHrefs(child, out);
    }
  }
  return out;
}

describe("hub rules over HTTP", () => {
  let hub: TestHub;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let iModelId: string;
  let b1: number;
  let b2: number;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startTestHub();
    iModelId = (
      await createIModelFromFile(hub, fixture.version0Path, {
        iTwinId: "22222222-2222-4222-8222-222222222222",
        name: "rules + more",
      })
    ).id;
    b1 = await acquireBriefcase(hub, iModelId, "alice");
    b2 = await acquireBriefcase(hub, iModelId, "bob");
  });
  after(() => hub.close());

  const createBody = async (
    cs: { id: string; parentId: string; pathname: string },
    briefcaseId: number,
    fileSize?: number,
  ) => ({
    id: cs.id,
    parentId: cs.parentId,
    briefcaseId,
    description: "d",
    containingChanges: 0,
    fileSize: fileSize ?? (await stat(cs.pathname)).size,
  });

  it("briefcase ids start at 2, go up by one and are never reused", async () => {
    assert.deepEqual([b1, b2], [2, 3]);
    const b3 = await acquireBriefcase(hub, iModelId, "carol");
    assert.equal((await hub.api("DELETE", `/${iModelId}/briefcases/${b3}`, { user: "carol" })).status, 204);
    assert.equal((await hub.api("GET", `/${iModelId}/briefcases/${b3}`)).status, 404);
    assert.equal(await acquireBriefcase(hub, iModelId, "carol"), b3 + 1);
  });

  it("a changeset waiting for its file is invisible to lists and to 'latest', and a retried create is harmless", async () => {
    const cs = fixture.changesets[0]!;
    const first = await hub.api<Json>("POST", `/${iModelId}/changesets`, { body: await createBody(cs, b1) });
    assert.equal(first.status, 201);
    assert.equal(first.body.changeset.index, 1);
    for (const href of [first.body.changeset._links.upload.href, first.body.changeset._links.complete.href])
      assert.match(href, /^http:\/\/127\.0\.0\.1:\d+\//);
    const retry = await hub.api<Json>("POST", `/${iModelId}/changesets`, { body: await createBody(cs, b1) });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.changeset.index, 1);

    const list = await hub.api<Json>("GET", `/${iModelId}/changesets`);
    assert.deepEqual(list.body, {
      changesets: [],
      _links: { self: { href: `${hub.baseUrl}/${iModelId}/changesets?$top=100` }, prev: null, next: null },
    });
    const latest = await hub.api<Json>("GET", `/${iModelId}/changesets?$top=1&$orderBy=index%20desc`);
    assert.deepEqual(latest.body.changesets, []);
  });

  it("a retried create is honoured only for the same user and the same declared file", async () => {
    const cs = fixture.changesets[0]!;
    const body = await createBody(cs, b1);
    const other = await hub.api<Json>("POST", `/${iModelId}/changesets`, { user: "mallory", body });
    assert.equal(other.status, 403, other.text);
    assert.deepEqual(other.body, {
      error: {
        code: "InsufficientPermissions",
        message: "The user has insufficient permissions for the requested operation.",
      },
    });
    const resized = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      body: { ...body, fileSize: body.fileSize + 1 },
    });
    assert.equal(resized.status, 422, resized.text);
    assert.equal(resized.body.error.details[0].target, "fileSize");
    const same = await hub.api<Json>("POST", `/${iModelId}/changesets`, { body });
    assert.equal(same.status, 200);
    assert.equal(same.body.changeset.fileSize, body.fileSize);
  });

  it("the declared size must match the uploaded file: smaller is a DataConflict at completion, larger is refused at upload", async () => {
    const cs = fixture.changesets[0]!;
    const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, { body: await createBody(cs, b1) });
    const bytes = await readFile(cs.pathname);
    const short = join(tmpdir(), `modelhub-short-${process.pid}.cs`);
    const long = join(tmpdir(), `modelhub-long-${process.pid}.cs`);
    await writeFile(short, bytes.subarray(0, bytes.length - 10));
    await writeFile(long, Buffer.concat([bytes, Buffer.alloc(10)]));
    try {
      const tooLong = await putFile(created.body.changeset._links.upload.href, long);
      assert.equal(tooLong.status, 413);
      assert.match(await tooLong.text(), /<Code>RequestBodyTooLarge<\/Code>/);
      assert.equal((await putFile(created.body.changeset._links.upload.href, short)).status, 201);
      const r = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
        body: { state: "fileUploaded", briefcaseId: b1 },
      });
      assert.equal(r.status, 409);
      assert.equal(r.body.error.code, "DataConflict");
    } finally {
      await rm(short, { force: true });
      await rm(long, { force: true });
    }
  });

  it("a file that does not match its changeset id is refused (ids are recomputed with iTwin.js)", async () => {
    const wrong = fixture.changesets[1]!;
    // A push declaring an id that the file (another changeset's, whose size is declared) cannot have: only the id
    // check can catch it. The same briefcase starting another push drops its earlier reservation.
    const fakeId = "ab".repeat(20);
    const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      body: { ...(await createBody(wrong, b1)), id: fakeId, parentId: "" },
    });
    assert.equal(created.status, 201, created.text);
    await putFile(created.body.changeset._links.upload.href, wrong.pathname);
    const r = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${fakeId}`, {
      body: { state: "fileUploaded", briefcaseId: b1 },
    });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.details[0].code, "InvalidChange");
    assert.match(r.body.error.details[0].message, /does not match the Changeset id/);
  });

  it("a file replaced after its upload is checked as it is at completion, not as it was uploaded", async () => {
    const cs = fixture.changesets[0]!;
    const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, { body: await createBody(cs, b1) });
    // The right file first (its id check starts as soon as it is stored), then a damaged copy of the same size.
    await putFile(created.body.changeset._links.upload.href, cs.pathname);
    const damaged = join(tmpdir(), `modelhub-damaged-${process.pid}-${cs.id}.cs`);
    const bytes = await readFile(cs.pathname);
    for (let i = Math.floor(bytes.length / 2); i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0xff;
    await writeFile(damaged, bytes);
    try {
      assert.equal((await putFile(created.body.changeset._links.upload.href, damaged)).status, 201);
      const r = await hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
        body: { state: "fileUploaded", briefcaseId: b1 },
      });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.error.details[0].code, "InvalidChange");
    } finally {
      await rm(damaged, { force: true });
    }
  });

  it("one push at a time: another briefcase gets ConflictWithAnotherUser, then the push completes", async () => {
    const cs = fixture.changesets[0]!;
    const blocked = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      user: "bob",
      body: await createBody(fixture.changesets[0]!, b2),
    });
    assert.equal(blocked.status, 409);
    assert.equal(blocked.body.error.code, "ConflictWithAnotherUser");
    // alice re-creates with the right size and uploads the right file
    const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, { body: await createBody(cs, b1) });
    // The id is recomputed once, starting when the upload is stored; the completion uses that result.
    const { result: done, computed } = await countingIdComputations(hub.server.worker, async () => {
      await putFile(created.body.changeset._links.upload.href, cs.pathname);
      return hub.api<Json>("PATCH", `/${iModelId}/changesets/${cs.id}`, {
        body: { state: "fileUploaded", briefcaseId: b1 },
      });
    });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.changeset.index, 1);
    assert.equal(computed, 1);
  });

  it("a stale parent gets PullIsRequired; an unknown parent is invalid; a completed id is ChangesetExists", async () => {
    // changeset 2 claims the baseline as its parent, but the tip is changeset 1.
    const stale = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      user: "bob",
      body: { ...(await createBody(fixture.changesets[1]!, b2)), parentId: "" },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, "PullIsRequired");
    const unknown = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      user: "bob",
      body: { ...(await createBody(fixture.changesets[1]!, b2)), parentId: "f".repeat(40) },
    });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.error.details[0].target, "parentId");
    const again = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      body: await createBody(fixture.changesets[0]!, b1),
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "ChangesetExists");
  });

  it("lists: ascending by default, afterIndex exclusive, lastIndex inclusive, desc, keyset next links", async () => {
    await pushChangeset(hub, iModelId, b2, fixture.changesets[1]!, "bob");
    await pushChangeset(hub, iModelId, b1, fixture.changesets[2]!, "alice");
    const all = await hub.api<Json>("GET", `/${iModelId}/changesets`);
    assert.deepEqual(
      all.body.changesets.map((c: Json) => c.index),
      [1, 2, 3],
    );
    assert.deepEqual(
      all.body.changesets.map((c: Json) => c.parentId),
      ["", fixture.changesets[0]!.id, fixture.changesets[1]!.id],
    );
    const range = await hub.api<Json>("GET", `/${iModelId}/changesets?afterIndex=1&lastIndex=2`);
    assert.deepEqual(
      range.body.changesets.map((c: Json) => c.index),
      [2],
    );
    const desc = await hub.api<Json>("GET", `/${iModelId}/changesets?$orderBy=index desc`);
    assert.deepEqual(
      desc.body.changesets.map((c: Json) => c.index),
      [3, 2, 1],
    );

    const pages: number[][] = [];
    let href: string | undefined = `${hub.baseUrl}/${iModelId}/changesets?$top=2&$orderBy=index%20desc`;
    while (href) {
      const page: Json = (await hub.api<Json>("GET", href)).body;
      pages.push(page.changesets.map((c: Json) => c.index));
      href = page._links.next?.href;
    }
    assert.deepEqual(pages, [[3, 2], [1]]);
    const byIndex = await hub.api<Json>("GET", `/${iModelId}/changesets/2`, {
      headers: { prefer: "return=representation" },
    });
    assert.equal(byIndex.body.changeset.id, fixture.changesets[1]!.id);
    assert.equal(
      byIndex.body.changeset._links.currentOrPrecedingCheckpoint.href,
      `${hub.baseUrl}/${iModelId}/changesets/0/checkpoint`,
    );
    assert.equal((await hub.api("GET", `/${iModelId}/changesets/0`)).status, 404);
  });

  it("every link is absolute and has exactly one /imodels/ segment (storage links none)", async () => {
    const bodies = [
      (await hub.api<Json>("GET", `/${iModelId}/changesets`, { headers: { prefer: "return=representation" } })).body,
      (await hub.api<Json>("GET", `/${iModelId}/briefcases`, { headers: { prefer: "return=representation" } })).body,
      (await hub.api<Json>("GET", `/${iModelId}`)).body,
      (await hub.api<Json>("GET", `/${iModelId}/changesets/0/checkpoint`)).body,
    ];
    const hrefs = bodies.flatMap((b) => allHrefs(b));
    assert.ok(hrefs.length > 10);
    for (const href of hrefs) {
      assert.match(href, /^http:\/\//, href);
      const segments = href.split("?")[0]!.toLowerCase().split("/imodels/").length - 1;
      assert.equal(segments, href.includes("/storage/") ? 0 : 1, href);
    }
  });

  it("query values are not percent-decoded as forms: '+' stays a plus, %20 is a space", async () => {
    const r = await hub.api<Json>("GET", `?iTwinId=22222222-2222-4222-8222-222222222222&name=rules%20+%20more`);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.iModels.map((m: Json) => m.id),
      [iModelId],
    );
    assert.equal((await hub.api("GET", `?name=x`)).status, 422);
    const notGuid = await hub.api<Json>("POST", "", { body: { iTwinId: "my-project", name: "x" } });
    assert.equal(notGuid.status, 422);
    assert.equal(notGuid.body.error.details[0].target, "iTwinId");
  });

  it("locks: changesetId '' is the baseline, conflicts name every holder, empty lists are [], release-chunk ends", async () => {
    const tip = fixture.changesets[2]!.id;
    const shared = await hub.api<Json>("PATCH", `/${iModelId}/locks`, {
      body: { briefcaseId: b1, changesetId: "", lockedObjects: [{ lockLevel: "shared", objectIds: ["0x5"] }] },
    });
    assert.equal(shared.status, 200, shared.text);
    await hub.api("PATCH", `/${iModelId}/locks`, {
      user: "bob",
      body: { briefcaseId: b2, changesetId: tip, lockedObjects: [{ lockLevel: "shared", objectIds: ["0x5"] }] },
    });
    const carol = await acquireBriefcase(hub, iModelId, "carol");
    const conflict = await hub.api<Json>("PATCH", `/${iModelId}/locks`, {
      user: "carol",
      body: {
        briefcaseId: carol,
        changesetId: tip,
        lockedObjects: [{ lockLevel: "exclusive", objectIds: ["0x5", "0x6"] }],
      },
    });
    assert.equal(conflict.status, 409);
    assert.deepEqual(conflict.body, {
      error: {
        code: "ConflictWithAnotherUser",
        message: "Lock(s) is owned by another Briefcase.",
        conflictingLocks: [{ objectId: "0x5", lockLevel: "shared", briefcaseIds: [b1, b2] }],
      },
    });
    // all or nothing: 0x6 was not granted either
    const carols = await hub.api<Json>("GET", `/${iModelId}/locks?briefcaseId=${carol}`);
    assert.deepEqual(carols.body.locks, []);
    assert.equal(carols.body._links.next, null);

    const notHeld = await hub.api<Json>("PATCH", `/${iModelId}/locks`, {
      user: "carol",
      body: { briefcaseId: carol, changesetId: tip, lockedObjects: [{ lockLevel: "none", objectIds: ["0x5"] }] },
    });
    assert.equal(notHeld.status, 404);
    assert.equal(notHeld.body.error.code, "LockNotFound");

    const many = Array.from({ length: 2500 }, (_, i) => `0x${(0x1000 + i).toString(16)}`);
    assert.equal(
      (
        await hub.api("PATCH", `/${iModelId}/locks`, {
          user: "carol",
          body: { briefcaseId: carol, changesetId: tip, lockedObjects: [{ lockLevel: "exclusive", objectIds: many }] },
        })
      ).status,
      200,
    );
    let pageCount = 0;
    let seen = 0;
    let href: string | undefined = `${hub.baseUrl}/${iModelId}/locks?briefcaseId=${carol}&$top=1000`;
    while (href) {
      const page: Json = (await hub.api<Json>("GET", href)).body;
      pageCount++;
      for (const lock of page.locks) for (const group of lock.lockedObjects) seen += group.objectIds.length;
      href = page._links.next?.href;
    }
    assert.deepEqual([pageCount, seen], [3, 2500]);
    const chunks: boolean[] = [];
    for (let last = false; !last;) {
      const r = await hub.api<Json>("POST", `/${iModelId}/locks/release-chunk`, {
        user: "carol",
        body: { briefcaseId: carol, changesetId: tip },
      });
      last = r.body.isLastChunk;
      chunks.push(last);
    }
    assert.deepEqual(chunks, [false, false, true]);
  });

  it("releasing a briefcase frees its locks", async () => {
    await hub.api("DELETE", `/${iModelId}/briefcases/${b2}`, { user: "bob" });
    const r = await hub.api<Json>("PATCH", `/${iModelId}/locks`, {
      body: {
        briefcaseId: b1,
        changesetId: fixture.changesets[2]!.id,
        lockedObjects: [{ lockLevel: "exclusive", objectIds: ["0x5"] }],
      },
    });
    assert.equal(r.status, 200, r.text);
  });

  it("an exclusive lock asked for as shared steps back to shared; sent with changeset '' (abandoned) it leaves no pull-required mark", async () => {
    const [cs1, , tip] = fixture.changesets.map((c) => c.id) as [string, string, string];
    const dave = await acquireBriefcase(hub, iModelId, "dave");
    const erin = await acquireBriefcase(hub, iModelId, "erin");
    const patch = (user: string, briefcaseId: number, changesetId: string, lockLevel: string, objectIds: string[]) =>
      hub.api<Json>("PATCH", `/${iModelId}/locks`, {
        user,
        body: { briefcaseId, changesetId, lockedObjects: [{ lockLevel, objectIds }] },
      });
    const held = async (briefcaseId: number) =>
      (await hub.api<Json>("GET", `/${iModelId}/locks?briefcaseId=${briefcaseId}`)).body.locks;

    // dave takes 0x70 shared, upgrades it, then abandons the upgrade (iTwin.js ≥ 5.9 sends the previous state, "").
    assert.equal((await patch("dave", dave, tip, "shared", ["0x70", "0x71"])).status, 200);
    assert.equal((await patch("dave", dave, tip, "exclusive", ["0x70", "0x71"])).status, 200);
    const stepped = await patch("dave", dave, "", "shared", ["0x70"]);
    assert.equal(stepped.status, 200, stepped.text);
    assert.deepEqual(stepped.body.lock.lockedObjects, [
      { lockLevel: "exclusive", objectIds: ["0x71"] },
      { lockLevel: "shared", objectIds: ["0x70"] },
    ]);
    assert.deepEqual(await held(dave), [
      {
        briefcaseId: dave,
        lockedObjects: [
          { lockLevel: "exclusive", objectIds: ["0x71"] },
          { lockLevel: "shared", objectIds: ["0x70"] },
        ],
      },
    ]);
    // Nothing was stamped: erin, still at changeset 1, shares 0x70 without pulling.
    const shared = await patch("erin", erin, cs1, "shared", ["0x70"]);
    assert.equal(shared.status, 200, shared.text);
    assert.equal((await patch("erin", erin, cs1, "none", ["0x70"])).status, 200);

    // Stepping back with a real changeset (after a push) remembers it, as a release does: erin at 1 must pull.
    const pushed = await patch("dave", dave, tip, "shared", ["0x71"]);
    assert.equal(pushed.status, 200, pushed.text);
    const stale = await patch("erin", erin, cs1, "shared", ["0x71"]);
    assert.equal(stale.status, 409, stale.text);
    assert.deepEqual(stale.body, {
      error: {
        code: "NewerChangesExist",
        message: "One or more objects have been locked in a newer Changeset.",
        objectIds: ["0x71"],
      },
    });
    assert.deepEqual(await held(dave), [
      { briefcaseId: dave, lockedObjects: [{ lockLevel: "shared", objectIds: ["0x70", "0x71"] }] },
    ]);

    // A shared lock held at a newer changeset refuses nothing: only releases mark objects. The official clients'
    // test that expected NewerChangesExist here ("locked by a more recent changeset", 6.0.2) became the release case
    // in iTwin/imodels-clients #337 (2026-03-19, "Fix lock test"), i.e. the cloud stopped answering it.
    assert.equal((await patch("dave", dave, tip, "shared", ["0x72"])).status, 200);
    const older = await patch("erin", erin, cs1, "shared", ["0x72"]);
    assert.equal(older.status, 200, older.text);
  });

  it("a file that is not an iModel ends in initializationFailed with a reason, and is left out of the default list", async () => {
    const bogus = join(tmpdir(), `not-an-imodel-${process.pid}.bim`);
    await (await import("node:fs/promises")).writeFile(bogus, "this is not an iModel".repeat(100));
    const created = await hub.api<Json>("POST", "", {
      body: {
        iTwinId: "33333333-3333-4333-8333-333333333333",
        name: "bad",
        baselineFile: { size: (await stat(bogus)).size },
      },
    });
    await putFile(created.body.iModel._links.upload.href, bogus);
    await hub.api("POST", `/${created.body.iModel.id}/baselinefile`, { body: {} });
    let state = "";
    for (let i = 0; i < 600 && !["initialized", "initializationFailed"].includes(state); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const b: Json = (await hub.api<Json>("GET", `/${created.body.iModel.id}/baselinefile`)).body;
      state = b.baselineFile.state;
      if (state === "initializationFailed") assert.match(b.baselineFile.failureReason, /not an iModel/i);
    }
    assert.equal(state, "initializationFailed");
    assert.deepEqual((await hub.api<Json>("GET", `?iTwinId=33333333-3333-4333-8333-333333333333`)).body.iModels, []);
    // the name is free again
    assert.equal(
      (await hub.api("POST", "", { body: { iTwinId: "33333333-3333-4333-8333-333333333333", name: "bad" } })).status,
      201,
    );
  });
});
