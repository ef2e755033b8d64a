// ModelHubAccess against a real hub behind a proxy that loses answers, breaks connections, shortens bodies and
// answers 429/5xx: nothing is created twice, downloads resume and are verified, retries honour retry-after and stop
// at a cap, progress is monotonic and can abort, and errors are the host's IModelError numbers.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreBentley from "@itwin/core-bentley";
import type * as CoreCommon from "@itwin/core-common";
import type { ChangesetFileProps } from "@itwin/core-common";
import type { ModelHubAccessOptions } from "../src/index.js";
import { ModelHubAccess } from "../src/index.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { startTestHub } from "@modelhub/test-support/hub.js";
import { FaultProxy } from "./support/fault-proxy.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const common = require("@itwin/core-common") as typeof CoreCommon;
const bentley = require("@itwin/core-bentley") as typeof CoreBentley;
const backend = require("@itwin/core-backend") as typeof CoreBackend;

const ITWIN = "7a1d3e5f-2b4c-4d6e-8f01-23456789abcd";
const TOKEN = "Bearer alice";
const STORAGE = /^\/storage\//;

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** Runs `work` and returns what it threw (fails if it did not throw). */
async function failure(work: Promise<unknown>): Promise<Error & { errorNumber?: number }> {
  try {
    await work;
  } catch (err) {
    return err as Error & { errorNumber?: number };
  }
  assert.fail("expected a failure");
}

describe("ModelHubAccess over a faulty network, against a real hub", () => {
  let hub: TestHub;
  let proxy: FaultProxy;
  let fixture: Fixture;
  let work: string;
  let iModelId: string;
  let briefcaseId: number;
  const clients: ModelHubAccess[] = [];

  const access = (options: Partial<ModelHubAccessOptions> = {}) => {
    const client = new ModelHubAccess({
      baseUrl: proxy.url,
      accessToken: TOKEN,
      installCheckpointDownload: false,
      retry: { baseDelayMs: 20, maxDelayMs: 100 },
      // These tests are about the storage transfers: no files inline in the list, pushes in three requests (create,
      // upload, complete); each extension has its own test below.
      inlineFileBytes: 0,
      oneRequestPushBytes: 0,
      ...options,
    });
    clients.push(client);
    return client;
  };

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    work = await mkdtemp(join(tmpdir(), "modelhub-transfers-"));
    proxy = await FaultProxy.start();
    hub = await startTestHub();
    proxy.forwardTo(hub.url);
  });
  after(async () => {
    for (const client of clients) client.dispose();
    await proxy.close();
    await hub.close();
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => proxy.reset());

  it("creates an iModel and pushes through lost answers and 5xx without creating anything twice", async () => {
    const client = access();
    // Every step of the create flow loses its first answer or is refused once.
    proxy.add({ method: "POST", path: /^\/imodels$/, times: 1, kind: { dropResponse: true } });
    proxy.add({ method: "PUT", path: STORAGE, times: 1, kind: { reply: 503 } });
    proxy.add({ method: "POST", path: /\/baselinefile$/, times: 1, kind: { dropResponse: true } });
    iModelId = await client.createNewIModel({
      iTwinId: ITWIN,
      iModelName: "faults",
      version0: fixture.version0Path,
      accessToken: TOKEN,
    });
    const listed = await hub.api<{ iModels: { id: string }[] }>("GET", `?iTwinId=${ITWIN}`);
    assert.deepEqual(
      listed.body.iModels.map((m) => m.id),
      [iModelId],
      "exactly one iModel",
    );
    // Sent, lost, re-sent (the hub has it: iModelExists), then the unfinished one is removed and created again.
    assert.equal(proxy.count("POST", /^\/imodels$/), 3);
    assert.equal(proxy.count("DELETE", /^\/imodels\/[^/]+$/), 1);

    briefcaseId = await client.acquireNewBriefcaseId({ iModelId, accessToken: TOKEN });
    proxy.reset();
    // Each push: the create's answer is lost once, the upload refused once, the complete's answer lost once.
    const indexes: number[] = [];
    for (const cs of fixture.changesets) {
      proxy.add({ method: "POST", path: /\/changesets$/, times: 1, kind: { dropResponse: true } });
      proxy.add({ method: "PUT", path: STORAGE, times: 1, kind: { reply: 500 } });
      proxy.add({ method: "PATCH", path: /\/changesets\/[0-9a-f]{40}$/, times: 1, kind: { dropResponse: true } });
      const props = { ...cs, index: 0, briefcaseId, pushDate: "", userCreated: "" } as ChangesetFileProps;
      indexes.push(await client.pushChangeset({ iModelId, changesetProps: props, accessToken: TOKEN }));
    }
    assert.deepEqual(indexes, [1, 2, 3]);
    assert.equal(proxy.count("POST", /\/changesets$/), 6);
    assert.equal(proxy.count("PATCH", /\/changesets\//), 6);
    const onHub = await client.queryChangesets({ iModelId, accessToken: TOKEN });
    assert.deepEqual(
      onHub.map((c) => [c.index, c.id, c.parentId, c.size]),
      fixture.changesets.map((c, i) => [i + 1, c.id, c.parentId, c.size]),
    );
  });

  it("re-pushing a changeset the hub already has answers its index (the first answer was lost)", async () => {
    const cs = fixture.changesets[2]!;
    const props = { ...cs, index: 0, briefcaseId, pushDate: "", userCreated: "" } as ChangesetFileProps;
    assert.equal(await access().pushChangeset({ iModelId, changesetProps: props, accessToken: TOKEN }), 3);
    assert.equal((await access().getLatestChangeset({ iModelId, accessToken: TOKEN })).index, 3);
  });

  it("a push in one request goes through a lost answer and a 5xx and lands once; a hub without it gets three requests", async () => {
    const client = access({ oneRequestPushBytes: 8 * 1024 * 1024 });
    const target = await client.createNewIModel({
      iTwinId: ITWIN,
      iModelName: "one request",
      version0: fixture.version0Path,
      accessToken: TOKEN,
    });
    const briefcase = await client.acquireNewBriefcaseId({ iModelId: target, accessToken: TOKEN });
    const push = (cs: (typeof fixture.changesets)[number]) =>
      client.pushChangeset({
        iModelId: target,
        changesetProps: {
          ...cs,
          index: 0,
          briefcaseId: briefcase,
          pushDate: "",
          userCreated: "",
        } as ChangesetFileProps,
        accessToken: TOKEN,
      });
    const PUSH = /\/changesets\/push$/;
    const threeRequestSteps = () => [
      proxy.count("POST", /\/changesets$/),
      proxy.count("PUT", STORAGE),
      proxy.count("PATCH", /\/changesets\//),
    ];
    const [first, second, third] = fixture.changesets as [Fixture["changesets"][number], ...Fixture["changesets"]];
    proxy.reset();
    // The first push's answer is lost (the hub committed it: asked again, it is ChangesetExists and the client reads
    // the index); the second is refused once with a 503 (nothing committed: sent again).
    proxy.add({ method: "POST", path: PUSH, times: 1, kind: { dropResponse: true } });
    assert.equal(await push(first), 1);
    proxy.add({ method: "POST", path: PUSH, times: 1, kind: { reply: 503 } });
    assert.equal(await push(second!), 2);
    assert.equal(proxy.count("POST", PUSH), 4);
    assert.deepEqual(threeRequestSteps(), [0, 0, 0], "no step of a push in three requests");

    // A hub without the extension (an older modelhub) answers the route as unknown: three requests, and the client
    // does not ask again (the re-push of the third changeset is a create answered ChangesetExists).
    proxy.reset();
    const unknownRoute = { error: { code: "NotFound", message: "No API route matches POST …/changesets/push." } };
    proxy.add({ method: "POST", path: PUSH, times: 1, kind: { reply: 404, body: JSON.stringify(unknownRoute) } });
    assert.equal(await push(third!), 3);
    assert.equal(await push(third!), 3);
    assert.equal(proxy.count("POST", PUSH), 1);
    assert.deepEqual(threeRequestSteps(), [2, 1, 1]);
    const onHub = await client.queryChangesets({ iModelId: target, accessToken: TOKEN });
    assert.deepEqual(
      onHub.map((c) => [c.index, c.id, c.parentId, c.size]),
      fixture.changesets.map((c, i) => [i + 1, c.id, c.parentId, c.size]),
    );
  });

  it("honours retry-after on 429, retries 5xx, and gives up at the cap", async () => {
    const client = access({ retry: { maxRetries: 2, baseDelayMs: 20, maxDelayMs: 100 } });
    const path = /\/changesets\/1$/;
    proxy.add({
      method: "GET",
      path,
      times: 1,
      kind: {
        reply: 429,
        headers: { "retry-after": "1" },
        body: JSON.stringify({ error: { code: "TooManyRequests", message: "slow down" } }),
      },
    });
    const started = Date.now();
    assert.equal(
      (await client.queryChangeset({ iModelId, changeset: { index: 1 }, accessToken: TOKEN })).id,
      fixture.changesets[0]!.id,
    );
    assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms, retry-after said 1 s`);

    proxy.reset();
    proxy.add({ method: "GET", path, times: 2, kind: { reply: 503 } });
    assert.equal((await client.queryChangeset({ iModelId, changeset: { index: 1 }, accessToken: TOKEN })).index, 1);
    assert.equal(proxy.count("GET", path), 3);

    proxy.reset();
    proxy.add({ method: "GET", path, times: 100, kind: { reply: 503 } });
    const err = await failure(client.queryChangeset({ iModelId, changeset: { index: 1 }, accessToken: TOKEN }));
    assert.ok(err instanceof common.IModelError, String(err));
    assert.equal(
      err.errorNumber,
      bentley.IModelHubStatus.Unknown,
      "not a number core-backend's pushChanges retries on",
    );
    assert.equal(proxy.count("GET", path), 3, "one request and two retries");

    const unreachable = access({
      baseUrl: "http://127.0.0.1:1",
      retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 10 },
    });
    assert.match(
      (await failure(unreachable.getLatestChangeset({ iModelId, accessToken: TOKEN }))).message,
      /cannot reach the hub/,
    );
  });

  it("a pull of small changesets takes their files from the list's answer: no storage request, byte-exact", async () => {
    const dir = join(work, "inline");
    proxy.reset();
    const files = await access({ inlineFileBytes: 2 * 1024 * 1024 }).downloadChangesets({
      iModelId,
      range: { first: 1, end: 3 },
      targetDir: dir,
      accessToken: TOKEN,
    });
    assert.equal(proxy.count("GET", STORAGE), 0, "no download request");
    assert.equal(proxy.count("GET", /\/changesets\?/), 1, "one list request");
    assert.equal(files.length, 3);
    for (const [i, file] of files.entries())
      assert.equal(await sha256(file.pathname), await sha256(fixture.changesets[i]!.pathname));
    // Only as many whole files as fit: the rest through their links.
    proxy.reset();
    const some = await access({ inlineFileBytes: fixture.changesets[0]!.size }).downloadChangesets({
      iModelId,
      range: { first: 1, end: 3 },
      targetDir: join(work, "inline-some"),
      accessToken: TOKEN,
    });
    assert.equal(proxy.count("GET", STORAGE), 2, "the two that did not fit");
    for (const [i, file] of some.entries())
      assert.equal(await sha256(file.pathname), await sha256(fixture.changesets[i]!.pathname));
  });

  it("streamed downloads resume after a broken connection, run at most `downloadConcurrency` at once, and are byte-exact", async () => {
    const dir = join(work, "resume");
    proxy.track = STORAGE;
    proxy.add({ method: "GET", path: STORAGE, times: 1, kind: { cutAfterBytes: 100 } });
    proxy.add({ method: "GET", path: STORAGE, times: 3, kind: { delayMs: 150 } });
    // Limit 0: every file is streamed, as files over 1 MiB are by default.
    const files = await access({ downloadConcurrency: 2, wholeFileLimitBytes: 0 }).downloadChangesets({
      iModelId,
      range: { first: 1, end: 3 },
      targetDir: dir,
      accessToken: TOKEN,
    });
    assert.deepEqual(
      files.map((f) => f.index),
      [1, 2, 3],
    );
    for (const [i, file] of files.entries()) {
      // In iTwin.js's folder, under a name of this call's own (iTwin.js deletes each file it applied).
      assert.match(file.pathname, new RegExp(`^${dir}/${fixture.changesets[i]!.id}\\.\\d+-\\d+\\.cs$`));
      assert.equal(await sha256(file.pathname), await sha256(fixture.changesets[i]!.pathname));
    }
    assert.ok(proxy.seen.some((s) => s.outcome === "cut"));
    assert.deepEqual(
      proxy.seen.filter((s) => s.range).map((s) => s.range),
      ["bytes=100-"],
      "the broken download resumed where it stopped",
    );
    assert.equal(proxy.maxInFlight, 2);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith(".part")),
      [],
    );
  });

  it("a small file received in one piece starts over after a broken connection", async () => {
    const dir = join(work, "restart");
    proxy.track = STORAGE;
    proxy.add({ method: "GET", path: STORAGE, times: 1, kind: { cutAfterBytes: 100 } });
    const file = await access().downloadChangeset({
      iModelId,
      changeset: { index: 2 },
      targetDir: dir,
      accessToken: TOKEN,
    });
    assert.equal(await sha256(file.pathname), await sha256(fixture.changesets[1]!.pathname));
    assert.ok(proxy.seen.some((s) => s.outcome === "cut"));
    assert.deepEqual(
      proxy.seen.filter((s) => s.range),
      [],
      "fetched again from the start",
    );
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith(".part")),
      [],
    );
  });

  it("files already present with the right size (e.g. prefetched) are not downloaded again; a wrong size is replaced; each call gets files of its own", async () => {
    const dir = join(work, "present");
    const client = access();
    await mkdir(dir, { recursive: true });
    for (const c of fixture.changesets.slice(0, 3)) await copyFile(c.pathname, join(dir, `${c.id}.cs`));
    await writeFile(join(dir, `${fixture.changesets[1]!.id}.cs`), "not a changeset");
    proxy.reset();
    const files = await client.downloadChangesets({
      iModelId,
      range: { first: 1, end: 3 },
      targetDir: dir,
      accessToken: TOKEN,
    });
    assert.equal(proxy.count("GET", STORAGE), 1, "only the damaged file was fetched");
    assert.equal(files.length, 3);
    for (const [i, file] of files.entries())
      assert.equal(await sha256(file.pathname), await sha256(fixture.changesets[i]!.pathname));
    // The files were handed to that call: a second call (another briefcase of the iModel) gets its own copies, so
    // neither deletes what the other is about to apply.
    const again = await client.downloadChangesets({
      iModelId,
      range: { first: 1, end: 3 },
      targetDir: dir,
      accessToken: TOKEN,
    });
    assert.equal(proxy.count("GET", STORAGE), 4);
    for (const [i, file] of again.entries()) {
      assert.notEqual(file.pathname, files[i]!.pathname);
      assert.equal(await sha256(file.pathname), await sha256(fixture.changesets[i]!.pathname));
    }
  });

  it("a body shorter than the changeset's size is refused after the retries, and nothing is left behind", async () => {
    const dir = join(work, "short");
    proxy.add({ method: "GET", path: STORAGE, times: 100, kind: { dropLastBytes: 7 } });
    const client = access({ retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 10 } });
    const err = await failure(
      client.downloadChangeset({ iModelId, changeset: { index: 2 }, targetDir: dir, accessToken: TOKEN }),
    );
    assert.match(err.message, new RegExp(`expected ${fixture.changesets[1]!.size}`));
    assert.deepEqual(await readdir(dir).catch(() => []), []);
  });

  it("progress is monotonic up to the total and survives a resumed download; a non-zero return aborts", async () => {
    const total = fixture.changesets.reduce((sum, c) => sum + c.size, 0);
    const seen: [number, number][] = [];
    proxy.add({ method: "GET", path: STORAGE, times: 1, kind: { cutAfterBytes: 200 } });
    await access({ downloadConcurrency: 1 }).downloadChangesets({
      iModelId,
      range: { first: 1 },
      targetDir: join(work, "progress"),
      accessToken: TOKEN,
      progressCallback: (downloaded, all) => {
        seen.push([downloaded, all]);
        return 0;
      },
    });
    assert.ok(seen.length >= 3);
    assert.ok(
      seen.every(([d, t], i) => t === total && d <= total && (i === 0 || d >= seen[i - 1]![0])),
      JSON.stringify(seen),
    );
    assert.equal(seen.at(-1)![0], total);

    const dir = join(work, "abort");
    const err = await failure(
      access().downloadChangesets({
        iModelId,
        range: { first: 1 },
        targetDir: dir,
        accessToken: TOKEN,
        progressCallback: () => 1,
      }),
    );
    assert.ok(err instanceof common.IModelError);
    assert.equal(err.errorNumber, bentley.BriefcaseStatus.DownloadCancelled);
    assert.match(err.message, /AbortError/);
    assert.deepEqual(
      (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".part")),
      [],
    );

    const checkpoint = join(work, "abort-checkpoint.bim");
    const cpErr = await failure(
      access().downloadV1Checkpoint({
        localFile: checkpoint,
        checkpoint: { iModelId, iTwinId: ITWIN, changeset: { id: "", index: 0 }, accessToken: TOKEN },
        onProgress: () => 1,
      }),
    );
    assert.equal(cpErr.errorNumber, bentley.BriefcaseStatus.DownloadCancelled, String(cpErr));
    await assert.rejects(stat(checkpoint));
  });

  it("with iTwin.js started, a changeset whose bytes do not hash to its id is fetched again, then refused", async () => {
    await startOfflineIModelHost({ cacheDir: join(work, "host-cache") });
    try {
      const client = access();
      proxy.add({ method: "GET", path: STORAGE, times: 1, kind: { flipByteAt: 60 } });
      const [file] = await client.downloadChangesets({
        iModelId,
        range: { first: 2, end: 2 },
        targetDir: join(work, "verify"),
        accessToken: TOKEN,
      });
      assert.equal(await sha256(file!.pathname), await sha256(fixture.changesets[1]!.pathname));
      assert.equal(proxy.count("GET", STORAGE), 2);

      proxy.reset();
      proxy.add({ method: "GET", path: STORAGE, times: 100, kind: { flipByteAt: 60 } });
      const dir = join(work, "corrupt");
      const err = await failure(
        client.downloadChangeset({ iModelId, changeset: { index: 3 }, targetDir: dir, accessToken: TOKEN }),
      );
      assert.equal(err.errorNumber, bentley.ChangeSetStatus.CorruptedChangeStream, err.message);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await backend.IModelHost.shutdown();
    }
  });

  it("abandonLocks takes a BriefcaseIdArg and each lock's previous state: releases, steps back to shared, tolerates ids not held", async () => {
    const client = access();
    const arg = {
      iModelId,
      briefcaseId,
      changeset: { id: "", index: 0 },
      accessToken: TOKEN,
    } as CoreBackend.BriefcaseDbArg;
    const { Exclusive, Shared, None } = common.LockState;
    await client.acquireLocks(
      arg,
      new Map([
        ["0x20000000001", Exclusive],
        ["0x20000000002", Shared],
        ["0x20000000003", Exclusive],
        ["0x20000000004", Exclusive],
      ]),
    );
    const plain = await failure(
      client.acquireLocks(
        arg,
        new Map([
          ["0x20000000001", None],
          ["0x2000000ffff", None],
        ]),
      ),
    );
    assert.equal(
      plain.errorNumber,
      bentley.IModelHubStatus.LockDoesNotExist,
      "the hub refuses a release naming a lock not held",
    );
    // iTwin.js ≥ 5.9 passes no changeset (BriefcaseIdArg).
    const idArg: CoreBackend.BriefcaseIdArg = { iModelId, briefcaseId, accessToken: TOKEN };
    await client.abandonLocks!(
      idArg,
      new Map([
        ["0x20000000001", None],
        ["0x20000000002", None],
        ["0x20000000004", Shared],
        ["0x2000000ffff", None],
      ]),
    );
    assert.deepEqual(await client.queryAllLocks(arg), [
      { id: "0x20000000003", state: Exclusive },
      { id: "0x20000000004", state: Shared },
    ]);
    await client.abandonAllLocks!(idArg);
    assert.deepEqual(await client.queryAllLocks(arg), []);
  });

  it("acquireLocks with more ids than the hub takes in one request sends several, and every lock is held", async () => {
    const client = access();
    const arg = {
      iModelId,
      briefcaseId,
      changeset: { id: "", index: 0 },
      accessToken: TOKEN,
    } as CoreBackend.BriefcaseDbArg;
    const { Exclusive, Shared } = common.LockState;
    // 25,000 ids: three PATCHes of at most 10,000 (the hub answers 422 to a single one this large).
    const ids = Array.from({ length: 25_000 }, (_, i) => `0x${(0x30000000000 + i).toString(16)}`);
    await client.acquireLocks(arg, new Map(ids.map((id, i) => [id, i % 5 === 0 ? Shared : Exclusive])));
    const held = await client.queryAllLocks(arg);
    assert.equal(held.length, ids.length);
    assert.equal(held.filter((l) => l.state === Shared).length, ids.length / 5);
    await client.abandonAllLocks!({ iModelId, briefcaseId, accessToken: TOKEN });
    assert.deepEqual(await client.queryAllLocks(arg), []);
  });

  it("hub errors become the host's IModelError with the numbers iTwin.js knows", async () => {
    const client = access();
    const unknownIModel = "00000000-0000-4000-8000-000000000000";
    const cases: [() => Promise<unknown>, number][] = [
      [
        () => client.getLatestChangeset({ iModelId: unknownIModel, accessToken: TOKEN }),
        bentley.IModelHubStatus.iModelDoesNotExist,
      ],
      [
        () => client.queryChangesets({ iModelId: unknownIModel, accessToken: TOKEN }),
        bentley.IModelHubStatus.iModelDoesNotExist,
      ],
      [
        () => client.getMyBriefcaseIds({ iModelId: unknownIModel, accessToken: TOKEN }),
        bentley.IModelHubStatus.iModelDoesNotExist,
      ],
      [
        () =>
          client.downloadV1Checkpoint({
            localFile: join(work, "none.bim"),
            checkpoint: {
              iModelId: unknownIModel,
              iTwinId: ITWIN,
              changeset: { id: "", index: 0 },
              accessToken: TOKEN,
            },
          }),
        bentley.IModelHubStatus.iModelDoesNotExist,
      ],
      [
        () => client.deleteIModel({ iModelId: unknownIModel, iTwinId: ITWIN, accessToken: TOKEN }),
        bentley.IModelHubStatus.iModelDoesNotExist,
      ],
      [
        () => client.queryChangeset({ iModelId, changeset: { index: 99 }, accessToken: TOKEN }),
        bentley.IModelHubStatus.ChangeSetDoesNotExist,
      ],
      [
        () => client.queryChangeset({ iModelId, changeset: { id: "ab".repeat(20) }, accessToken: TOKEN }),
        bentley.IModelHubStatus.ChangeSetDoesNotExist,
      ],
      [
        () => client.getChangesetFromNamedVersion({ iModelId, versionName: "no such version", accessToken: TOKEN }),
        bentley.IModelStatus.NotFound,
      ],
      [
        () => client.releaseBriefcase({ iModelId, briefcaseId: 999, accessToken: TOKEN }),
        bentley.IModelHubStatus.BriefcaseDoesNotExist,
      ],
    ];
    for (const [call, errorNumber] of cases) {
      const err = await failure(call());
      assert.ok(err instanceof common.IModelError, String(err));
      assert.equal(err.errorNumber, errorNumber, err.message);
    }
  });

  it("a push whose completion the hub never answers fails with the hub's error once its outcome time is up (not ENOENT), and the next push succeeds", async () => {
    // The completion is sent again until the hub answers or pushOutcomeTimeoutMs ends (lost-push-answer.test.ts).
    const client = access({
      installCheckpointDownload: true,
      retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 10 },
      pushOutcomeTimeoutMs: 300,
    });
    await startOfflineIModelHost({ cacheDir: join(work, "push-cache"), hubAccess: client });
    try {
      const props = await backend.BriefcaseManager.downloadBriefcase({
        iTwinId: ITWIN,
        iModelId,
        fileName: join(work, "push.bim"),
        accessToken: TOKEN,
      });
      const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
      try {
        assert.equal(db.changeset.index, 3);
        const firstId = (ecsql: string) =>
          db.withPreparedStatement(ecsql, (stmt) => (stmt.step(), stmt.getValue(0).getId()));
        const model = firstId("SELECT ECInstanceId FROM bis.PhysicalModel WHERE IsPrivate = false");
        const category = firstId("SELECT ECInstanceId FROM bis.SpatialCategory");
        await db.locks.acquireLocks({ shared: model });
        db.elements.insertElement({
          classFullName: "Generic:PhysicalObject",
          model,
          category,
          code: common.Code.createEmpty(),
          placement: { origin: [0, 0, 0], angles: {} },
        } as never);
        db.saveChanges("one element");

        proxy.add({
          method: "PATCH",
          path: /\/changesets\/[0-9a-f]{40}$/,
          times: Number.MAX_SAFE_INTEGER,
          kind: { reply: 503 },
        });
        const err = await failure(db.pushChanges({ description: "one element", accessToken: TOKEN }));
        assert.match(
          err.message,
          /the hub did not answer the completion of changeset [0-9a-f]{40} within 0\.3 s \(pushChangeset: 503 Unknown injected by the test proxy\)/,
        );
        assert.equal(
          err.errorNumber,
          bentley.IModelHubStatus.Unknown,
          "not a number core-backend's pushChanges retries on",
        );
        const completions = proxy.count("PATCH", /\/changesets\//);
        assert.ok(
          completions >= 4 && completions % 2 === 0,
          `rounds of one request and one retry, by the client; none by core-backend: ${completions}`,
        );
        assert.ok(db.txns.hasPendingTxns, "the local changes are kept");

        proxy.reset();
        await db.pushChanges({ description: "one element", accessToken: TOKEN });
        assert.equal(db.changeset.index, 4);
        assert.equal((await client.getLatestChangeset({ iModelId, accessToken: TOKEN })).id, db.changeset.id);
      } finally {
        db.close();
      }
    } finally {
      await backend.IModelHost.shutdown();
    }
  });

  it("loads with require() from CommonJS (Node 20.19+ require(esm))", async () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const script = `const m = require("@modelhub/backend-access"); const a = new m.ModelHubAccess({ baseUrl: "http://127.0.0.1:1", installCheckpointDownload: false });
      console.log(JSON.stringify({ cls: typeof m.ModelHubAccess, install: typeof m.installCheckpointDownload, method: typeof a.pushChangeset }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], { cwd: root });
    assert.deepEqual(JSON.parse(stdout), { cls: "function", install: "function", method: "function" });
  });
});
