// run-tests: heavy (pushes a 55 MB and a 110 MB changeset with iTwin.js and waits for their summaries)
// Large changesets (issue 20): a changeset above 50 MiB is summarized like a small one — its inserts read natively,
// its updates unified in the SQLite-backed cache iTwin.js offers for large changesets instead of memory.
// Minutes on a 2-core machine, so it runs when asked: MODELHUB_TEST_LARGE=1 node --import tsx --test <this file>.
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

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b";
const ELEMENTS = 500;
/** Random (incompressible) bytes per element, base64 in its JSON properties: ≈ 55 MB of changeset per pass. */
const PAYLOAD_BYTES = 110_000;

describe(
  "change summaries of changesets above 50 MiB",
  { timeout: 900_000, skip: process.env.MODELHUB_TEST_LARGE !== "1" && "set MODELHUB_TEST_LARGE=1 (minutes)" },
  () => {
    let hub: TestHub;
    let access: ModelHubAccess;
    let work: string;
    let iModelId: string;
    const ids: string[] = [];
    let finished = false;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), "modelhub-changes-large-"));
      hub = await startTestHub();
      access = new ModelHubAccess({ baseUrl: hub.url, accessToken: "Bearer alice" });
      await backend.IModelHost.startup({ cacheDir: join(work, "cache"), hubAccess: access });
      backend.IModelHost.appWorkspace.settings.addDictionary(
        { name: "modelhub-tests", priority: backend.SettingsPriority.application },
        { "itwin/core/gcs/disableWorkspaces": true },
      );
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
          if (r.body.changes.state !== "ready") return undefined;
          const elements: Json[] = [...r.body.changes.elements];
          for (let next = r.body._links.next?.href; next;) {
            const page = await hub.api<Json>("GET", next);
            elements.push(...page.body.changes.elements);
            next = page.body._links.next?.href;
          }
          return { ...r.body.changes, elements };
        },
        400_000,
        `summary of changeset ${index}`,
      );
    }

    it("a changeset of 500 large inserts, then one updating all of them: every element reported", async () => {
      const props = await backend.BriefcaseManager.downloadBriefcase({
        accessToken: "Bearer alice",
        iTwinId: ITWIN,
        iModelId,
        fileName: join(work, "edit.bim"),
      });
      const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
      try {
        const model = db.withSqliteStatement(
          "SELECT e.Id FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId WHERE c.Name = 'PhysicalPartition'",
          (s) => (s.step(), s.getValueId(0)),
        );
        const category = db.withSqliteStatement(
          "SELECT Id FROM bis_Element WHERE CodeValue = 'Things'",
          (s) => (s.step(), s.getValueId(0)),
        );
        await db.locks.acquireLocks({ shared: [model] });
        for (let i = 0; i < ELEMENTS; i++) {
          ids.push(
            db.elements.insertElement({
              classFullName: "Generic:PhysicalObject",
              model,
              category,
              code: common.Code.createEmpty(),
              userLabel: `large ${i}`,
              placement: { origin: [i, 0, 0], angles: {} },
              jsonProperties: { payload: randomBytes(PAYLOAD_BYTES).toString("base64") },
            } as CoreCommon.PhysicalElementProps),
          );
        }
        db.saveChanges("large inserts");
        await db.pushChanges({ description: "large inserts" });
        await db.locks.acquireLocks({ exclusive: ids });
        for (const id of ids) {
          const element = db.elements.getElementProps(id);
          db.elements.updateElement({
            ...element,
            jsonProperties: { payload: randomBytes(PAYLOAD_BYTES).toString("base64") },
          });
        }
        db.saveChanges("large updates");
        await db.pushChanges({ description: "large updates" });
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
      for (const c of changesets)
        assert.ok(c.fileSize > 50 * 1024 * 1024, `changeset ${c.index} is ${c.fileSize} bytes, above 50 MiB`);

      const inserts = await summaryOf(1);
      assert.equal(inserts.inserted, ELEMENTS);
      assert.deepEqual((inserts.elements as Json[]).map((e) => e.id).sort(), [...ids].sort());
      assert.ok(
        (inserts.elements as Json[]).every((e) => e.op === "inserted" && /^large \d+$/.test(e.label as string)),
      );

      const updates = await summaryOf(2);
      assert.equal(updates.updated, ELEMENTS);
      assert.deepEqual((updates.elements as Json[]).map((e) => e.id).sort(), [...ids].sort());
      assert.ok(
        (updates.elements as Json[]).every(
          (e) => e.op === "updated" && (e.properties as string[]).includes("JsonProperties"),
        ),
        JSON.stringify((updates.elements as Json[])[0]),
      );
      finished = true;
    });
  },
);
