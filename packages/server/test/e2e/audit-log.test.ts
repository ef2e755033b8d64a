// The audit log over real HTTP: every write (API, storage uploads) is recorded with who, what, where, from which
// address and how it ended; managers read it page by page; nothing of a storage link's signature is kept.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SqliteAuditLog } from "../../src/adapters/sqlite/sqlite-audit-log.js";
import { makeConfig } from "../../src/config.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { ApiResponse, TestHub } from "../support/hub.js";
import { ACCEPT, eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "44444444-4444-4444-8444-444444444444";
const OTHER_ITWIN = "55555555-5555-4555-8555-555555555555";
const OBJECT_ID = "0x20000000001";

/** Every page of a list, following `_links.next`; checks each page's size. */
async function allPages(hub: TestHub, firstUrl: string, user = "alice"): Promise<{ entries: Json[]; pages: number }> {
  const entries: Json[] = [];
  let url: string | null = firstUrl;
  let pages = 0;
  while (url) {
    const r: ApiResponse<Json> = await hub.api<Json>("GET", url, { user });
    assert.equal(r.status, 200, r.text);
    entries.push(...r.body.auditEntries);
    url = r.body._links.next?.href ?? null;
    pages++;
    assert.ok(pages < 100, "paging ends");
  }
  return { entries, pages };
}

describe("audit log", () => {
  let hub: TestHub;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let iModelId: string;
  let briefcaseId: number;
  let pushRequestId: string | undefined;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 2);
    hub = await startTestHub();
    iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "audited" })).id;
    briefcaseId = await acquireBriefcase(hub, iModelId);
    const locked = await hub.api("PATCH", `/${iModelId}/locks`, {
      body: { briefcaseId, changesetId: "", lockedObjects: [{ lockLevel: "exclusive", objectIds: [OBJECT_ID] }] },
    });
    assert.equal(locked.status, 200, locked.text);
    const cs = fixture.changesets[0]!;
    await pushChangeset(hub, iModelId, briefcaseId, cs);
    const released = await hub.api("PATCH", `/${iModelId}/locks`, {
      headers: { "x-request-id": "release-locks-1" },
      body: { briefcaseId, changesetId: cs.id, lockedObjects: [{ lockLevel: "none", objectIds: [OBJECT_ID] }] },
    });
    assert.equal(released.status, 200, released.text);
    pushRequestId = released.headers.get("x-request-id") ?? undefined;
  });
  after(() => hub?.close());

  it("records each write of a push with who, what, which iModel/iTwin, target, address, status and request id", async () => {
    const r = await hub.api<Json>("GET", `/${iModelId}/auditlog`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get("content-type") ?? "", /application\/vnd\.bentley\.itwin-platform\.v2\+json/);
    const entries = r.body.auditEntries as Json[];
    const actions = entries.map((e) => e.action);
    const cs = fixture.changesets[0]!;
    assert.deepEqual(actions, [
      "imodel.create",
      "storage.upload",
      "imodel.baseline.complete",
      "briefcase.acquire",
      "locks.update",
      "changeset.create",
      "storage.upload",
      "changeset.complete",
      "locks.update",
    ]);
    for (const e of entries) {
      assert.equal(e.iModelId, iModelId, `${e.action}: iModel`);
      assert.equal(e.iTwinId, ITWIN, `${e.action}: iTwin`);
      assert.equal(e.outcome, "success", `${e.action}: outcome`);
      assert.ok(e.status >= 200 && e.status < 300, `${e.action}: status ${e.status}`);
      assert.ok(["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(e.address), `${e.action}: address ${e.address}`);
      assert.ok(Date.now() - Date.parse(e.at) < 10 * 60_000, `${e.action}: at ${e.at}`);
      assert.equal(typeof e.requestId, "string");
      assert.ok(Number.isInteger(e.seq));
      // API writes with the caller; storage uploads with the user their (signed) link was issued to.
      assert.equal(e.userId, "alice", `${e.action}: user`);
    }
    const byAction = (action: string) => entries.filter((e) => e.action === action);
    assert.equal(byAction("imodel.create")[0]!.target, iModelId);
    assert.equal(byAction("briefcase.acquire")[0]!.target, String(briefcaseId));
    assert.equal(byAction("changeset.create")[0]!.target, cs.id);
    assert.equal(byAction("changeset.complete")[0]!.target, cs.id);
    assert.equal(byAction("changeset.complete")[0]!.method, "PATCH");
    assert.equal(byAction("changeset.complete")[0]!.path, `/imodels/${iModelId}/changesets/${cs.id}`);
    assert.equal(byAction("locks.update")[0]!.target, String(briefcaseId));
    assert.equal(
      byAction("locks.update")[1]!.requestId,
      "release-locks-1",
      "the caller's x-request-id is the entry's request id",
    );
    assert.equal(pushRequestId, "release-locks-1");
    const [baselineUpload, changesetUpload] = byAction("storage.upload") as [Json, Json];
    assert.equal(baselineUpload.target, `files/${iModelId}/baseline/upload.bim`);
    assert.equal(changesetUpload.target, `files/${iModelId}/uploads/${cs.id}.${briefcaseId}.cs`);
    assert.equal(changesetUpload.details.size, cs.size);
    assert.equal(changesetUpload.status, 201);
    // The link's signature (sig=…, se=…) is not kept anywhere in the entry.
    assert.doesNotMatch(JSON.stringify(byAction("storage.upload")), /sig=|se=|\?/);
  });

  it("records refusals (4xx) with the error code, and unauthenticated writes without a user; reads are not recorded", async () => {
    const bad = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      headers: { "x-request-id": "bad-body-1" },
      body: { id: "nothex" },
    });
    assert.equal(bad.status, 422);
    const anonymous = await hub.api<Json>("DELETE", `/${iModelId}/briefcases/${briefcaseId}`, {
      user: null,
      headers: { "x-request-id": "anon-1" },
    });
    assert.equal(anonymous.status, 401);
    const missing = await hub.api<Json>("DELETE", `/${iModelId}/briefcases/99999`, {
      headers: { "x-request-id": "missing-1" },
    });
    assert.equal(missing.status, 404);
    const before = (await hub.api<Json>("GET", `/${iModelId}/auditlog?$top=1000`)).body.auditEntries.length;
    assert.equal((await hub.api("GET", `/${iModelId}/changesets`)).status, 200);
    const r = await hub.api<Json>("GET", `/${iModelId}/auditlog?$top=1000`);
    const entries = r.body.auditEntries as Json[];
    assert.equal(entries.length, before, "a GET adds nothing (nor does reading the log)");
    const find = (id: string) => entries.find((e) => e.requestId === id);
    assert.deepEqual(pick(find("bad-body-1")), {
      action: "changeset.create",
      userId: "alice",
      status: 422,
      outcome: "refused",
      errorCode: "InvalidiModelsRequest",
    });
    assert.deepEqual(pick(find("anon-1")), {
      action: "briefcase.release",
      userId: null,
      status: 401,
      outcome: "refused",
      errorCode: "HeaderNotFound",
    });
    assert.equal(find("anon-1")!.target, String(briefcaseId));
    assert.deepEqual(pick(find("missing-1")), {
      action: "briefcase.release",
      userId: "alice",
      status: 404,
      outcome: "refused",
      errorCode: "BriefcaseNotFound",
    });
  });

  it("filters by user, action and time, pages with continuation links both ways, and refuses bad filters", async () => {
    // bob works on another iModel of the same iTwin and on one of another iTwin.
    const second = await hub.api<Json>("POST", "", { user: "bob", body: { iTwinId: ITWIN, name: "second" } });
    assert.equal(second.status, 201, second.text);
    const third = await hub.api<Json>("POST", "", { user: "bob", body: { iTwinId: OTHER_ITWIN, name: "third" } });
    assert.equal(third.status, 201, third.text);
    const secondId = second.body.iModel.id as string;

    const iTwinLog = await allPages(hub, `${hub.url}/auditlog?iTwinId=${ITWIN}&$top=3`);
    assert.ok(iTwinLog.pages >= 5, `paged in ${iTwinLog.pages} pages of 3`);
    const seqs = iTwinLog.entries.map((e) => e.seq as number);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      "oldest first",
    );
    assert.equal(new Set(seqs).size, seqs.length, "no entry twice");
    assert.ok(iTwinLog.entries.every((e) => e.iTwinId === ITWIN));
    assert.ok(
      iTwinLog.entries.some((e) => e.iModelId === secondId && e.action === "imodel.create" && e.userId === "bob"),
    );
    const everything = (await allPages(hub, `${hub.url}/auditlog?$top=1000`)).entries;
    assert.ok(
      everything.some((e) => e.iTwinId === OTHER_ITWIN),
      "without iTwinId: the whole hub",
    );
    assert.equal(everything.filter((e) => e.iTwinId === ITWIN).length, iTwinLog.entries.length);

    const newestFirst = await allPages(hub, `${hub.url}/auditlog?iTwinId=${ITWIN}&$top=4&$orderBy=at%20desc`);
    assert.deepEqual(
      newestFirst.entries.map((e) => e.seq),
      [...seqs].reverse(),
    );

    const bobs = (await hub.api<Json>("GET", `${hub.url}/auditlog?iTwinId=${ITWIN}&userId=bob`)).body
      .auditEntries as Json[];
    assert.deepEqual(
      bobs.map((e) => [e.action, e.iModelId]),
      [["imodel.create", secondId]],
    );
    const creates = (await hub.api<Json>("GET", `/${iModelId}/auditlog?action=changeset.create`)).body
      .auditEntries as Json[];
    assert.deepEqual(
      creates.map((e) => e.status),
      [201, 422],
    );
    const future = await hub.api<Json>(
      "GET",
      `/${iModelId}/auditlog?since=${new Date(Date.now() + 3600_000).toISOString()}`,
    );
    assert.deepEqual(future.body.auditEntries, []);
    const past = await hub.api<Json>("GET", `/${iModelId}/auditlog?until=2020-01-01`);
    assert.deepEqual(past.body.auditEntries, []);

    for (const query of ["since=yesterday", "$top=0", "$orderBy=user", "afterSeq=-1", "$skip=5"]) {
      const r = await hub.api<Json>("GET", `/${iModelId}/auditlog?${query}`);
      assert.equal(r.status, 422, `${query}: ${r.text}`);
      assert.equal(r.body.error.code, "InvalidiModelsRequest");
    }
    const unknown = await hub.api<Json>("GET", "/00000000-0000-4000-8000-000000000000/auditlog");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, "iModelNotFound");
    const anonymous = await fetch(`${hub.url}/auditlog`, { headers: { accept: ACCEPT } });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as Json).error.code, "HeaderNotFound");
  });

  it("every write route is recorded under a named action (a new route without one fails here)", () => {
    const routes = hub.server.app.auditedRoutes;
    assert.ok(routes.length >= 17, `found ${routes.length} write routes`);
    assert.deepEqual(
      routes.filter((r) => !r.named).map((r) => `${r.method} ${r.url}`),
      [],
    );
    assert.ok(
      routes.some((r) => r.method === "PUT" && r.url === "/storage/modelhub/*" && r.action === "storage.upload"),
    );
    assert.ok(!routes.some((r) => r.method === "GET" || r.method === "HEAD"));
  });

  it("an iModel's deletion is recorded with its iTwin, and its log outlives it", async () => {
    const doomed = await hub.api<Json>("POST", "", { body: { iTwinId: ITWIN, name: "doomed" } });
    assert.equal(doomed.status, 201);
    const id = doomed.body.iModel.id as string;
    assert.equal((await hub.api("DELETE", `/${id}`, { headers: { "x-request-id": "delete-doomed" } })).status, 204);
    const r = await hub.api<Json>("GET", `${hub.url}/auditlog?iTwinId=${ITWIN}&action=imodel.delete`);
    assert.deepEqual(
      r.body.auditEntries.map((e: Json) => [e.iModelId, e.iTwinId, e.userId, e.status, e.requestId]),
      [[id, ITWIN, "alice", 204, "delete-doomed"]],
    );
  });
});

function pick(e: Json | undefined): Json | undefined {
  return (
    e && { action: e.action, userId: e.userId, status: e.status, outcome: e.outcome, errorCode: e.details?.errorCode }
  );
}

describe("audit log retention", () => {
  it("housekeeping removes entries older than --audit-retention-days and keeps the rest", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "modelhub-audit-retention-"));
    const log = SqliteAuditLog.open(join(dataDir, "metadata.db"));
    const entry = (requestId: string, daysAgo: number) => ({
      at: new Date(Date.now() - daysAgo * 86_400_000).toISOString(),
      userId: "alice",
      action: "imodel.update",
      method: "PATCH",
      path: "/imodels/x",
      iTwinId: ITWIN,
      iModelId: null,
      target: null,
      address: "127.0.0.1",
      status: 200,
      outcome: "success" as const,
      requestId,
      details: null,
    });
    await log.append([entry("40-days", 40), entry("31-days", 31), entry("29-days", 29), entry("today", 0)]);
    await log.close();
    const hub = await startTestHub({ dataDir, auditRetentionDays: 30 });
    try {
      // The first housekeeping pass runs at start.
      const left = await eventually(
        async () => {
          const r = await hub.api<Json>("GET", `${hub.url}/auditlog?iTwinId=${ITWIN}`);
          const ids = (r.body.auditEntries as Json[]).map((e) => e.requestId as string);
          return ids.length === 2 ? ids : undefined;
        },
        20_000,
        "old entries pruned",
      );
      assert.deepEqual(left, ["29-days", "today"]);
    } finally {
      await hub.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("--audit-retention-days must be a whole number of days, at least 1", () => {
    assert.throws(
      () => makeConfig({ auditRetentionDays: 0 }),
      /--audit-retention-days must be a whole number of at least 1/,
    );
    assert.throws(() => makeConfig({ auditRetentionDays: 1.5 }), /--audit-retention-days/);
    assert.equal(makeConfig({}).auditRetentionDays, 365);
  });
});
