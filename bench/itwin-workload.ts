// One iTwin.js workload against one hub, in its own process (HubMock and IModelHost are process singletons):
//   node --import tsx bench/itwin-workload.ts hubmock <version0> <pushes>
//   node --import tsx bench/itwin-workload.ts <hubUrl> <version0> <pushes>
// Prints one JSON line with the figures.
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import type * as HubMockModule from "@itwin/core-backend/lib/cjs/internal/HubMock.js";
import { ModelHubAccess } from "../packages/backend-access/src/index.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;
const [mode, version0, pushesText] = process.argv.slice(2) as [string, string, string];
const pushes = Number(pushesText);
const ITWIN = "77777777-7777-4777-8777-777777777777";

function firstId(db: CoreBackend.BriefcaseDb, ecsql: string): string {
  return db.withPreparedStatement(ecsql, (stmt) => {
    stmt.step();
    return stmt.getValue(0).getId();
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "modelhub-bench-"));
  let hubMock: typeof HubMockModule.HubMock | undefined;
  let access: ModelHubAccess | undefined;
  if (mode === "hubmock") {
    await backend.IModelHost.startup({ cacheDir: join(work, "cache") });
    // No geographic coordinate data from the public cloud: offline it stalls the first file open (~15 s DNS).
    backend.IModelHost.appWorkspace.settings.addDictionary({ name: "modelhub-tests", priority: backend.SettingsPriority.application }, { "itwin/core/gcs/disableWorkspaces": true });
    hubMock = (require("@itwin/core-backend/lib/cjs/internal/HubMock.js") as typeof HubMockModule).HubMock;
    hubMock.startup("bench", join(work, "hub"));
  } else {
    access = new ModelHubAccess({ baseUrl: mode, accessToken: "Bearer bench" });
    await backend.IModelHost.startup({ cacheDir: join(work, "cache"), hubAccess: access });
    // No geographic coordinate data from the public cloud: offline it stalls the first file open (~15 s DNS).
    backend.IModelHost.appWorkspace.settings.addDictionary({ name: "modelhub-tests", priority: backend.SettingsPriority.application }, { "itwin/core/gcs/disableWorkspaces": true });
  }
  const hub = (hubMock ?? access) as unknown as CoreBackend.BackendHubAccess;
  try {
    const iModelId = await hub.createNewIModel({ iTwinId: ITWIN, iModelName: "bench", version0, accessToken: "bench" });
    const open = async (name: string, asOf?: CoreCommon.IModelVersionProps) => {
      const props = await backend.BriefcaseManager.downloadBriefcase({ accessToken: "bench", iTwinId: ITWIN, iModelId, fileName: join(work, `${name}.bim`), ...(asOf ? { asOf } : {}) });
      return backend.BriefcaseDb.open({ fileName: props.fileName });
    };
    const db = await open("writer");
    const model = firstId(db, "SELECT ECInstanceId FROM bis.PhysicalModel WHERE IsPrivate = false");
    const category = firstId(db, "SELECT ECInstanceId FROM bis.SpatialCategory");
    const insert = (count: number, tag: string) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        ids.push(db.elements.insertElement({ classFullName: "Generic:PhysicalObject", model, category, code: common.Code.createEmpty(), userLabel: `${tag} ${i}`, placement: { origin: [i, 0, 0], angles: {} } } as never));
      }
      db.saveChanges(tag);
      return ids;
    };

    // Push latency: small changesets of 20 inserted elements.
    const pushMs: number[] = [];
    for (let p = 0; p < pushes; p++) {
      await db.locks.acquireLocks({ shared: model });
      insert(20, `push ${p}`);
      const start = performance.now();
      await db.pushChanges({ description: `push ${p}`, accessToken: "bench" });
      pushMs.push(performance.now() - start);
    }

    // Pull of every changeset into a fresh briefcase at version 0.
    const reader = await open("reader", { first: true });
    let start = performance.now();
    await reader.pullChanges({ accessToken: "bench" });
    const pullMs = performance.now() - start;
    if (reader.changeset.index !== pushes) throw new Error(`pulled to ${reader.changeset.index}, expected ${pushes}`);
    reader.close();

    // 10,000 exclusive element locks in one call.
    await db.locks.acquireLocks({ shared: model });
    const many = insert(10_000, "locks");
    await db.pushChanges({ description: "10k elements", accessToken: "bench" });
    start = performance.now();
    await db.locks.acquireLocks({ exclusive: many });
    const locksMs = performance.now() - start;
    await db.locks.releaseAllLocks();
    db.close();

    // A usable briefcase at the tip.
    start = performance.now();
    const tip = await open("tip");
    const usableMs = performance.now() - start;
    tip.close();

    process.stdout.write(`${JSON.stringify({ pushMedianMs: median(pushMs), pullMs, pulled: pushes, locksMs, usableMs })}\n`);
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
