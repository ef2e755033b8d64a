// Time to a usable briefcase at the tip of an iModel with N changesets: starting from a server-made checkpoint
// versus replaying every changeset from the baseline. Both measured in this run, on this machine.
//   npm run bench -- checkpoints [changesets=1000]
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as CoreBackend from "@itwin/core-backend";
import { ModelHubAccess } from "../packages/backend-access/src/index.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import { eventually, startTestHub } from "@modelhub/test-support/hub.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "66666666-6666-4666-8666-666666666666";

export async function benchCheckpoints(
  count: number,
): Promise<{ replayMs: number; checkpointMs: number; speedup: number; count: number }> {
  const t0 = Date.now();
  const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), count, 1);
  console.log(`  fixture: ${count} real changesets (${((Date.now() - t0) / 1000).toFixed(1)} s, cached afterwards)`);
  const hub = await startTestHub({
    checkpoints: { everyChangesets: 0, everyBytes: 0, keepAutomatic: 1 },
    logLevel: "silent",
  });
  const work = await mkdtemp(join(tmpdir(), "modelhub-bench-cp-"));
  const access = new ModelHubAccess({ baseUrl: hub.url, accessToken: "Bearer bench" });
  await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access });
  try {
    const iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, user: "bench" })).id;
    const briefcaseId = await acquireBriefcase(hub, iModelId, "bench");
    const t1 = Date.now();
    for (const cs of fixture.changesets) await pushChangeset(hub, iModelId, briefcaseId, cs, "bench");
    console.log(`  pushed ${count} changesets over HTTP in ${((Date.now() - t1) / 1000).toFixed(1)} s`);

    const usableAtTip = async (name: string): Promise<number> => {
      const start = performance.now();
      const props = await backend.BriefcaseManager.downloadBriefcase({
        accessToken: "Bearer bench",
        iTwinId: ITWIN,
        iModelId,
        fileName: join(work, `${name}.bim`),
      });
      const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
      if (db.changeset.index !== count) throw new Error(`briefcase at ${db.changeset.index}, expected ${count}`);
      db.close();
      return performance.now() - start;
    };

    // Only the baseline checkpoint exists yet: iTwin.js replays every changeset.
    const replayMs = await usableAtTip("replay");
    // Name the tip; the hub makes its checkpoint in the background.
    const version = await hub.api<Json>("POST", `/${iModelId}/namedversions`, {
      user: "bench",
      body: { name: "tip", changesetIndex: count },
    });
    const t2 = Date.now();
    await eventually(
      async () => {
        const r = await hub.api<Json>("GET", `/${iModelId}/namedversions/${version.body.namedVersion.id}/checkpoint`, {
          user: "bench",
        });
        if (r.body.checkpoint?.state === "failed") throw new Error(r.body.checkpoint.failureReason);
        return r.body.checkpoint?.state === "successful" ? true : undefined;
      },
      600_000,
      "checkpoint",
    );
    console.log(
      `  the hub made the checkpoint at ${count} in ${((Date.now() - t2) / 1000).toFixed(1)} s (background job)`,
    );
    const checkpointMs = await usableAtTip("checkpoint");
    return { replayMs, checkpointMs, speedup: replayMs / checkpointMs, count };
  } finally {
    access.dispose();
    await backend.IModelHost.shutdown();
    await hub.close();
    await rm(work, { recursive: true, force: true });
  }
}
