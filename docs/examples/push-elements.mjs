// The tutorial's iTwin.js step (docs/tutorial.md): an unmodified iTwin.js 5.x backend that downloads a briefcase of
// an iModel from modelhub, places a few objects and pushes them as one changeset.
//   node docs/examples/push-elements.mjs <iModel name or id> [count]
// Uses MODELHUB_URL (default http://127.0.0.1:3000) and MODELHUB_TOKEN (in open mode: your user name).
import { createRequire } from "node:module";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelHubAccess } from "@modelhub/backend-access";
import { ModelHubClient } from "@modelhub/client";

const require = createRequire(import.meta.url);
const { BriefcaseDb, BriefcaseManager, IModelHost, SettingsPriority } = require("@itwin/core-backend");
const { Code } = require("@itwin/core-common");

const [ref, countText = "5"] = process.argv.slice(2);
if (!ref) {
  process.stderr.write("usage: node docs/examples/push-elements.mjs <iModel name or id> [count]\n");
  process.exit(2);
}
const url = process.env.MODELHUB_URL ?? "http://127.0.0.1:3000";
const token = process.env.MODELHUB_TOKEN;
if (!token) {
  process.stderr.write("set MODELHUB_TOKEN (in open mode: your user name)\n");
  process.exit(2);
}

// Find the iModel by id, or by name among your iTwins (the same lookup as `modelhub imodels show`).
const client = new ModelHubClient({ url, accessToken: token });
let iModel;
if (/^[0-9a-f-]{36}$/i.test(ref)) iModel = await client.getIModel(ref);
else {
  for await (const iTwin of client.iTwins())
    for await (const m of client.iModels(iTwin.id, { name: ref })) if (m.name === ref) iModel = m;
  if (!iModel) throw new Error(`no iModel named '${ref}' in your iTwins`);
}

const cacheDir = await mkdtemp(join(tmpdir(), "modelhub-tutorial-"));
await IModelHost.startup({ cacheDir, hubAccess: new ModelHubAccess({ baseUrl: url, accessToken: `Bearer ${token}` }) });
// Offline, the first open of an iModel would wait ~15 s for the public geographic coordinate workspace.
IModelHost.appWorkspace.settings.addDictionary(
  { name: "tutorial", priority: SettingsPriority.application },
  { "itwin/core/gcs/disableWorkspaces": true },
);
try {
  const props = await BriefcaseManager.downloadBriefcase({
    accessToken: `Bearer ${token}`,
    iTwinId: iModel.iTwinId,
    iModelId: iModel.id,
    fileName: join(cacheDir, "tutorial.bim"),
  });
  const db = await BriefcaseDb.open({ fileName: props.fileName });
  try {
    const first = (sql) => db.withPreparedStatement(sql, (stmt) => (stmt.step(), stmt.getValue(0).getId()));
    const model = first("SELECT ECInstanceId FROM bis.PhysicalModel WHERE IsPrivate = false");
    const category = first("SELECT ECInstanceId FROM bis.SpatialCategory");
    await db.locks.acquireLocks({ shared: model });
    const count = Number(countText);
    for (let i = 0; i < count; i++) {
      db.elements.insertElement({
        classFullName: "Generic:PhysicalObject",
        model,
        category,
        code: Code.createEmpty(),
        userLabel: `tutorial object ${i + 1}`,
        placement: { origin: [i, 5, 0], angles: {} },
      });
    }
    db.saveChanges(`tutorial: ${count} objects`);
    await db.pushChanges({
      description: `Tutorial: ${count} objects placed by iTwin.js`,
      accessToken: `Bearer ${token}`,
    });
    process.stdout.write(
      `pushed changeset ${db.changeset.index} (${db.changeset.id}) to '${iModel.name}' as briefcase ${db.briefcaseId}\n`,
    );
    // Give the briefcase back: nothing stays reserved on the hub for this one-off script.
    await BriefcaseManager.releaseBriefcase(`Bearer ${token}`, { iModelId: iModel.id, briefcaseId: db.briefcaseId });
  } finally {
    db.close();
  }
} finally {
  await IModelHost.shutdown();
  await rm(cacheDir, { recursive: true, force: true });
}
