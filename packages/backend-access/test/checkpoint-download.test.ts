// A briefcase downloaded through ModelHubAccess starts from the hub's nearest checkpoint: at a named version it
// applies no changeset at all; past it, only the ones after the checkpoint.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as CoreBackend from "@itwin/core-backend";
import { ModelHubAccess } from "../src/index.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { eventually, startTestHub } from "@modelhub/test-support/hub.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Records every range iTwin.js asks to download. */
class CountingAccess extends ModelHubAccess {
  readonly ranges: { first: number; end?: number }[] = [];
  override async downloadChangesets(arg: Parameters<ModelHubAccess["downloadChangesets"]>[0]) {
    const files = await super.downloadChangesets(arg);
    if (files.length > 0)
      this.ranges.push({
        first: arg.range?.first ?? 0,
        ...(arg.range?.end !== undefined ? { end: arg.range.end } : {}),
      });
    return files;
  }
}

describe("briefcase download from server-made checkpoints", () => {
  let hub: TestHub;
  let access: CountingAccess;
  let work: string;
  let iModelId: string;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;

  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 3);
    hub = await startTestHub({ checkpoints: { everyChangesets: 0, everyBytes: 0, keepAutomatic: 1 } });
    work = await mkdtemp(join(tmpdir(), "modelhub-bcdl-"));
    access = new CountingAccess({ baseUrl: hub.url, accessToken: "Bearer alice" });
    await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access });
    iModelId = (
      await createIModelFromFile(hub, fixture.version0Path, { iTwinId: "55555555-5555-4555-8555-555555555555" })
    ).id;
    const briefcaseId = await acquireBriefcase(hub, iModelId);
    for (const cs of fixture.changesets) await pushChangeset(hub, iModelId, briefcaseId, cs);
    const version = await hub.api<Json>("POST", `/${iModelId}/namedversions`, {
      body: { name: "v2", changesetIndex: 2 },
    });
    await eventually(
      async () => {
        const r = await hub.api<Json>("GET", `/${iModelId}/namedversions/${version.body.namedVersion.id}/checkpoint`);
        return r.body.checkpoint?.state === "successful" ? true : undefined;
      },
      120_000,
      "checkpoint of v2",
    );
  });
  after(async () => {
    access.dispose();
    await backend.IModelHost.shutdown();
    await hub.close();
    await rm(work, { recursive: true, force: true });
  });

  async function download(key: string, asOf: { versionName: string } | { latest: true }) {
    access.ranges.length = 0;
    const props = await backend.BriefcaseManager.downloadBriefcase({
      accessToken: "Bearer alice",
      iTwinId: "55555555-5555-4555-8555-555555555555",
      iModelId,
      fileName: join(work, `${key}.bim`),
      asOf,
    });
    const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    const state = {
      index: db.changeset.index,
      id: db.changeset.id,
      iModelId: db.iModelId,
      briefcaseId: db.briefcaseId,
    };
    db.close();
    return state;
  }

  it("at the named version: the checkpoint is the briefcase, no changeset is applied", async () => {
    const state = await download("at-v2", { versionName: "v2" });
    assert.deepEqual(access.ranges, []);
    assert.equal(state.index, 2);
    assert.equal(state.id, fixture.changesets[1]!.id);
    assert.equal(state.iModelId, iModelId);
    assert.ok(state.briefcaseId >= 2);
  });

  it("at the tip: only the changeset after the checkpoint is downloaded and applied", async () => {
    const state = await download("tip", { latest: true });
    assert.deepEqual(access.ranges, [{ first: 3, end: 3 }]);
    assert.equal(state.index, 3);
  });
});
