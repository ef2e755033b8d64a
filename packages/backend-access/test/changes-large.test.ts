// run-tests: heavy (pushes a changeset above 50 MiB with iTwin.js; the hub's two workers read and apply it)
// Large changesets (issue 20): a changeset above 50 MiB is summarized like a small one — its inserts read natively,
// its updates unified in the SQLite-backed cache iTwin.js offers for large changesets instead of memory. Made cheaply:
// its bytes are a few elements with megabytes of incompressible JSON properties each, beside small edits of every
// kind (relabels, properties of a megabyte set on existing elements, deletes) that the summary must list exactly.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
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
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b";
/** Elements carrying the bulk: random (incompressible) bytes, base64 in their JSON properties. */
const BIG_ELEMENTS = 24;
const BIG_PAYLOAD_BYTES = 2_150_000;
/** Small elements of the first changeset, edited by the large one. */
const SMALL = 12;
const MIB = 1024 * 1024;

const payload = (bytes: number) => ({ payload: randomBytes(bytes).toString("base64") });

describe("change summaries of a changeset above 50 MiB", { timeout: 300_000 }, () => {
  let hub: TestHub;
  let access: ModelHubAccess;
  let work: string;
  let iModelId: string;
  let finished = false;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-changes-large-"));
    hub = await startTestHub();
    access = new ModelHubAccess({ baseUrl: hub.url, accessToken: "Bearer alice" });
    await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access });
    const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    iModelId = (await createIModelFromFile(hub, version0, { iTwinId: ITWIN, name: "large changesets" })).id;
  });
  after(async () => {
    access?.dispose();
    await backend.IModelHost.shutdown();
    await hub?.close();
    await rm(work, { recursive: true, force: true });
    assert.ok(finished, "the last step ran");
  });

  async function summaryOf(index: number): Promise<Json> {
    return eventually(
      async () => {
        const r = await hub.api<Json>("GET", `/${iModelId}/changesets/${index}/changes?$top=1000`);
        assert.equal(r.status, 200, r.text);
        return r.body.changes.state === "ready" ? r.body.changes : undefined;
      },
      200_000,
      `summary of changeset ${index}`,
    );
  }

  it("inserts, updates (of a megabyte too) and deletes in one changeset above 50 MiB: every element reported", async () => {
    const props = await backend.BriefcaseManager.downloadBriefcase({
      accessToken: "Bearer alice",
      iTwinId: ITWIN,
      iModelId,
      fileName: join(work, "edit.bim"),
    });
    const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
    /** What the test did in the large changeset, as the hub must list it (by id). */
    const expected: Json[] = [];
    let model: string;
    try {
      model = db.withSqliteStatement(
        "SELECT e.Id FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId WHERE c.Name = 'PhysicalPartition'",
        (s) => (s.step(), s.getValueId(0)),
      );
      const category = db.withSqliteStatement(
        "SELECT Id FROM bis_Element WHERE CodeValue = 'Things'",
        (s) => (s.step(), s.getValueId(0)),
      );
      await db.locks.acquireLocks({ shared: [model] });
      const insert = (label: string, jsonProperties?: Json) =>
        db.elements.insertElement({
          classFullName: "Generic:PhysicalObject",
          model,
          category,
          code: common.Code.createEmpty(),
          userLabel: label,
          placement: { origin: [0, 0, 0], angles: {} },
          ...(jsonProperties ? { jsonProperties } : {}),
        } as CoreCommon.PhysicalElementProps);
      const small = Array.from({ length: SMALL }, (_, i) => insert(`small ${i}`));
      db.saveChanges("small inserts");
      await db.pushChanges({ description: "small inserts" });

      await db.locks.acquireLocks({ exclusive: small });
      const element = (id: string, op: string, label: string, properties?: string[]) => ({
        id,
        op,
        classFullName: "Generic:PhysicalObject",
        modelId: model,
        parentId: null,
        label,
        ...(properties ? { properties } : {}),
      });
      for (let i = 0; i < BIG_ELEMENTS; i++)
        expected.push(element(insert(`big ${i}`, payload(BIG_PAYLOAD_BYTES)), "inserted", `big ${i}`));
      small.forEach((id, i) => {
        if (i < 6) {
          db.elements.updateElement({ ...db.elements.getElementProps(id), userLabel: `relabelled ${i}` });
          expected.push(element(id, "updated", `relabelled ${i}`, ["UserLabel"]));
        } else if (i < 8) {
          // A megabyte of new value: the update's old and new values go through the unifier's SQLite cache.
          db.elements.updateElement({ ...db.elements.getElementProps(id), jsonProperties: payload(MIB) });
          expected.push(element(id, "updated", `small ${i}`, ["JsonProperties"]));
        } else {
          db.elements.deleteElement(id);
          expected.push(element(id, "deleted", `small ${i}`));
        }
      });
      db.saveChanges("large");
      await db.pushChanges({ description: "large" });
    } finally {
      db.close();
    }
    const changesets = (
      await hub.api<Json>("GET", `/${iModelId}/changesets`, { headers: { prefer: "return=representation" } })
    ).body.changesets as Json[];
    assert.deepEqual(
      changesets.map((c) => c.index),
      [1, 2],
    );
    assert.ok(changesets[1]!.fileSize > 50 * MIB, `changeset 2 is ${changesets[1]!.fileSize} bytes, above 50 MiB`);

    const summary = await summaryOf(2);
    const byId = (a: Json, b: Json) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    assert.deepEqual([...(summary.elements as Json[])].sort(byId), expected.sort(byId));
    assert.deepEqual([summary.inserted, summary.updated, summary.deleted], [BIG_ELEMENTS, 8, SMALL - 8], "the counts");
    assert.equal((await summaryOf(1)).inserted, SMALL);
    finished = true;
  });
});
