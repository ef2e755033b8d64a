// What summaries of many tiny, irregular changesets cost on disk (issue 20: ≤ 10% of the changesets' bytes), in a
// process of its own (IModelHost is a process singleton):
//   node --import tsx bench/changes-small.ts [pushes=200]
// iTwin.js pushes `pushes` changesets of 1 to 6 edits each, drawn from a seeded random sequence: inserts with
// random labels into two models, relabels, moves, placement changes and deletes of earlier elements. Prints one JSON
// line: the changesets' bytes, the summary rows' bytes on disk (SQLite's dbstat) and where they go.
import Database from "better-sqlite3";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import { ModelHubAccess } from "../packages/backend-access/src/index.js";
import { decodeCounts } from "../packages/server/src/adapters/sql/changed-elements-codec.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { createIModelFromFile } from "@modelhub/test-support/flows.js";
import { startTestHub } from "@modelhub/test-support/hub.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "77777777-7777-4777-8777-777777777777";
const pushes = Number(process.argv[2] ?? 200);

export interface SmallChangesFigures {
  pushes: number;
  elementChanges: number;
  changesetBytes: number;
  /** The summary table's pages on disk, its primary-key index included. */
  summaryBytes: number;
  /** Bytes of each column, summed over the rows (before SQLite's row and page overhead). */
  columns: Record<string, number>;
  /**
   * The same summaries' `counts` and `elements` in the forms stored before (counts as objects, elements as version
   * 1 blobs of named columns, without parents' classes and checksums), re-encoded from these rows.
   */
  before: { counts: number; elements: number };
}

/** What a row's counts and elements blob took in the forms of the previous release (see `before`). */
function previousForms(row: { counts: string; elements: Buffer }): { counts: number; elements: number } {
  const counts = JSON.stringify(decodeCounts(row.counts)).length;
  const columns = JSON.parse(brotliDecompressSync(row.elements).toString("utf8")) as unknown;
  // A version 1 blob (stored by a hub before version 2) is its own previous form.
  if (!Array.isArray(columns)) return { counts, elements: row.elements.length };
  const names = ["s", "id", "op", "c", "ci", "m", "pm", "p", "lp", "ls", "pr"];
  const v1 = { v: 1, ...Object.fromEntries(names.map((n, i) => [n, columns[i + 1]])) };
  const blob = brotliCompressSync(Buffer.from(JSON.stringify(v1)), {
    params: { [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_QUALITY]: 9 },
  });
  return { counts, elements: blob.length };
}

/** A small seeded generator (mulberry32): the same edits every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<SmallChangesFigures> {
  const work = await mkdtemp(join(tmpdir(), "modelhub-bench-small-"));
  const hub = await startTestHub({ logLevel: "silent" });
  const access = new ModelHubAccess({ baseUrl: hub.url, accessToken: "Bearer alice" });
  try {
    await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access }, "modelhub-bench");
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const iModelId = (await createIModelFromFile(hub, version0, { iTwinId: ITWIN, name: "small pushes" })).id;
    const props = await backend.BriefcaseManager.downloadBriefcase({
      accessToken: "Bearer alice",
      iTwinId: ITWIN,
      iModelId,
      fileName: join(work, "edit.bim"),
    });
    const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    const next = random(20);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
    let elementChanges = 0;
    try {
      const physical = db.withSqliteStatement(
        "SELECT e.Id FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId WHERE c.Name = 'PhysicalPartition'",
        (s) => (s.step(), s.getValueId(0)),
      );
      const category = db.withSqliteStatement(
        "SELECT Id FROM bis_Element WHERE CodeValue = 'Things'",
        (s) => (s.step(), s.getValueId(0)),
      );
      await db.locks.acquireLocks({ shared: [common.IModel.rootSubjectId, physical, common.IModel.repositoryModelId] });
      const other = backend.PhysicalModel.insert(db, common.IModel.rootSubjectId, "Other");
      db.saveChanges("second model");
      await db.pushChanges({ description: "second model" });
      const models = [physical, other];
      // A push releases the locks: shared ones again for the inserts.
      await db.locks.acquireLocks({ shared: [common.IModel.rootSubjectId, ...models] });
      const label = () =>
        `${pick(["Wall", "Door", "Slab", "Beam", "Pipe"])} L${Math.floor(next() * 9)}-${Math.floor(next() * 10000)}`;
      const alive: string[] = [];
      for (let p = 1; p < pushes; p++) {
        const edits = 1 + Math.floor(next() * 6);
        const touched = new Set<string>();
        for (let e = 0; e < edits; e++) {
          const what = alive.length < 5 ? 0 : next();
          if (what < 0.45) {
            alive.push(
              db.elements.insertElement({
                classFullName: "Generic:PhysicalObject",
                model: pick(models),
                category,
                code: common.Code.createEmpty(),
                userLabel: label(),
                placement: { origin: [next() * 100, next() * 100, 0], angles: {} },
              } as CoreCommon.PhysicalElementProps),
            );
            elementChanges++;
            continue;
          }
          const id = pick(alive);
          if (touched.has(id)) continue;
          touched.add(id);
          await db.locks.acquireLocks({ exclusive: [id] });
          const element = db.elements.getElementProps<CoreCommon.PhysicalElementProps>(id);
          if (what < 0.65) db.elements.updateElement({ ...element, userLabel: label() });
          else if (what < 0.8)
            db.elements.updateElement({ ...element, placement: { origin: [next() * 100, 0, 0], angles: {} } });
          else if (what < 0.9)
            // A move to the other model (iTwin.js's updateElement keeps an element's model; changes.test.ts too).
            db.withSqliteStatement("UPDATE bis_Element SET ModelId = ? WHERE Id = ?", (s) => {
              s.bindId(
                1,
                models.find((m) => m !== element.model)!,
              );
              s.bindId(2, id);
              s.step();
            });
          else {
            db.elements.deleteElement(id);
            alive.splice(alive.indexOf(id), 1);
          }
          elementChanges++;
        }
        db.saveChanges(`small ${p}`);
        await db.pushChanges({ description: `small ${p}` });
        await db.locks.acquireLocks({ shared: [common.IModel.rootSubjectId, ...models] });
      }
    } finally {
      db.close();
    }
    const deadline = Date.now() + 300_000;
    for (;;) {
      const r = await hub.api<Json>("GET", `/${iModelId}/changes?from=0&to=${pushes}&$top=1`);
      if (r.status !== 200) throw new Error(r.text);
      if (r.body.comparison.state === "ready") break;
      if (Date.now() > deadline) throw new Error("the summaries did not come within 5 minutes");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const changesets = (
      await hub.api<Json>("GET", `/${iModelId}/changesets?$top=1000`, { headers: { prefer: "return=representation" } })
    ).body.changesets as Json[];
    if (changesets.length !== pushes) throw new Error(`${changesets.length} changesets, not ${pushes}`);
    const changesetBytes = changesets.reduce((n, c) => n + (c.fileSize as number), 0);
    const stats = new Database(join(hub.dataDir, "metadata.db"), { readonly: true });
    try {
      const summaryBytes = (
        stats
          .prepare(
            "SELECT SUM(pgsize) AS bytes FROM dbstat WHERE name = 'change_summaries' OR name LIKE 'sqlite_autoindex_change%'",
          )
          .get() as { bytes: number }
      ).bytes;
      const names = ["imodel_id", "changeset_id", "schemas", "counts", "created_at", "elements"];
      const columns = stats
        .prepare(`SELECT ${names.map((n) => `SUM(LENGTH(${n})) AS ${n}`).join(", ")} FROM change_summaries`)
        .get() as Record<string, number>;
      const before = { counts: 0, elements: 0 };
      for (const row of stats.prepare("SELECT counts, elements FROM change_summaries").all() as {
        counts: string;
        elements: Buffer;
      }[]) {
        const b = previousForms(row);
        before.counts += b.counts;
        before.elements += b.elements;
      }
      return { pushes, elementChanges, changesetBytes, summaryBytes, columns, before };
    } finally {
      stats.close();
    }
  } finally {
    access.dispose();
    await backend.IModelHost.shutdown();
    await hub.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (figures) => {
    console.log(JSON.stringify(figures));
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
