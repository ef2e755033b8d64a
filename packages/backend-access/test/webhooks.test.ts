// Webhooks (issue 21) seen from an iTwin.js backend: a briefcase pushes through @modelhub/backend-access and a local
// receiver gets `iModels.changesetPushed.v1` for each push, in order, signed with the webhook's secret.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import { ModelHubAccess } from "../src/index.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { createIModelFromFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { eventually, startTestHub } from "@modelhub/test-support/hub.js";
import type { Receiver } from "../../server/test/support/webhook-receiver.js";
import { startReceiver } from "../../server/test/support/webhook-receiver.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ITWIN = "4b2d6e8f-1a3c-4e5f-8a7b-9c0d1e2f3a4b";

describe("webhooks tell of an iTwin.js backend's pushes", { timeout: 180_000 }, () => {
  let hub: TestHub;
  let access: ModelHubAccess;
  let receiver: Receiver;
  let work: string;
  let db: CoreBackend.BriefcaseDb;
  let finished = false;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-webhooks-"));
    receiver = await startReceiver();
    hub = await startTestHub();
    access = new ModelHubAccess({ baseUrl: hub.url, accessToken: "Bearer alice" });
    await backend.IModelHost.startup({ cacheDir: join(work, "cache"), hubAccess: access });
    backend.IModelHost.appWorkspace.settings.addDictionary(
      { name: "modelhub-tests", priority: backend.SettingsPriority.application },
      { "itwin/core/gcs/disableWorkspaces": true },
    );
  });
  after(async () => {
    db?.close();
    access?.dispose();
    await backend.IModelHost.shutdown();
    await hub?.close();
    await receiver?.close();
    await rm(work, { recursive: true, force: true });
    assert.ok(finished, "the last step ran");
  });

  it("delivers changesetPushed for each push of a briefcase, in order, signed", async () => {
    const made = await hub.api<Json>("POST", `${hub.url}/webhooks`, {
      body: {
        callbackUrl: receiver.url("/pushes"),
        scope: "iTwin",
        scopeId: ITWIN,
        eventTypes: ["iModels.changesetPushed.v1"],
      },
    });
    assert.equal(made.status, 201, made.text);
    const secret = made.body.webhook.secret as string;

    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const iModelId = (await createIModelFromFile(hub, version0, { iTwinId: ITWIN, name: "hooked" })).id as string;
    const props = await backend.BriefcaseManager.downloadBriefcase({
      accessToken: "Bearer alice",
      iTwinId: ITWIN,
      iModelId,
      fileName: join(work, "edit.bim"),
    });
    db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    const first = (sql: string) => db.withSqliteStatement(sql, (s) => (s.step(), s.getValueId(0)));
    const physicalModel = first(
      "SELECT e.Id FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId WHERE c.Name = 'PhysicalPartition' AND e.CodeValue = 'Physical'",
    );
    const category = first("SELECT Id FROM bis_Element WHERE CodeValue = 'Things'");
    for (const label of ["one", "two"]) {
      // A push releases the briefcase's locks: take them again for each edit.
      await db.locks.acquireLocks({ shared: [physicalModel, common.IModel.repositoryModelId] });
      db.elements.insertElement({
        classFullName: "Generic:PhysicalObject",
        model: physicalModel,
        category,
        code: common.Code.createEmpty(),
        userLabel: label,
        placement: { origin: [0, 0, 0], angles: {} },
      } as CoreCommon.PhysicalElementProps);
      db.saveChanges(label);
      await db.pushChanges({ description: label });
    }
    assert.equal(db.changeset.index, 2);

    const got = await eventually(
      async () => {
        const mine = receiver.received.filter((r) => r.path === "/pushes");
        return mine.length >= 2 ? mine : undefined;
      },
      60_000,
      "two deliveries",
    );
    assert.deepEqual(
      got.map((r) => [r.body.eventType, r.body.content.imodelId, r.body.content.changesetIndex]),
      [
        ["iModels.changesetPushed.v1", iModelId, "1"],
        ["iModels.changesetPushed.v1", iModelId, "2"],
      ],
    );
    assert.equal(got[1]!.body.content.changesetId, db.changeset.id);
    for (const r of got) assert.equal(receiver.signed(r, secret), true, "a valid signature");
    finished = true;
  });
});
