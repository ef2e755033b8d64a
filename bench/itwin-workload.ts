// One iTwin.js workload against one hub, in its own process (HubMock and IModelHost are process singletons):
//   node --import tsx bench/itwin-workload.ts hubmock <version0> <pushes> [warmup] [rounds]
//   node --import tsx bench/itwin-workload.ts <hubUrl> <version0> <pushes> [warmup] [rounds]
// Both hubs get the same steps: `warmup` unmeasured pushes first (a server is measured warm, as it runs), then
// `pushes` measured ones; pull, locks and the briefcase at the tip are each measured `rounds` times (median).
// Prints one JSON line with the figures.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import type * as HubMockModule from "@itwin/core-backend/lib/cjs/internal/HubMock.js";
import { ModelHubAccess } from "../packages/backend-access/src/index.js";
import { median } from "./stats.js";
import type { TracedRequest } from "./request-trace.js";
import { RequestTrace } from "./request-trace.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;
const [mode, version0, pushesText, warmupText, roundsText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string?,
  string?,
];
const pushes = Number(pushesText);
const warmup = Number(warmupText ?? 10);
const rounds = Number(roundsText ?? 3);
const ITWIN = "77777777-7777-4777-8777-777777777777";
/**
 * MODELHUB_BENCH_TRACE=1 (modelhub only): the HTTP requests of each measured push and of each pull are recorded and
 * printed as one line `trace {"pushes":[[…]…],"pulls":[[…]…]}` before the figures (bench/run.ts's `profile`).
 */
const trace = process.env.MODELHUB_BENCH_TRACE && mode !== "hubmock" ? new RequestTrace() : undefined;
const traced = { pushes: [] as TracedRequest[][], pulls: [] as TracedRequest[][] };
/** Runs `work`, recording its requests in `into` when tracing. */
async function traceInto(into: TracedRequest[][], work: () => Promise<void>): Promise<void> {
  if (trace) into.push(await trace.record(work));
  else await work();
}

function firstId(db: CoreBackend.BriefcaseDb, ecsql: string): string {
  return db.withPreparedStatement(ecsql, (stmt) => {
    stmt.step();
    return stmt.getValue(0).getId();
  });
}

/** What one run prints (milliseconds; each a median). */
export interface WorkloadFigures {
  pushMedianMs: number;
  pullMs: number;
  /** Changesets each pull applied. */
  pulled: number;
  /**
   * The same pull into a fresh briefcase once the prefetcher (ModelHubAccessOptions.prefetch) has put every file in
   * the changeset cache; HubMock has no prefetch, so its figure is its plain pull.
   */
  prefetchedPullMs: number;
  /** `db.locks.acquireLocks` of 10,000 elements, iTwin.js's local lock bookkeeping included. */
  locksMs: number;
  /** The hub's part of it: the one `BackendHubAccess.acquireLocks` call. */
  lockCallMs: number;
  usableMs: number;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "modelhub-bench-"));
  let hubMock: typeof HubMockModule.HubMock | undefined;
  let access: ModelHubAccess | undefined;
  if (mode === "hubmock") {
    await startOfflineIModelHost({ cacheDir: join(work, "cache") });
    hubMock = (require("@itwin/core-backend/lib/cjs/internal/HubMock.js") as typeof HubMockModule).HubMock;
    hubMock.startup("bench", join(work, "hub"));
  } else {
    access = new ModelHubAccess({ baseUrl: mode, accessToken: "Bearer bench" });
    await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access });
  }
  const hub = (hubMock ?? access) as unknown as CoreBackend.BackendHubAccess;
  // The hub's own share of a lock request: the one BackendHubAccess.acquireLocks call, without iTwin.js's local
  // lock bookkeeping around it (identical for both hubs).
  const bigLockCallMs: number[] = [];
  const acquire = hub.acquireLocks.bind(hub);
  (hub as { acquireLocks: typeof hub.acquireLocks }).acquireLocks = async (arg, locks) => {
    const start = performance.now();
    await acquire(arg, locks);
    if (locks.size >= 10_000) bigLockCallMs.push(performance.now() - start);
  };
  try {
    const iModelId = await hub.createNewIModel({ iTwinId: ITWIN, iModelName: "bench", version0, accessToken: "bench" });
    const open = async (name: string, asOf?: CoreCommon.IModelVersionProps) => {
      const props = await backend.BriefcaseManager.downloadBriefcase({
        accessToken: "bench",
        iTwinId: ITWIN,
        iModelId,
        fileName: join(work, `${name}.bim`),
        ...(asOf ? { asOf } : {}),
      });
      return backend.BriefcaseDb.open({ fileName: props.fileName });
    };
    const db = await open("writer");
    const model = firstId(db, "SELECT ECInstanceId FROM bis.PhysicalModel WHERE IsPrivate = false");
    const category = firstId(db, "SELECT ECInstanceId FROM bis.SpatialCategory");
    const insert = (count: number, tag: string) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        ids.push(
          db.elements.insertElement({
            classFullName: "Generic:PhysicalObject",
            model,
            category,
            code: common.Code.createEmpty(),
            userLabel: `${tag} ${i}`,
            placement: { origin: [i, 0, 0], angles: {} },
          } as never),
        );
      }
      db.saveChanges(tag);
      return ids;
    };

    // Push latency: small changesets of 20 inserted elements.
    const pushMs: number[] = [];
    for (let p = 0; p < warmup + pushes; p++) {
      await db.locks.acquireLocks({ shared: model });
      insert(20, `push ${p}`);
      const start = performance.now();
      const push = () => db.pushChanges({ description: `push ${p}`, accessToken: "bench" });
      if (p >= warmup) await traceInto(traced.pushes, push);
      else await push();
      if (p >= warmup) pushMs.push(performance.now() - start);
    }
    const pulled = warmup + pushes;

    // Pull of every changeset into a fresh briefcase at version 0.
    const pullMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const reader = await open(`reader${r}`, { first: true });
      const start = performance.now();
      await traceInto(traced.pulls, () => reader.pullChanges({ accessToken: "bench" }));
      pullMs.push(performance.now() - start);
      if (reader.changeset.index !== pulled) throw new Error(`pulled to ${reader.changeset.index}, expected ${pulled}`);
      reader.close();
    }

    // The same pull after prefetch: the files are fetched in the background while the briefcase is open, then pulled.
    const prefetchedPullMs: number[] = [];
    if (access) {
      const prefetcher = access.enablePrefetch();
      for (let r = 0; r < rounds; r++) {
        const reader = await open(`prefetched${r}`, { first: true });
        await prefetcher.settled(iModelId);
        const cached = (await readdir(backend.BriefcaseManager.getChangeSetsPath(iModelId))).filter((name) =>
          name.endsWith(".cs"),
        );
        if (cached.length !== pulled)
          throw new Error(`prefetch left ${cached.length} changeset files in the cache, expected ${pulled}`);
        const downloadedBefore = prefetcher.stats.downloaded;
        const start = performance.now();
        await reader.pullChanges({ accessToken: "bench" });
        prefetchedPullMs.push(performance.now() - start);
        if (reader.changeset.index !== pulled)
          throw new Error(`pulled to ${reader.changeset.index}, expected ${pulled}`);
        if (prefetcher.stats.downloaded !== downloadedBefore)
          throw new Error("the prefetcher was still downloading during the pull");
        reader.close();
      }
      await access.disablePrefetch(); // the figures below are measured without it
    }

    // 10,000 exclusive element locks in one call: the same elements each round, released in between.
    await db.locks.acquireLocks({ shared: model });
    const many = insert(10_000, "locks");
    await db.pushChanges({ description: "10k elements", accessToken: "bench" });
    const locksMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      await db.locks.acquireLocks({ exclusive: many });
      locksMs.push(performance.now() - start);
      await db.locks.releaseAllLocks();
    }
    if (bigLockCallMs.length !== rounds)
      throw new Error(`expected ${rounds} hub calls with 10,000 locks, saw ${bigLockCallMs.length}`);
    db.close();

    // A usable briefcase at the tip.
    const usableMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      const tip = await open(`tip${r}`);
      usableMs.push(performance.now() - start);
      tip.close();
    }

    const figures: WorkloadFigures = {
      pushMedianMs: median(pushMs),
      pullMs: median(pullMs),
      pulled,
      prefetchedPullMs: access ? median(prefetchedPullMs) : median(pullMs),
      locksMs: median(locksMs),
      lockCallMs: median(bigLockCallMs),
      usableMs: median(usableMs),
    };
    if (trace) process.stdout.write(`trace ${JSON.stringify({ timeOrigin: performance.timeOrigin, ...traced })}\n`);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    if (hubMock) hubMock.shutdown();
    access?.dispose();
    await backend.IModelHost.shutdown();
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
