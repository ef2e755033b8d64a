// `installCheckpointDownload` on its own: an app that keeps the official BackendIModelsAccess 6.0.2 as its hub
// access cannot download a briefcase from modelhub (iTwin.js 5.x looks for an Azure CloudSqlite container); with
// the checkpoint download installed it can, and iTwin.js applies the changesets after the checkpoint.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as CoreBackend from "@itwin/core-backend";
import type * as AccessTypes from "@itwin/imodels-access-backend";
import { installCheckpointDownload } from "../src/index.js";
import type { Fixture } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { startTestHub } from "@modelhub/test-support/hub.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const access = require("@itwin/imodels-access-backend") as typeof AccessTypes;
const ITWIN = "0b6b9a53-4d0e-4f8e-9c1a-5e2f7d3c4b21";

describe("installCheckpointDownload next to the official BackendIModelsAccess", () => {
  let hub: TestHub;
  let fixture: Fixture;
  let work: string;
  let iModelId: string;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startTestHub();
    work = await mkdtemp(join(tmpdir(), "modelhub-official-"));
    iModelId = (await createIModelFromFile(hub, fixture.version0Path, { iTwinId: ITWIN })).id;
    const briefcaseId = await acquireBriefcase(hub, iModelId);
    for (const cs of fixture.changesets) await pushChangeset(hub, iModelId, briefcaseId, cs);
    await startOfflineIModelHost({
      cacheDir: join(work, "cache"),
      hubAccess: new access.BackendIModelsAccess({ api: { baseUrl: hub.baseUrl } }),
      authorizationClient: { getAccessToken: async () => "Bearer alice" },
    });
  });
  after(async () => {
    await backend.IModelHost.shutdown();
    await hub.close();
    await rm(work, { recursive: true, force: true });
  });

  const download = (key: string) =>
    backend.BriefcaseManager.downloadBriefcase({
      iTwinId: ITWIN,
      iModelId,
      fileName: join(work, `${key}.bim`),
      accessToken: "Bearer alice",
    });

  it("without it, iTwin.js 5.x cannot download a briefcase from modelhub", async () => {
    await assert.rejects(download("without"), /V2 checkpoint not found/);
  });

  it("with it, the briefcase comes from the hub's checkpoint and reaches the tip", async () => {
    const uninstall = installCheckpointDownload({ baseUrl: hub.url });
    try {
      const props = await download("with");
      const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
      try {
        assert.equal(db.iModelId, iModelId);
        assert.equal(db.changeset.index, 3);
        assert.equal(db.changeset.id, fixture.changesets[2]!.id);
        assert.ok(db.briefcaseId >= 2);
      } finally {
        db.close();
      }
    } finally {
      uninstall();
    }
  });
});
