// run-tests: heavy (iTwin.js pushes from this process and the hub's worker reads every changeset, twice: SQLite and PostgreSQL)
// Element-level change summaries (issue 20): known edits pushed with iTwin.js (inserts, updates of chosen properties,
// deletes, a move between models, a schema import, an element inserted and deleted across two changesets) and the
// hub's answer compared element by element, for each changeset and for compares of two points of history.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { crc32 } from "node:zlib";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreCommon from "@itwin/core-common";
import { ModelHubAccess } from "../src/index.js";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { createIModelFromFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "@modelhub/test-support/hub.js";
import { eventually, startTestHub } from "@modelhub/test-support/hub.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";
import { startOfflineIModelHost } from "@modelhub/test-support/itwin-host.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const common = require("@itwin/core-common") as typeof CoreCommon;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/** Runs `modelhub …` as a user would (alice's token, the hub's address in the environment). */
function cli(hubUrl: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...MODELHUB, ...args],
      { env: { ...process.env, MODELHUB_URL: hubUrl, MODELHUB_TOKEN: "alice" } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const SCHEMA = `<?xml version="1.0" encoding="UTF-8"?>
<ECSchema schemaName="ChangeTest" alias="ct" version="01.00.00" xmlns="http://www.bentley.com/schemas/Bentley.ECXML.3.2">
  <ECSchemaReference name="BisCore" version="01.00.00" alias="bis"/>
  <ECEntityClass typeName="Widget">
    <BaseClass>bis:PhysicalElement</BaseClass>
    <ECProperty propertyName="Size" typeName="double"/>
  </ECEntityClass>
</ECSchema>`;

/** What the test did, element by element, per changeset (the hub must answer exactly this). */
interface Expected {
  id: string;
  op: "inserted" | "updated" | "deleted";
  classFullName: string;
  modelId: string;
  label: string | null;
  properties?: string[];
  previousModelId?: string;
}

for (const metadata of ["sqlite", "postgres"] as const) {
  describe(`change summaries and compare (${metadata})`, { timeout: 300_000 }, () => {
    let hub: TestHub;
    let access: ModelHubAccess;
    let work: string;
    let dropSchema: (() => Promise<void>) | undefined;
    let iModelId: string;
    const expected = new Map<number, Expected[]>();
    const ids: Record<string, string> = {};
    let physicalModel: string;
    let otherModel: string;
    /** ECClassId of the classes the test inserts, read from the briefcase. */
    const classIds: Record<string, string> = {};
    let finished = false;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), "modelhub-changes-"));
      let overrides = {};
      if (metadata === "postgres") {
        const schema = await privateSchema("changes-e2e");
        dropSchema = schema.drop;
        overrides = { metadata: { kind: "postgres", url: schema.url } };
      }
      hub = await startTestHub(overrides);
      access = new ModelHubAccess({ baseUrl: hub.url, accessToken: "Bearer alice" });
      await startOfflineIModelHost({ cacheDir: join(work, "cache"), hubAccess: access });
      const version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
      iModelId = (await createIModelFromFile(hub, version0, { iTwinId: ITWIN, name: `changes ${metadata}` })).id;
    });
    after(async () => {
      feed.abort();
      access?.dispose();
      await backend.IModelHost.shutdown();
      await hub?.close();
      await dropSchema?.();
      await rm(work, { recursive: true, force: true });
      assert.ok(finished, "the last step ran");
    });

    /** The iModel's change feed, read from before the first push: the `changes` events it sent. */
    const changesEvents: Json[] = [];
    const feed = new AbortController();
    async function follow(): Promise<void> {
      const response = await fetch(`${hub.baseUrl}/${iModelId}/events`, {
        headers: { authorization: "Bearer alice", accept: "text/event-stream" },
        signal: feed.signal,
      });
      assert.equal(response.status, 200);
      const decoder = new TextDecoder();
      let buffer = "";
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const name = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (name === "changes" && data) changesEvents.push(JSON.parse(data) as Json);
          }
        }
      } catch (err) {
        if (!feed.signal.aborted) throw err;
      }
    }

    it("pushes known edits with iTwin.js", async () => {
      void follow().catch(() => undefined);
      const props = await backend.BriefcaseManager.downloadBriefcase({
        accessToken: "Bearer alice",
        iTwinId: ITWIN,
        iModelId,
        fileName: join(work, "edit.bim"),
      });
      const db = await backend.BriefcaseDb.open({ fileName: props.fileName });
      try {
        physicalModel = db.withSqliteStatement(
          "SELECT e.Id FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId WHERE c.Name = 'PhysicalPartition' AND e.CodeValue = 'Physical'",
          (s) => (s.step(), s.getValueId(0)),
        );
        const category = db.withSqliteStatement(
          "SELECT Id FROM bis_Element WHERE CodeValue = 'Things'",
          (s) => (s.step(), s.getValueId(0)),
        );
        await db.locks.acquireLocks({
          shared: [common.IModel.rootSubjectId, physicalModel, common.IModel.repositoryModelId],
        });
        const insert = (
          label: string,
          model = physicalModel,
          classFullName = "Generic:PhysicalObject",
          extra: Record<string, unknown> = {},
        ) =>
          db.elements.insertElement({
            classFullName,
            model,
            category,
            code: common.Code.createEmpty(),
            userLabel: label,
            placement: { origin: [0, 0, 0], angles: {} },
            ...extra,
          } as CoreCommon.PhysicalElementProps);
        const push = async (index: number, description: string, edits: Expected[]) => {
          db.saveChanges(description);
          await db.pushChanges({ description });
          assert.equal(db.changeset.index, index);
          expected.set(index, edits);
        };

        // 1: a second model (its partition is an element too) and four elements.
        otherModel = backend.PhysicalModel.insert(db, common.IModel.rootSubjectId, "Other");
        for (const name of ["A", "B", "C", "D"]) ids[name] = insert(name);
        await push(1, "inserts", [
          {
            id: otherModel,
            op: "inserted",
            classFullName: "BisCore:PhysicalPartition",
            modelId: common.IModel.repositoryModelId,
            label: "Other",
          },
          ...["A", "B", "C", "D"].map((name) => ({
            id: ids[name]!,
            op: "inserted" as const,
            classFullName: "Generic:PhysicalObject",
            modelId: physicalModel,
            label: name,
          })),
        ]);

        // 2: A relabelled, B moved to the other model, C deleted, E inserted.
        await db.locks.acquireLocks({ exclusive: [ids.A!, ids.B!, ids.C!], shared: [otherModel] });
        db.elements.updateElement({ ...db.elements.getElementProps(ids.A!), userLabel: "A2" });
        db.withSqliteStatement("UPDATE bis_Element SET ModelId = ? WHERE Id = ?", (s) => {
          s.bindId(1, otherModel);
          s.bindId(2, ids.B!);
          s.step();
        });
        db.elements.deleteElement(ids.C!);
        ids.E = insert("E");
        await push(2, "updates, a move, a delete", [
          {
            id: ids.A!,
            op: "updated",
            classFullName: "Generic:PhysicalObject",
            modelId: physicalModel,
            label: "A2",
            properties: ["UserLabel"],
          },
          {
            id: ids.B!,
            op: "updated",
            classFullName: "Generic:PhysicalObject",
            modelId: otherModel,
            label: "B",
            properties: ["Model"],
            previousModelId: physicalModel,
          },
          { id: ids.C!, op: "deleted", classFullName: "Generic:PhysicalObject", modelId: physicalModel, label: "C" },
          { id: ids.E!, op: "inserted", classFullName: "Generic:PhysicalObject", modelId: physicalModel, label: "E" },
        ]);
        await hub.api("POST", `/${iModelId}/namedversions`, { body: { name: "after moves", changesetIndex: 2 } });

        // 3: a schema import, alone.
        await db.acquireSchemaLock();
        await db.importSchemaStrings([SCHEMA]);
        await push(3, "schema", []);

        // 4: an element of the new class, D's placement changed, F inserted.
        await db.locks.acquireLocks({ exclusive: [ids.D!] });
        ids.W = insert("W", physicalModel, "ChangeTest:Widget", { size: 2.5 });
        db.elements.updateElement({
          ...db.elements.getElementProps(ids.D!),
          placement: { origin: [5, 6, 7], angles: {} },
        } as CoreCommon.ElementProps);
        ids.F = insert("F");
        await push(4, "widget", [
          { id: ids.W!, op: "inserted", classFullName: "ChangeTest:Widget", modelId: physicalModel, label: "W" },
          {
            id: ids.D!,
            op: "updated",
            classFullName: "Generic:PhysicalObject",
            modelId: physicalModel,
            label: "D",
            properties: ["Origin"],
          },
          { id: ids.F!, op: "inserted", classFullName: "Generic:PhysicalObject", modelId: physicalModel, label: "F" },
        ]);

        // 5: F (inserted in 4) and E (inserted in 2) deleted, A relabelled again.
        await db.locks.acquireLocks({ exclusive: [ids.F!, ids.E!, ids.A!] });
        db.elements.deleteElement(ids.F!);
        db.elements.deleteElement(ids.E!);
        db.elements.updateElement({ ...db.elements.getElementProps(ids.A!), userLabel: "A3" });
        await push(5, "deletes", [
          { id: ids.F!, op: "deleted", classFullName: "Generic:PhysicalObject", modelId: physicalModel, label: "F" },
          { id: ids.E!, op: "deleted", classFullName: "Generic:PhysicalObject", modelId: physicalModel, label: "E" },
          {
            id: ids.A!,
            op: "updated",
            classFullName: "Generic:PhysicalObject",
            modelId: physicalModel,
            label: "A3",
            properties: ["UserLabel"],
          },
        ]);
        for (const name of ["Generic:PhysicalObject", "ChangeTest:Widget", "BisCore:Subject"])
          classIds[name] = db.withSqliteStatement(
            "SELECT c.Id FROM ec_Class c JOIN ec_Schema s ON s.Id = c.SchemaId WHERE s.Name = ? AND c.Name = ?",
            (st) => (
              st.bindString(1, name.split(":")[0]!),
              st.bindString(2, name.split(":")[1]!),
              st.step(),
              st.getValueId(0)
            ),
          );
      } finally {
        db.close();
      }
    });

    async function changesOf(index: number): Promise<Json> {
      return eventually(
        async () => {
          const r = await hub.api<Json>("GET", `/${iModelId}/changesets/${index}/changes?$top=1000`);
          assert.equal(r.status, 200, r.text);
          return r.body.changes.state === "ready" ? r.body.changes : undefined;
        },
        120_000,
        `summary of changeset ${index}`,
      );
    }

    function shape(e: Expected) {
      return {
        id: e.id,
        op: e.op,
        classFullName: e.classFullName,
        modelId: e.modelId,
        label: e.label,
        ...(e.previousModelId ? { previousModelId: e.previousModelId } : {}),
        ...(e.properties ? { properties: e.properties } : {}),
      };
    }

    const byId = (a: Json, b: Json) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

    it("each changeset's summary lists exactly the elements the test changed", async () => {
      for (const [index, edits] of expected) {
        const changes = await changesOf(index);
        // The new model's partition is a child of the root subject; the test's elements have no parent.
        const got = (changes.elements as Json[]).map(({ parentId, ...e }) => {
          assert.equal(parentId, e.id === otherModel ? common.IModel.rootSubjectId : null, `parent of ${e.id}`);
          return e;
        });
        assert.deepEqual(got.sort(byId), edits.map(shape).sort(byId), `changeset ${index}`);
        assert.equal(changes.inserted, edits.filter((e) => e.op === "inserted").length);
        assert.equal(changes.updated, edits.filter((e) => e.op === "updated").length);
        assert.equal(changes.deleted, edits.filter((e) => e.op === "deleted").length);
        assert.equal(changes.schemaChanged, index === 3, `changeset ${index} schema flag`);
      }
      const schema = await changesOf(3);
      assert.deepEqual(schema.schemas, [{ name: "ChangeTest", op: "inserted" }]);
      // The feed said so for each one ("changes ready").
      await eventually(async () => (changesEvents.length >= 5 ? true : undefined), 30_000, "five changes events");
      feed.abort();
      assert.deepEqual(changesEvents.map((e) => e.changesetIndex).sort(), [1, 2, 3, 4, 5]);
      assert.deepEqual(
        changesEvents.find((e) => e.changesetIndex === 2),
        {
          changesetIndex: 2,
          changesetId: (await changesOf(2)).changesetId,
          inserted: 1,
          updated: 2,
          deleted: 1,
          schemaChanged: false,
        },
      );
    });

    it("a compare gives the net effect: inserted then deleted is nothing, updates merged, counts by model and class", async () => {
      const c = await eventually(
        async () => {
          const all = await hub.api<Json>("GET", `/${iModelId}/changes?from=0&to=5&$top=1000`);
          assert.equal(all.status, 200, all.text);
          return all.body.comparison.state === "ready" ? all.body.comparison : undefined;
        },
        120_000,
        "every summary of 1..5",
      );
      const net = new Map<string, Json>((c.elements as Json[]).map((e) => [e.id as string, e]));
      // C (inserted 1, deleted 2), E (inserted 2, deleted 5), F (inserted 4, deleted 5): nothing.
      for (const gone of ["C", "E", "F"]) assert.equal(net.has(ids[gone]!), false, `${gone} is not in the net effect`);
      assert.deepEqual([...net.keys()].sort(), [otherModel, ids.A!, ids.B!, ids.D!, ids.W!].sort());
      assert.equal(net.get(ids.A!)!.op, "inserted");
      assert.equal(net.get(ids.A!)!.label, "A3");
      assert.equal(net.get(ids.B!)!.modelId, otherModel);
      assert.deepEqual(net.get(ids.A!)!.changesets, [1, 2, 5]);
      assert.deepEqual(net.get(ids.A!)!.changedBy, ["alice"]);
      assert.equal(c.inserted, 5);
      assert.equal(c.updated + c.deleted + c.reinserted, 0);
      assert.deepEqual(c.schemaChanges, [{ changesetIndex: 3, schemas: [{ name: "ChangeTest", op: "inserted" }] }]);

      // From the named version "after moves" (changeset 2) to 5: A updated twice (merged), D updated, E deleted, W inserted.
      const later = await hub.api<Json>("GET", `/${iModelId}/changes?from=${encodeURIComponent("after moves")}&to=5`);
      assert.equal(later.status, 200, later.text);
      const l = later.body.comparison;
      assert.deepEqual(l.from, {
        changesetIndex: 2,
        changesetId: l.from.changesetId,
        namedVersion: { id: l.from.namedVersion.id, name: "after moves" },
      });
      const ops = Object.fromEntries((l.elements as Json[]).map((e) => [e.id, e.op]));
      assert.deepEqual(ops, { [ids.A!]: "updated", [ids.D!]: "updated", [ids.E!]: "deleted", [ids.W!]: "inserted" });
      assert.deepEqual((l.elements as Json[]).find((e) => e.id === ids.A)!.properties, ["UserLabel"]);
      assert.deepEqual(
        { inserted: l.inserted, updated: l.updated, deleted: l.deleted, reinserted: l.reinserted },
        { inserted: 1, updated: 2, deleted: 1, reinserted: 0 },
      );
      const widgetCount = (l.countsByModelAndClass as Json[]).find((x) => x.classFullName === "ChangeTest:Widget");
      assert.deepEqual(widgetCount, {
        modelId: physicalModel,
        classFullName: "ChangeTest:Widget",
        inserted: 1,
        updated: 0,
        deleted: 0,
        reinserted: 0,
      });

      // Filters and pages.
      const page = await hub.api<Json>(
        "GET",
        `/${iModelId}/changes?from=0&to=5&op=inserted&modelId=${physicalModel}&$top=2&$skip=1`,
      );
      assert.equal(page.status, 200, page.text);
      assert.equal(page.body.comparison.matchingElements, 3);
      assert.equal(page.body.comparison.elements.length, 2);
      assert.ok(page.body._links.prev);
      assert.equal(page.body._links.next, null);
    });

    it("Bentley's Changed Elements API v2 paths, called as ComparisonJobClient does (result link without a token)", async () => {
      const idOf = async (index: number) =>
        (await hub.api<Json>("GET", `/${iModelId}/changesets/${index}`)).body.changeset.id as string;
      // The named version "after moves" is changeset 2; as the cloud's, a comparison from it starts at changeset 3.
      const [start, end] = [await idOf(3), await idOf(5)];
      const accept = "application/vnd.bentley.itwin-platform.v2+json";
      const created = await fetch(`${hub.url}/changedelements/comparisonJob`, {
        method: "POST",
        headers: { authorization: "Bearer alice", accept, "content-type": "application/json" },
        body: JSON.stringify({ iTwinId: ITWIN, iModelId, startChangesetId: start, endChangesetId: end }),
      });
      assert.equal(created.status, 202);
      const job = ((await created.json()) as Json).comparisonJob as Json;
      assert.equal(job.status, "Completed");
      assert.equal(job.jobId, `${start}-${end}`);
      const jobUrl = `${hub.url}/changedelements/comparisonJob/${job.jobId}/iTwin/${ITWIN}/iModel/${iModelId}`;
      const again = await fetch(jobUrl, { headers: { authorization: "Bearer alice", accept } });
      assert.equal(again.status, 200);
      assert.equal(((await again.json()) as Json).comparisonJob.status, "Completed");
      const anonymous = await fetch(jobUrl, { headers: { accept } });
      assert.equal(anonymous.status, 401);

      const result = await fetch(job.comparison.href, { headers: { accept } });
      assert.equal(result.status, 200);
      const ce = ((await result.json()) as Json).changedElements as Json;
      const byId = new Map((ce.elements as string[]).map((id, i) => [id, i]));
      assert.deepEqual([...byId.keys()].sort(), [ids.A!, ids.D!, ids.E!, ids.W!].sort());
      const of = (name: string) => {
        const i = byId.get(ids[name]!)!;
        return {
          classId: ce.classIds[i],
          opcode: ce.opcodes[i],
          type: ce.type[i],
          modelId: ce.modelIds[i],
          properties: ce.properties[i],
          parentId: ce.parentIds[i],
        };
      };
      const physical = classIds["Generic:PhysicalObject"]!;
      assert.deepEqual(of("A"), {
        classId: physical,
        opcode: 23,
        type: 1,
        modelId: physicalModel,
        properties: ["UserLabel"],
        parentId: "0",
      });
      assert.deepEqual(of("E"), {
        classId: physical,
        opcode: 9,
        type: 0,
        modelId: physicalModel,
        properties: [],
        parentId: "0",
      });
      assert.deepEqual(of("W"), {
        classId: classIds["ChangeTest:Widget"],
        opcode: 18,
        type: 0,
        modelId: physicalModel,
        properties: [],
        parentId: "0",
      });
      assert.equal(of("D").opcode, 23);
      for (const key of ["oldChecksums", "newChecksums", "parentClassIds"])
        assert.equal((ce[key] as unknown[]).length, byId.size, key);
      // Checksums of each changed property's value at the start of the range and at its end (CRC-32 of its JSON):
      // A's label went from A2 (changeset 2) to A3 (5); inserts and deletes name no property, so have none.
      const at = (key: string, name: string) => (ce[key] as unknown[])[byId.get(ids[name]!)!];
      assert.deepEqual(at("oldChecksums", "A"), [crc32(JSON.stringify("A2"))]);
      assert.deepEqual(at("newChecksums", "A"), [crc32(JSON.stringify("A3"))]);
      assert.equal((at("oldChecksums", "D") as number[]).length, (of("D").properties as string[]).length);
      assert.notDeepEqual(at("oldChecksums", "D"), at("newChecksums", "D"), "D's placement changed");
      for (const name of ["E", "W"]) assert.deepEqual([at("oldChecksums", name), at("newChecksums", name)], [[], []]);
      for (const name of ["A", "D", "E", "W"]) assert.equal(at("parentClassIds", name), "0", `${name} has no parent`);

      // From changeset 1: the new model's partition, a child of the root subject, carries its parent's class.
      const fromFirst = await fetch(`${hub.url}/changedelements/comparisonJob`, {
        method: "POST",
        headers: { authorization: "Bearer alice", accept, "content-type": "application/json" },
        body: JSON.stringify({ iTwinId: ITWIN, iModelId, startChangesetId: await idOf(1), endChangesetId: end }),
      });
      const firstJob = ((await fromFirst.json()) as Json).comparisonJob as Json;
      assert.equal(firstJob.status, "Completed");
      const all = ((await (await fetch(firstJob.comparison.href, { headers: { accept } })).json()) as Json)
        .changedElements as Json;
      const partition = (all.elements as string[]).indexOf(otherModel);
      assert.ok(partition >= 0, "the partition is in the comparison from changeset 1");
      assert.equal(all.parentIds[partition], common.IModel.rootSubjectId);
      assert.equal(all.parentClassIds[partition], classIds["BisCore:Subject"]);

      // The link is the authorization: altered, refused; the job is deleted (nothing was stored: 204).
      const tampered = await fetch(job.comparison.href.replace(/sig=[^&]+/, "sig=AAAA"), { headers: { accept } });
      assert.equal(tampered.status, 403);
      const deleted = await fetch(jobUrl, { method: "DELETE", headers: { authorization: "Bearer alice", accept } });
      assert.equal(deleted.status, 204);
    });

    it("a clone with history has the same summaries; deleting an iModel deletes its summaries", async () => {
      const r = await hub.api<Json>("POST", `/${iModelId}/clone`, {
        body: { iTwinId: ITWIN, name: `clone ${metadata}`, changesetIndex: 4 },
      });
      assert.equal(r.status, 202, r.text);
      const cloneId = (r.headers.get("location") ?? "").split("/").pop()!;
      for (let index = 1; index <= 4; index++) {
        const source = await changesOf(index);
        const copy = await eventually(
          async () => {
            const answer = await hub.api<Json>("GET", `/${cloneId}/changesets/${index}/changes?$top=1000`);
            return answer.status === 200 && answer.body.changes.state === "ready" ? answer.body.changes : undefined;
          },
          120_000,
          `the clone's summary of changeset ${index}`,
        );
        assert.deepEqual(copy, source, `changeset ${index}`);
      }
      const compare = await hub.api<Json>("GET", `/${cloneId}/changes?from=0&to=4`);
      assert.equal(compare.body.comparison.state, "ready");
      assert.equal((await hub.api("DELETE", `/${cloneId}`)).status, 204);
      const rows = await hub.server.app.inject({
        method: "GET",
        url: `/imodels/${cloneId}/changes?from=0&to=4`,
        headers: { authorization: "Bearer alice" },
      });
      assert.equal(rows.statusCode, 404);
    });

    it(
      "the command line: modelhub changes and modelhub diff (--json), exit codes",
      { skip: metadata === "postgres" && "the same API; run once" },
      async () => {
        const diff = await cli(hub.url, ["diff", iModelId, "--from", "after moves", "--to", "5", "--json"]);
        assert.equal(diff.code, 0, diff.stderr);
        const answer = JSON.parse(diff.stdout) as Json;
        assert.deepEqual(
          {
            from: answer.from,
            to: answer.to,
            inserted: answer.inserted,
            updated: answer.updated,
            deleted: answer.deleted,
          },
          { from: 2, to: 5, inserted: 1, updated: 2, deleted: 1 },
        );
        assert.deepEqual(
          (answer.elements as Json[]).find((e) => e.id === ids.A),
          {
            id: ids.A,
            op: "updated",
            classFullName: "Generic:PhysicalObject",
            modelId: physicalModel,
            label: "A3",
            properties: ["UserLabel"],
          },
        );
        assert.equal((answer.elements as Json[]).length, 4);

        const human = await cli(hub.url, ["diff", iModelId, "--from", "0", "--to", "5"]);
        assert.equal(human.code, 0, human.stderr);
        assert.match(human.stdout, /^from 0 to 5: \+5 ~0 -0 in 3 models$/m);
        assert.match(human.stdout, /ChangeTest:Widget/);

        const one = await cli(hub.url, ["changes", iModelId, "3"]);
        assert.equal(one.code, 0, one.stderr);
        assert.match(
          one.stdout,
          /^changeset 3 \([0-9a-f]{40}\): \+0 ~0 -0 in 0 models; schema changes: ChangeTest inserted$/m,
        );
        const oneJson = await cli(hub.url, ["changes", iModelId, "2", "--json"]);
        assert.equal(JSON.parse(oneJson.stdout).elements.length, 4);
        // The iModel by its name, as every other command takes it.
        const byName = await cli(hub.url, ["changes", `changes ${metadata}`, "2", "--json"]);
        assert.equal(byName.code, 0, byName.stderr);
        assert.deepEqual(JSON.parse(byName.stdout), JSON.parse(oneJson.stdout));
        const diffByName = await cli(hub.url, ["diff", `changes ${metadata}`, "--from", "0", "--to", "5"]);
        assert.equal(diffByName.stdout, human.stdout, diffByName.stderr);

        const unknown = await cli(hub.url, ["diff", iModelId, "--from", "no such version", "--to", "5"]);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /NamedVersionNotFound/);
        const backwards = await cli(hub.url, ["diff", iModelId, "--from", "5", "--to", "2"]);
        assert.equal(backwards.code, 1);
        const usage = await cli(hub.url, ["diff", iModelId, "--to", "5"]);
        assert.equal(usage.code, 2);
        const badOp = await cli(hub.url, ["changes", iModelId, "2", "--op", "moved"]);
        assert.equal(badOp.code, 2);
      },
    );

    it("bad input: unknown iModel, changeset or version, from after to, huge pages", async () => {
      const expectError = async (path: string, status: number, code: string) => {
        const r = await hub.api<Json>("GET", path);
        assert.equal(r.status, status, `${path}: ${r.text}`);
        assert.equal(r.body.error.code, code, path);
      };
      await expectError(`/00000000-0000-4000-8000-000000000000/changes?from=0&to=1`, 404, "iModelNotFound");
      await expectError(`/${iModelId}/changes?from=0&to=99`, 404, "ChangesetNotFound");
      await expectError(`/${iModelId}/changes?from=nope&to=2`, 404, "NamedVersionNotFound");
      await expectError(`/${iModelId}/changes?from=4&to=2`, 422, "InvalidiModelsRequest");
      await expectError(`/${iModelId}/changes?to=2`, 422, "InvalidiModelsRequest");
      await expectError(`/${iModelId}/changes?from=0&to=2&$top=100000`, 422, "InvalidiModelsRequest");
      await expectError(`/${iModelId}/changesets/99/changes`, 404, "ChangesetNotFound");
      await expectError(`/${iModelId}/changesets/1/changes?op=moved`, 422, "InvalidiModelsRequest");
      finished = true;
    });
  });
}
