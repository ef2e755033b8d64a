// History without summaries (pushed before modelhub made them, or whose jobs were lost) is summarized by the
// backfill when the hub starts; a changeset iTwin.js cannot read is stored failed, once, not retried (issue 20).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { after, describe, it } from "node:test";
import { openSqliteChangeSummaryStore } from "../../src/adapters/sqlite/sqlite-change-summary-store.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "2c1b0a9f-8e7d-4c6b-9a5f-4e3d2c1b0a9f";

/** The file of a stored changeset (the fs blob store keeps `files/<iModel>/changesets/<id>.cs` under the data dir). */
async function changesetFile(dataDir: string, changesetId: string): Promise<string> {
  const found = (await readdir(dataDir, { recursive: true })).filter((f) =>
    f.replaceAll("\\", "/").endsWith(`/changesets/${changesetId}.cs`),
  );
  assert.equal(found.length, 1, `one stored file of changeset ${changesetId}: ${found.join(", ")}`);
  return join(dataDir, found[0]!);
}

function cli(hubUrl: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...MODELHUB, ...args],
      { env: { ...process.env, MODELHUB_URL: hubUrl, MODELHUB_TOKEN: "alice" } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("change summary backfill", { timeout: 240_000 }, () => {
  let dataDir: string;
  let hub: TestHub | undefined;
  let finished = false;
  after(async () => {
    await hub?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
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
  it("a changeset that cannot be read is stored failed with the reason, shown by the API and the CLI, never retried", async () => {
    finished = false;
    await hub?.close();
    hub = undefined;
    const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    const failDir = await mkdtemp(join(tmpdir(), "modelhub-changes-failed-"));
    try {
      hub = await startTestHub({ dataDir: failDir });
      const iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN, name: "unreadable" }))
        .id as string;
      const briefcaseId = await acquireBriefcase(hub, iModelId);
      for (const cs of fixture.changesets) await pushChangeset(hub, iModelId, briefcaseId, cs);
      const compare = async (to: number) => {
        const r = await hub!.api<Json>("GET", `/${iModelId}/changes?from=0&to=${to}&$top=1000`);
        assert.equal(r.status, 200, r.text);
        return r.body.comparison.state === "pending" ? undefined : r.body.comparison;
      };
      await eventually(() => compare(3), 120_000, "the summaries made at push time");
      await hub.close();
      hub = undefined;

      // Changeset 3's file becomes unreadable; its summary and changeset 1's (one the backfill can make again) and
      // every summary job are gone.
      const three = fixture.changesets[2]!;
      await writeFile(await changesetFile(failDir, three.id), "this is not a changeset".repeat(100));
      const db = new Database(join(failDir, "metadata.db"));
      db.exec(
        "DELETE FROM change_summaries WHERE changeset_index IN (1, 3); DELETE FROM jobs WHERE kind = 'changes.summarize'",
      );
      db.close();

      hub = await startTestHub({ dataDir: failDir });
      const failed = await eventually(
        async () => {
          const r = await hub!.api<Json>("GET", `/${iModelId}/changesets/3/changes`);
          assert.equal(r.status, 200, r.text);
          return r.body.changes.state === "pending" ? undefined : r.body.changes;
        },
        120_000,
        "changeset 3's summary",
      );
      assert.equal(failed.state, "failed", JSON.stringify(failed));
      assert.match(failed.failureReason, /^Changeset 3 \('[0-9a-f]{40}'\) could not be read: /);
      assert.deepEqual([failed.inserted, failed.updated, failed.deleted, failed.elements], [0, 0, 0, []]);
      // Changeset 1 is summarized again; a compare over changeset 3 is partial and says why.
      const partial = await eventually(() => compare(3), 60_000, "the compare over the failed changeset");
      assert.equal(partial.state, "partial");
      assert.deepEqual(partial.failedChangesets, [{ changesetIndex: 3, failureReason: failed.failureReason }]);
      assert.equal(partial.inserted, 10, "changesets 1 and 2: 5 elements each");
      assert.equal((await compare(2)).state, "ready");
      // Bentley's Changed Elements API v2 says Failed, the status `ComparisonJobClient`'s type guard accepts.
      const job = await fetch(`${hub.url}/changedelements/comparisonJob`, {
        method: "POST",
        headers: { authorization: "Bearer alice", "content-type": "application/json" },
        body: JSON.stringify({
          iTwinId: ITWIN,
          iModelId,
          startChangesetId: fixture.changesets[0]!.id,
          endChangesetId: three.id,
        }),
      });
      assert.equal(job.status, 202);
      const failedJob = ((await job.json()) as Json).comparisonJob as Json;
      assert.equal(failedJob.status, "Failed", JSON.stringify(failedJob));
      assert.match(failedJob.errorDetails as string, /^Changeset 3 could not be summarized: Changeset 3 \(/);

      // Once: the backfill queued one job (up to changeset 3, the newest lacking a summary), and it ran once: the
      // unreadable changeset ended it as done, not as a failure to retry.
      const jobs = () => {
        const read = new Database(join(failDir, "metadata.db"), { readonly: true });
        try {
          return read.prepare("SELECT payload, state, attempts FROM jobs WHERE kind = 'changes.summarize'").all() as {
            payload: string;
            state: string;
            attempts: number;
          }[];
        } finally {
          read.close();
        }
      };
      await eventually(
        async () => (jobs().every((j) => j.state === "succeeded") ? true : undefined),
        30_000,
        "jobs done",
      );
      assert.deepEqual(
        jobs().map((j) => [JSON.parse(j.payload).changesetIndex, j.state, j.attempts]),
        [[3, "succeeded", 1]],
      );

      const cliChanges = await cli(hub.url, ["changes", iModelId, "3", "--wait", "0"]);
      assert.equal(cliChanges.code, 1, cliChanges.stderr);
      assert.match(cliChanges.stderr, /changeset 3 could not be summarized: Changeset 3 \(/);
      const cliDiff = await cli(hub.url, ["diff", iModelId, "--from", "0", "--to", "3", "--json"]);
      assert.equal(cliDiff.code, 0, cliDiff.stderr);
      assert.equal(JSON.parse(cliDiff.stdout).inserted, 10);
      assert.deepEqual(JSON.parse(cliDiff.stdout).failedChangesets, partial.failedChangesets);
      assert.match(cliDiff.stderr, /changeset 3 could not be summarized and is left out/);

      // What every later sweep asks: no iModel lacks a summary, so nothing is queued again.
      await hub.close();
      hub = undefined;
      const summaries = openSqliteChangeSummaryStore(join(failDir, "metadata.db"));
      try {
        assert.deepEqual(await summaries.iModelsLackingSummaries(10), []);
        assert.equal((await summaries.getSummary(iModelId, 3))?.failure, failed.failureReason);
      } finally {
        await summaries.close();
      }
      finished = true;
    } finally {
      await hub?.close();
      hub = undefined;
      await rm(failDir, { recursive: true, force: true });
    }
  });
});
