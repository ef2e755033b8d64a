// Run in its own process (HubMock and IModelHost are process singletons), by bench/checkpoint-large.ts:
//   node --import tsx bench/make-large-imodel.ts <outDir> <megabytes> <changesets>
// Writes, made by the workspace's iTwin.js:
//   <outDir>/version0.bim        a snapshot of about <megabytes> MB: elements carrying 1 MiB of random text each
//                                (in their JSON properties: random, so nothing along the way compresses it away)
//   <outDir>/changesets/<id>.cs  <changesets> changesets pushed to HubMock from a briefcase of it, each inserting
//                                20 small Generic:PhysicalObject elements
//   <outDir>/manifest.json       { changesets: [{ id, parentId, index, changesType, description, size, file }] }
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { copyChangesetFiles } from "@modelhub/test-support/changeset-files.js";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import type * as HubMockModule from "@itwin/core-backend/lib/cjs/internal/HubMock.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;
const { HubMock } = require("@itwin/core-backend/lib/cjs/internal/HubMock.js") as typeof HubMockModule;

const [outDir, megabytesText, countText] = process.argv.slice(2) as [string, string, string];
const megabytes = Number(megabytesText);
const count = Number(countText);
/** Random bytes whose base64 text is 1 MiB. */
const RANDOM_PER_ELEMENT = (1024 * 1024 * 3) / 4;

function insert(db: CoreBackend.IModelDb, model: string, category: string, label: string, x: number, blob?: string) {
  db.elements.insertElement({
    classFullName: "Generic:PhysicalObject",
    model,
    category,
    code: common.Code.createEmpty(),
    userLabel: label,
    placement: { origin: [x, 0, 0], angles: {} },
    ...(blob ? { jsonProperties: { bench: { blob } } } : {}),
  } as CoreCommon.PhysicalElementProps);
}

async function main(): Promise<void> {
  const scratch = join(outDir, "scratch");
  await mkdir(join(outDir, "changesets"), { recursive: true });
  await startOfflineIModelHost({ cacheDir: join(scratch, "cache") }, "modelhub-bench");
  HubMock.startup("large", join(scratch, "hub"));
  try {
    const version0 = join(outDir, "version0.bim");
    const snapshot = backend.SnapshotDb.createEmpty(version0, { rootSubject: { name: "modelhub 1 GB bench" } });
    const model = backend.PhysicalModel.insert(snapshot, common.IModel.rootSubjectId, "Physical");
    const category = backend.SpatialCategory.insert(
      snapshot,
      common.IModel.dictionaryId,
      "Things",
      new common.SubCategoryAppearance(),
    );
    for (let i = 0; i < megabytes; i++) {
      insert(snapshot, model, category, `large ${i}`, i, randomBytes(RANDOM_PER_ELEMENT).toString("base64"));
      if (i % 50 === 49) snapshot.saveChanges();
    }
    snapshot.saveChanges();
    snapshot.close();

    const iTwinId = HubMock.iTwinId;
    const iModelId = await HubMock.createNewIModel({ iTwinId, iModelName: "large", version0, noLocks: true });
    const props = await backend.BriefcaseManager.downloadBriefcase({ accessToken: "bench", iTwinId, iModelId });
    const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    for (let c = 1; c <= count; c++) {
      for (let e = 0; e < 20; e++) insert(db, model, category, `small ${c}.${e}`, e);
      db.saveChanges(`changeset ${c}`);
      await db.pushChanges({ description: `changeset ${c}`, accessToken: "bench" });
    }
    db.close();
    const files = await HubMock.downloadChangesets({
      iModelId,
      range: { first: 1, end: count },
      targetDir: join(scratch, "download"),
    });
    const changesets = await copyChangesetFiles(files, outDir);
    await writeFile(join(outDir, "manifest.json"), JSON.stringify({ changesets }, null, 2));
  } finally {
    HubMock.shutdown();
    await backend.IModelHost.shutdown();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
