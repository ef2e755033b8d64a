// History without summaries (pushed before modelhub made them, or whose jobs were lost) is summarized by the
// backfill when the hub starts (issue 20).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { after, describe, it } from "node:test";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "2c1b0a9f-8e7d-4c6b-9a5f-4e3d2c1b0a9f";

describe("change summary backfill", { timeout: 240_000 }, () => {
  let dataDir: string;
  let hub: TestHub | undefined;
  let finished = false;
  after(async () => {
    await hub?.close();
    await rm(dataDir, { recursive: true, force: true });
    assert.ok(finished, "the last step ran");
  });

  it("a hub started on history without summaries summarizes it: the same summaries as at push time", async () => {
    const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    dataDir = await mkdtemp(join(tmpdir(), "modelhub-changes-backfill-"));
    hub = await startTestHub({ dataDir });
    const iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "backfill" }))
      .id as string;
    const briefcaseId = await acquireBriefcase(hub, iModelId);
    for (const cs of fixture.changesets) await pushChangeset(hub, iModelId, briefcaseId, cs);
    const compare = async () => {
      const r = await hub!.api<Json>("GET", `/${iModelId}/changes?from=0&to=3&$top=1000`);
      assert.equal(r.status, 200, r.text);
      return r.body.comparison.state === "ready" ? r.body.comparison : undefined;
    };
    const atPush = await eventually(compare, 120_000, "the summaries made at push time");
    assert.equal(atPush.inserted, 15);
    await hub.close();
    hub = undefined;

    // As if the history predated summaries: no summary, no job.
    const db = new Database(join(dataDir, "metadata.db"));
    db.exec("DELETE FROM change_summaries; DELETE FROM jobs WHERE kind = 'changes.summarize'");
    db.close();

    hub = await startTestHub({ dataDir });
    const pending = await hub.api<Json>("GET", `/${iModelId}/changes?from=0&to=3`);
    assert.equal(pending.status, 200);
    const backfilled = await eventually(compare, 120_000, "the backfilled summaries");
    assert.deepEqual(backfilled, atPush);

    // The node's cached briefcase of a deleted iModel goes at the next sweep (here: the next start).
    const cached = join(dataDir, "change-briefcases", `${iModelId}.bim`);
    assert.ok(existsSync(cached), "the summary briefcase is cached");
    assert.equal((await hub.api("DELETE", `/${iModelId}`)).status, 204);
    await hub.close();
    hub = await startTestHub({ dataDir });
    await eventually(async () => (existsSync(cached) ? undefined : true), 30_000, "the cached briefcase removed");
    finished = true;
  });
});
