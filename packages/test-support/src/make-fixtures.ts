// Run in its own process (HubMock and IModelHost are process singletons):
//   node --import tsx make-fixtures.ts <outDir> <count> <elementsPerChangeset> [--name <root subject>] [--briefcase <pending elements>]
// Writes, all made by iTwin.js 5.1.9:
//   <outDir>/version0.bim         a snapshot with a physical model and a spatial category (no elements)
//   <outDir>/changesets/<id>.cs   <count> changesets pushed to HubMock from a briefcase of version0, each inserting
//                                 <elementsPerChangeset> Generic:PhysicalObject elements
//   <outDir>/briefcase.bim        (--briefcase) that briefcase after the last push, with <pending elements> inserted
//                                 and saved but not pushed (so it has txns and a briefcase id)
//   <outDir>/manifest.json
// With <count> 0 and no --briefcase, only version0.bim is made (no HubMock).
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { copyChangesetFiles } from "./changeset-files.js";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import type * as HubMockModule from "@itwin/core-backend/lib/cjs/internal/HubMock.js";
import { startOfflineIModelHost } from "./itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;
const { HubMock } = require("@itwin/core-backend/lib/cjs/internal/HubMock.js") as typeof HubMockModule;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { name: { type: "string", default: "modelhub fixture" }, briefcase: { type: "string" } },
});
const [outDir, countText, perText] = positionals as [string, string, string | undefined];
const count = Number(countText);
const perChangeset = Number(perText ?? 5);
const pendingElements = values.briefcase === undefined ? undefined : Number(values.briefcase);

function insertElements(
  db: CoreBackend.IModelDb,
  modelId: string,
  categoryId: string,
  batch: string | number,
  n: number,
): void {
  for (let e = 0; e < n; e++) {
    db.elements.insertElement({
      classFullName: "Generic:PhysicalObject",
      model: modelId,
      category: categoryId,
      code: common.Code.createEmpty(),
      userLabel: `element ${batch}.${e}`,
      placement: { origin: [typeof batch === "number" ? batch : 0, e, 0], angles: {} },
    } as CoreCommon.PhysicalElementProps);
  }
}

async function main(): Promise<void> {
  const scratch = join(outDir, "scratch");
  await mkdir(join(outDir, "changesets"), { recursive: true });
  await startOfflineIModelHost({ cacheDir: join(scratch, "cache") }, "modelhub-fixtures");
  const useHub = count > 0 || pendingElements !== undefined;
  if (useHub) HubMock.startup("fixtures", join(scratch, "hub"));
  try {
    // version0: an empty iModel with a physical model and a category, so changesets can add elements.
    const version0 = join(outDir, "version0.bim");
    const snapshot = backend.SnapshotDb.createEmpty(version0, { rootSubject: { name: values.name! } });
    const modelId = backend.PhysicalModel.insert(snapshot, common.IModel.rootSubjectId, "Physical");
    const categoryId = backend.SpatialCategory.insert(
      snapshot,
      common.IModel.dictionaryId,
      "Things",
      new common.SubCategoryAppearance(),
    );
    snapshot.saveChanges();
    snapshot.close();
    const manifest: Record<string, unknown> = { changesets: [] };
    if (!useHub) return await writeFile(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2));

    // HubMock copies version0 (the file above stays as it is) and stamps a random iModel id into its copy.
    const iTwinId = HubMock.iTwinId;
    const iModelId = await HubMock.createNewIModel({ iTwinId, iModelName: "fixture", version0, noLocks: true });
    const props = await backend.BriefcaseManager.downloadBriefcase({ accessToken: "fixture-user", iTwinId, iModelId });
    const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    for (let i = 1; i <= count; i++) {
      insertElements(db, modelId, categoryId, i, perChangeset);
      db.saveChanges(`changeset ${i}`);
      await db.pushChanges({ description: `changeset ${i}` });
    }
    if (pendingElements !== undefined) {
      insertElements(db, modelId, categoryId, "pending", pendingElements);
      db.saveChanges("not pushed");
      manifest.briefcase = {
        file: "briefcase.bim",
        briefcaseId: db.briefcaseId,
        changesetId: db.changeset.id,
        changesetIndex: db.changeset.index,
        pendingElements,
      };
    }
    db.close();
    if (pendingElements !== undefined) await copyFile(props.fileName, join(outDir, "briefcase.bim"));

    const files =
      count > 0
        ? await HubMock.downloadChangesets({
            iModelId,
            range: { first: 1, end: count },
            targetDir: join(scratch, "download"),
          })
        : [];
    const changesets = await copyChangesetFiles(files, outDir);
    manifest.changesets = changesets;
    await writeFile(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2));
  } finally {
    if (useHub) HubMock.shutdown();
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
