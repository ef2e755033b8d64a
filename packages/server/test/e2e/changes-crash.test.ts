// run-tests: heavy (a hub process SIGKILLed while it summarizes a 10,000-element changeset, then restarted)
// Change summaries survive a crash (issue 20): the job is queued in the push's own transaction, so a hub killed with
// SIGKILL while its summary job runs finishes the job after a restart, with the same summary a hub that was never
// killed stores — no element lost, none twice.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { ACCEPT, eventually } from "../support/hub.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "4b3a2c1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d";
const ELEMENTS = 10_000;

/** The few TestHub members the flows use, over a hub process. */
function over(hub: HubProcess): TestHub {
  return {
    url: hub.url,
    baseUrl: `${hub.url}/imodels`,
    dataDir: hub.dataDir,
    async api(
      method: string,
      path: string,
      options: { body?: unknown; headers?: Record<string, string>; user?: string | null } = {},
    ) {
      const r = await fetch(path.startsWith("http") ? path : `${hub.url}/imodels${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.user ?? "alice"}`,
          accept: ACCEPT,
          ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
          ...options.headers,
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      const text = await r.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      return { status: r.status, headers: r.headers, body: body as never, text };
    },
  } as unknown as TestHub;
}

async function summary(hub: TestHub, iModelId: string): Promise<Json | undefined> {
  const r = await hub.api<Json>("GET", `/${iModelId}/changesets/1/changes?$top=1000`);
  if (r.status !== 200) return undefined;
  if (r.body.changes.state !== "ready") return undefined;
  const elements: Json[] = [...r.body.changes.elements];
  for (let next = r.body._links.next?.href; next;) {
    const page = await hub.api<Json>("GET", next);
    elements.push(...page.body.changes.elements);
    next = page.body._links.next?.href;
  }
  return { ...r.body.changes, elements };
}

describe("SIGKILL while a change summary is made", { timeout: 400_000 }, () => {
  const dirs: string[] = [];
  const hubs: HubProcess[] = [];
  let finished = false;
  after(async () => {
    for (const hub of hubs) await hub.kill().catch(() => undefined);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    assert.ok(finished, "the last step ran");
  });

  async function pushedHub(fixture: Fixture): Promise<{ hub: HubProcess; iModelId: string }> {
    const dataDir = await mkdtemp(join(tmpdir(), "modelhub-changes-crash-"));
    dirs.push(dataDir);
    const hub = await startHubProcess({ dataDir });
    hubs.push(hub);
    const api = over(hub);
    const iModelId = (await createIModelFromFile(api, fixture.version0Path, { iTwinId: ITWIN, name: "crash" }))
      .id as string;
    const briefcaseId = await acquireBriefcase(api, iModelId);
    await pushChangeset(api, iModelId, briefcaseId, fixture.changesets[0]!);
    return { hub, iModelId };
  }

  it("the restarted hub finishes the job: the same summary as a hub never killed", async () => {
    const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 5, ELEMENTS);

    // Reference: a hub left alone.
    const calm = await pushedHub(fixture);
    const expected = await eventually(() => summary(over(calm.hub), calm.iModelId), 180_000, "the calm hub's summary");
    await calm.hub.stop();
    assert.equal(expected.inserted, ELEMENTS);
    assert.equal(expected.elements.length, ELEMENTS);

    // Killed while the job runs: as soon as a runner has claimed the summary job (its worker then starts and builds its
    // briefcase for a second or more), read from the hub's own database file, not after a guessed delay.
    const crashed = await pushedHub(fixture);
    const db = new Database(join(crashed.hub.dataDir, "metadata.db"), { readonly: true, fileMustExist: true });
    try {
      const running = db.prepare(
        "SELECT count(*) AS n FROM jobs WHERE kind = 'changes.summarize' AND state = 'running'",
      );
      const stored = db.prepare("SELECT count(*) AS n FROM change_summaries WHERE imodel_id = ?");
      await eventually(
        async () =>
          (running.get() as { n: number }).n > 0 || (stored.get(crashed.iModelId) as { n: number }).n > 0
            ? true
            : undefined,
        60_000,
        "the summary job to run",
      );
      await crashed.hub.kill();
      assert.equal((stored.get(crashed.iModelId) as { n: number }).n, 0, "killed before the summary was stored");
    } finally {
      db.close();
    }
    const restarted = await startHubProcess({ dataDir: crashed.hub.dataDir });
    hubs.push(restarted);
    const got = await eventually(
      () => summary(over(restarted), crashed.iModelId),
      300_000,
      "the summary after the restart",
    );
    // Same elements (the ids come from the same changeset file), operations, classes, models and labels.
    assert.deepEqual(got, expected);
    await restarted.stop();
    finished = true;
  });
});
