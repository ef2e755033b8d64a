// Run in its own process (HubMock and IModelHost are process singletons):
//   node --import tsx make-fixtures.ts <outDir> <count> <elementsPerChangeset>
// Writes <outDir>/version0.bim, <outDir>/changesets/<id>.cs and <outDir>/manifest.json, all made by iTwin.js.
import { copyFile, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import type * as HubMockModule from "@itwin/core-backend/lib/cjs/internal/HubMock.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;
const { HubMock } = require("@itwin/core-backend/lib/cjs/internal/HubMock.js") as typeof HubMockModule;

const [outDir, countText, perText] = process.argv.slice(2);
const count = Number(countText);
const perChangeset = Number(perText ?? 5);

async function main(): Promise<void> {
  const scratch = join(outDir!, "scratch");
  await mkdir(join(outDir!, "changesets"), { recursive: true });
  await backend.IModelHost.startup({ cacheDir: join(scratch, "cache") });
  // No geographic coordinate data from the public cloud (offline it costs a ~15 s DNS stall per process).
  backend.IModelHost.appWorkspace.settings.addDictionary(
    { name: "modelhub-fixtures", priority: backend.SettingsPriority.application },
    { "itwin/core/gcs/disableWorkspaces": true },
  );
  HubMock.startup("fixtures", join(scratch, "hub"));
  try {
    // version0: an empty iModel with a physical model and a category, so changesets can add elements.
    const version0 = join(outDir!, "version0.bim");
    const snapshot = backend.SnapshotDb.createEmpty(version0, { rootSubject: { name: "modelhub fixture" } });
    const modelId = backend.PhysicalModel.insert(snapshot, common.IModel.rootSubjectId, "Physical");
    const categoryId = backend.SpatialCategory.insert(snapshot, common.IModel.dictionaryId, "Things", new common.SubCategoryAppearance());
    snapshot.saveChanges();
    snapshot.close();

    const iTwinId = HubMock.iTwinId;
    const iModelId = await HubMock.createNewIModel({ iTwinId, iModelName: "fixture", version0, noLocks: true });
    const props = await backend.BriefcaseManager.downloadBriefcase({ accessToken: "fixture-user", iTwinId, iModelId });
    const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    for (let i = 1; i <= count; i++) {
      for (let e = 0; e < perChangeset; e++) {
        db.elements.insertElement({
          classFullName: "Generic:PhysicalObject",
          model: modelId,
          category: categoryId,
          code: common.Code.createEmpty(),
          userLabel: `element ${i}.${e}`,
          placement: { origin: [i, e, 0], angles: {} },
        } as never);
      }
      db.saveChanges(`changeset ${i}`);
      await db.pushChanges({ description: `changeset ${i}` });
    }
    db.close();

    const files = await HubMock.downloadChangesets({ iModelId, range: { first: 1, end: count }, targetDir: join(scratch, "download") });
    const changesets = [];
    for (const f of files) {
      const pathname = join(outDir!, "changesets", `${f.id}.cs`);
      await copyFile(f.pathname, pathname);
      changesets.push({ id: f.id, parentId: f.parentId, index: f.index, changesType: f.changesType, description: f.description, size: (await stat(pathname)).size, file: `${f.id}.cs` });
    }
    await writeFile(join(outDir!, "manifest.json"), JSON.stringify({ changesets }, null, 2));
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
