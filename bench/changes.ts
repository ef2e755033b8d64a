// Element-level change summaries (issue 20): how long after a push its summary is stored, how fast two versions
// compare, and what the summaries cost on disk — each next to a reference measured in the same run.
//   npm run bench -- changes [elementsPerPush=10000]
import Database from "better-sqlite3";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { startTestHub } from "@modelhub/test-support/hub.js";
import { median } from "./stats.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "77777777-7777-4777-8777-777777777777";
const USER = "bench";

export interface ChangesFigures {
  elementsPerPush: number;
  /** Push (create, upload, complete) of each large changeset, and the time from its completion to its summary. */
  pushMs: number[];
  summaryMs: number[];
  /** The first push's: the summary worker starts and makes its briefcase from the baseline. */
  firstSummaryMs: number;
  /** Cold compares (each range asked for the first time) over 100 changesets of 100 inserted elements each. */
  compareFirstPageMs: number[];
  compareCountsMs: number[];
  compareElements: number;
  /** The same range's changesets listed (1 page of 100): a plain API read on the same data, as a floor. */
  listChangesetsMs: number[];
  summaryBytes: number;
  changesetBytes: number;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

async function ready(hub: TestHub, iModelId: string, index: number): Promise<boolean> {
  const r = await hub.api<Json>("GET", `/${iModelId}/changesets/${index}/changes?$top=1`, { user: USER });
  if (r.status !== 200) throw new Error(r.text);
  return r.body.changes.state === "ready";
}

export async function benchChanges(elementsPerPush: number): Promise<ChangesFigures> {
  const large = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 5, elementsPerPush);
  const many = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 100, 100);
  const hub = await startTestHub({ logLevel: "silent" });
  try {
    // Summary latency: each push of `elementsPerPush` inserted elements, then the wait for its summary.
    const bigId = (
      await createIModelFromFile(hub, large.version0Path, { iTwinId: ITWIN, user: USER, name: "large pushes" })
    ).id;
    const bigBriefcase = await acquireBriefcase(hub, bigId, USER);
    const pushMs: number[] = [];
    const summaryMs: number[] = [];
    let firstSummaryMs = 0;
    for (const cs of large.changesets) {
      const push = (await timed(() => pushChangeset(hub, bigId, bigBriefcase, cs, USER))).ms;
      const summary = (await timed(() => until(`summary of ${cs.index}`, () => ready(hub, bigId, cs.index)))).ms;
      // The first one starts the summary worker and its briefcase from the baseline: reported on its own.
      if (cs.index === 1) firstSummaryMs = summary;
      else {
        pushMs.push(push);
        summaryMs.push(summary);
      }
      // A user's pace: the hub finishes the job (it brings its briefcase to the changeset after storing the summary)
      // before the next push. Back to back, 10,000-element pushes queue behind each other's job (see docs/changes.md).
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
    // Compare: 100 changesets apart, 10,000 changed elements.
    const manyId = (
      await createIModelFromFile(hub, many.version0Path, { iTwinId: ITWIN, user: USER, name: "100 changesets" })
    ).id;
    const manyBriefcase = await acquireBriefcase(hub, manyId, USER);
    for (const cs of many.changesets) await pushChangeset(hub, manyId, manyBriefcase, cs, USER);
    await until(
      "summaries of 100 changesets",
      async () =>
        (await hub.api<Json>("GET", `/${manyId}/changes?from=0&to=100&$top=1`, { user: USER })).body.comparison
          ?.state === "ready",
    );
    // Each range asked once (the hub keeps a few recent compares in memory, so a repeat would not be cold).
    const ranges = [
      [0, 100],
      [0, 99],
      [1, 100],
      [0, 98],
      [2, 100],
      [1, 99],
      [0, 97],
    ] as const;
    const compareFirstPageMs: number[] = [];
    let compareElements = 0;
    for (const [from, to] of ranges.slice(1, 5)) {
      const r = await timed(() =>
        hub.api<Json>("GET", `/${manyId}/changes?from=${from}&to=${to}&$top=100`, { user: USER }),
      );
      if (r.value.status !== 200) throw new Error(r.value.text);
      compareFirstPageMs.push(r.ms);
      compareElements = Math.max(compareElements, r.value.body.comparison.matchingElements as number);
    }
    const compareCountsMs: number[] = [];
    for (const [from, to] of [...ranges.slice(5), [3, 100] as const, [0, 96] as const]) {
      const r = await timed(() =>
        hub.api<Json>("GET", `/${manyId}/changes?from=${from}&to=${to}&$top=1`, { user: USER }),
      );
      if (r.value.status !== 200) throw new Error(r.value.text);
      compareCountsMs.push(r.ms);
    }
    const listChangesetsMs: number[] = [];
    for (let i = 0; i < 5; i++)
      listChangesetsMs.push(
        (
          await timed(() =>
            hub.api("GET", `/${manyId}/changesets?$top=100`, {
              user: USER,
              headers: { prefer: "return=representation" },
            }),
          )
        ).ms,
      );
    // Bytes: the summary table (elements compressed in it) and its index in the metadata file, against the changesets' own files.
    const db = new Database(join(hub.dataDir, "metadata.db"), { readonly: true });
    let summaryBytes = 0;
    try {
      summaryBytes = (
        db
          .prepare(
            "SELECT SUM(pgsize) AS bytes FROM dbstat WHERE name = 'change_summaries' OR name LIKE 'sqlite_autoindex_change%'",
          )
          .get() as { bytes: number }
      ).bytes;
    } finally {
      db.close();
    }
    const changesetBytes = [...large.changesets, ...many.changesets].reduce((n, c) => n + c.size, 0);
    return {
      elementsPerPush,
      pushMs,
      summaryMs,
      firstSummaryMs,
      compareFirstPageMs,
      compareCountsMs,
      compareElements,
      listChangesetsMs,
      summaryBytes,
      changesetBytes,
    };
  } finally {
    await hub.close();
  }
}

export { median };
