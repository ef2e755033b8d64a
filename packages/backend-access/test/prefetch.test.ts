// Prefetch with real parts: a real modelhub process, writer A (iTwin.js in its own process, pushing through
// ModelHubAccess), reader B (iTwin.js in this process, ModelHubAccess with prefetch on) behind a streaming proxy
// that counts B's requests, cuts B's change feed and writes garbage into it.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { ModelHubAccess } from "../src/index.js";
import type { Agent } from "./support/agents.js";
import { Agent as AgentClass, startHubProcess } from "./support/agents.js";
import { isStorage, StreamProxy } from "./support/stream-proxy.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;
const ITWIN = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function countObjects(db: CoreBackend.BriefcaseDb): number {
  return db.withPreparedStatement("SELECT COUNT(*) FROM Generic.PhysicalObject", (stmt) => {
    stmt.step();
    return stmt.getValue(0).getInteger();
  });
}

function firstId(db: CoreBackend.BriefcaseDb, ecsql: string): string {
  return db.withPreparedStatement(ecsql, (stmt) => {
    stmt.step();
    return stmt.getValue(0).getId();
  });
}

describe("prefetch: new changesets reach the reader's cache before it pulls", () => {
  let hub: Awaited<ReturnType<typeof startHubProcess>>;
  let proxy: StreamProxy;
  let writer: Agent;
  let access: ModelHubAccess;
  let work: string;
  let iModelId: string;
  let reader: CoreBackend.BriefcaseDb;
  let cacheFolder: string;
  let pushed = 0;
  let lastStep = "";

  /** The changeset files in B's cache folder, by name (partial and unchecked files included, to see them). */
  const cacheFiles = async () => (await readdir(cacheFolder).catch(() => [] as string[])).sort();
  const idsOf = async (first: number, end: number) =>
    (await access.queryChangesets({ iModelId, range: { first, end }, accessToken: "bob" }))
      .map((c) => `${c.id}.cs`)
      .sort();
  const push = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await writer.do("insert", { key: "a", count: 2 });
      pushed = await writer.do<number>("push", { key: "a", description: `push ${pushed + 1}` });
    }
  };
  /** Waits until B's cache holds exactly the files of changesets first..end (nothing half done beside them). */
  const cacheHolds = async (first: number, end: number) => {
    const want = await idsOf(first, end);
    await until(`changesets ${first}-${end} in the cache`, async () => {
      const files = await cacheFiles();
      return JSON.stringify(files) === JSON.stringify(want) ? files : undefined;
    });
    await access.prefetcher!.settled(iModelId);
    assert.deepEqual(await cacheFiles(), want);
  };
  /** B pulls; returns how many storage (file) requests B sent meanwhile. */
  const pullCountingDownloads = async () => {
    const before = proxy.count("GET", isStorage);
    await reader.pullChanges({ accessToken: "bob" });
    return proxy.count("GET", isStorage) - before;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-prefetch-"));
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    hub = await startHubProcess();
    proxy = await StreamProxy.start(hub.url);
    writer = await AgentClass.start(hub.url, "alice");
    access = new ModelHubAccess({
      baseUrl: proxy.url,
      accessToken: "Bearer bob",
      retry: { baseDelayMs: 20 },
      prefetch: { reconnectDelayMs: 100 },
      // The pulls here are to show what the prefetcher left in the cache: no files inline in the list.
      inlineFileBytes: 0,
    });
    await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access });
    iModelId = await writer.do<string>("createIModel", { iTwinId: ITWIN, name: "prefetch", version0 });
    await writer.do("download", { iModelId, iTwinId: ITWIN, dir: join(work, "writer"), key: "a" });
    const props = await backend.BriefcaseManager.downloadBriefcase({
      accessToken: "bob",
      iTwinId: ITWIN,
      iModelId,
      fileName: join(work, "reader.bim"),
    });
    reader = await backend.BriefcaseDb.open({ fileName: props.fileName });
    cacheFolder = backend.BriefcaseManager.getChangeSetsPath(iModelId);
  });

  after(async () => {
    try {
      if (reader?.isOpen) reader.close();
    } catch {
      // closed by the shutdown already
    }
    await backend.IModelHost.shutdown();
    access?.dispose();
    await writer?.stop();
    await proxy?.close();
    await hub?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("follows the feed of the open briefcase's iModel", async () => {
    assert.deepEqual(access.prefetcher!.following, [iModelId]);
    await access.prefetcher!.settled(iModelId);
    assert.equal(proxy.openFeeds, 1);
    lastStep = "follows";
  });

  it("after three pushes by A, B's cache holds their files before B pulls; B's pull downloads nothing", async () => {
    await push(3);
    await cacheHolds(1, 3);
    assert.equal(reader.changeset.index, 0, "B has not pulled yet");
    assert.equal(await pullCountingDownloads(), 0, "the pull sent no storage request");
    assert.equal(reader.changeset.index, 3);
    assert.equal(countObjects(reader), 6);
    assert.deepEqual(await cacheFiles(), [], "iTwin.js deleted the files it applied");
    assert.equal(access.prefetcher!.stats.downloaded, 3);
    lastStep = "three";
  });

  it("a changeset pushed by B itself is not fetched back", async () => {
    const model = firstId(reader, "SELECT ECInstanceId FROM bis.PhysicalModel WHERE IsPrivate = false");
    const category = firstId(reader, "SELECT ECInstanceId FROM bis.SpatialCategory");
    await reader.locks.acquireLocks({ shared: model });
    reader.elements.insertElement({
      classFullName: "Generic:PhysicalObject",
      model,
      category,
      code: common.Code.createEmpty(),
      userLabel: "by B",
      placement: { origin: [0, 0, 0], angles: {} },
    } as never);
    reader.saveChanges("by B");
    await reader.pushChanges({ description: "by B", accessToken: "bob" });
    pushed = reader.changeset.index ?? 0;
    assert.equal(pushed, 4);
    const downloadedBefore = access.prefetcher!.stats.downloaded;
    // The event has certainly arrived once a later push by A is in the cache.
    await writer.do("pull", { key: "a" });
    await push(1);
    await cacheHolds(5, 5);
    assert.equal(access.prefetcher!.stats.downloaded, downloadedBefore + 1);
    assert.equal(await pullCountingDownloads(), 0);
    assert.equal(reader.changeset.index, 5);
    lastStep = "own";
  });

  it("a dropped feed reconnects with Last-Event-ID and catches up on what was pushed meanwhile", async () => {
    const feedsBefore = proxy.feedRequests().length;
    const connectionsBefore = access.prefetcher!.stats.connections;
    proxy.refuseFeed = true; // the reconnects are refused until the pushes are done
    proxy.dropFeeds();
    await until("the feed to be down", async () => (proxy.openFeeds === 0 ? true : undefined));
    await push(2);
    await until("a refused reconnect", async () =>
      proxy
        .feedRequests()
        .slice(feedsBefore)
        .some((r) => r.status === 503)
        ? true
        : undefined,
    );
    assert.deepEqual(await cacheFiles(), [], "nothing arrived while the feed was down");
    proxy.refuseFeed = false;
    await cacheHolds(6, 7);
    const reconnects = proxy.feedRequests().slice(feedsBefore);
    assert.ok(reconnects.length >= 2, "at least one refused and one accepted reconnect");
    assert.ok(
      reconnects.every((r) => /^[0-9a-f]+-\d+$/.test(r.lastEventId ?? "")),
      `each reconnect sent the last event id: ${JSON.stringify(reconnects)}`,
    );
    assert.equal(access.prefetcher!.stats.connections, connectionsBefore + 1);
    assert.equal(proxy.openFeeds, 1);
    assert.equal(await pullCountingDownloads(), 0);
    assert.equal(reader.changeset.index, 7);
    lastStep = "reconnect";
  });

  it("garbage on the feed and spoiled downloads leave no wrong or half file in the cache", async () => {
    const stats = access.prefetcher!.stats;
    const malformedBefore = stats.malformed;
    const rejectedBefore = stats.rejected;
    // Not a feed at all, a changeset event whose data is not JSON, one of the wrong shape, one that names a changeset
    // the hub does not have, and a message larger than the prefetcher takes (it drops that connection).
    proxy.injectIntoFeeds("\u0000\u00ff garbage line\nbogus: field\n\n");
    proxy.injectIntoFeeds("event: changeset\ndata: {not json\n\n");
    proxy.injectIntoFeeds('event: changeset\ndata: {"index":"x","briefcaseId":null}\n\n');
    proxy.injectIntoFeeds('id: ffff-999999\nevent: changeset\ndata: {"index":999,"id":"00","briefcaseId":77}\n\n');
    await until("the malformed messages to be counted", async () =>
      stats.malformed >= malformedBefore + 2 ? true : undefined,
    );
    proxy.injectIntoFeeds(`event: changeset\ndata: ${"x".repeat(100_000)}\n\n`);
    // The next downloads: one with a byte changed (same size), one a byte short (retried by the download).
    proxy.spoilNextDownloads("flipByte", "dropLastByte");
    await push(3);
    const all = await idsOf(8, 10);
    const kept = await until("two of the three files, and one refused", async () => {
      const files = await cacheFiles();
      return files.length === 2 && files.every((f) => all.includes(f)) && stats.rejected > rejectedBefore
        ? files
        : undefined;
    });
    await access.prefetcher!.settled(iModelId);
    assert.deepEqual(await cacheFiles(), kept, "the spoiled file is not in the cache, nor anything half done");
    assert.equal(stats.rejected, rejectedBefore + 1);
    assert.ok(stats.malformed >= malformedBefore + 3, `malformed counted: ${stats.malformed - malformedBefore}`);
    assert.equal(proxy.openFeeds, 1, "the feed is back after the oversized message cut it");
    // B's pull fetches the one that was refused, and applies all three.
    assert.equal(await pullCountingDownloads(), 1);
    assert.equal(reader.changeset.index, 10);
    assert.equal(countObjects(reader), await writer.do<{ count: number }>("pull", { key: "a" }).then((s) => s.count));
    lastStep = "garbage";
  });

  it("downloads at most `concurrency` files at once and keeps the cache folder under `maxCacheBytes`", async () => {
    // Six pushes while B has no briefcase open (nothing followed), then B opens it with a cache bound that fits four.
    reader.close();
    await until("the feed to close", async () => (proxy.openFeeds === 0 ? true : undefined), 10_000);
    await access.disablePrefetch();
    await push(6);
    const sizes = (await access.queryChangesets({ iModelId, range: { first: 11, end: 16 }, accessToken: "bob" })).map(
      (c) => c.size!,
    );
    const bound = sizes.slice(0, 4).reduce((a, b) => a + b, 0) + Math.floor(sizes[4]! / 2);
    access.enablePrefetch({ maxCacheBytes: bound, concurrency: 2, reconnectDelayMs: 100 });
    proxy.storageDelayMs = 150; // each download lasts long enough for the next to start beside it
    proxy.maxStorageInFlight = 0;
    try {
      reader = await backend.BriefcaseDb.open({ fileName: join(work, "reader.bim") });
      await until("four files", async () => ((await cacheFiles()).length === 4 ? true : undefined));
      await access.prefetcher!.settled(iModelId);
      assert.deepEqual(
        await cacheFiles(),
        await idsOf(11, 14),
        "the first four, in index order; the fifth would pass the bound",
      );
      assert.equal(proxy.maxStorageInFlight, 2, "two downloads at once, never more");
    } finally {
      proxy.storageDelayMs = 0;
    }
    assert.equal(await pullCountingDownloads(), 2, "the pull fetched the two that did not fit");
    assert.equal(reader.changeset.index, 16);
    assert.deepEqual(await cacheFiles(), []);
    lastStep = "bounded";
  });

  it("stops following when the briefcase closes, and on IModelHost shutdown", async () => {
    reader.close();
    await until("the feed to close", async () => (proxy.openFeeds === 0 ? true : undefined), 10_000);
    assert.deepEqual(access.prefetcher!.following, []);
    // Reopened: followed again; shutdown ends it.
    reader = await backend.BriefcaseDb.open({ fileName: join(work, "reader.bim") });
    await access.prefetcher!.settled(iModelId);
    assert.equal(proxy.openFeeds, 1);
    const requestsBefore = proxy.requests.length;
    await backend.IModelHost.shutdown(); // the briefcase is still open
    await access.prefetcher?.stop();
    await until("the feed to close after shutdown", async () => (proxy.openFeeds === 0 ? true : undefined), 10_000);
    await push(1);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(proxy.requests.length, requestsBefore, "no request after shutdown");
    assert.deepEqual(await cacheFiles(), []);
    lastStep = "stopped";
  });

  it("ran to its last step", () => {
    assert.equal(lastStep, "stopped");
  });
});
