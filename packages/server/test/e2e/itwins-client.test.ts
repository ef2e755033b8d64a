// The unmodified official iTwins client (@itwin/itwins-client 1.6.1, `new ITwinsAccessClient("<hub>/itwins")`)
// against a real `modelhub serve --auth tokens` process over HTTP: it creates, lists (search, subClass, paging,
// minimal and full representations), gets, updates and deletes iTwins, and reads the hub's refusals as the cloud's.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import type * as ITwinsClientTypes from "@itwin/itwins-client";
import { createToken } from "../../src/admin/tokens.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

const require = createRequire(import.meta.url);
const { ITwinsAccessClient, ITwinSubClass, ITwinClass } = require("@itwin/itwins-client") as typeof ITwinsClientTypes;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("@itwin/itwins-client 1.6.1 against a hub process (--auth tokens)", () => {
  let hub: HubProcess;
  let client: ITwinsClientTypes.ITwinsAccessClient;
  const tokens = new Map<string, string>();
  const as = (user: string) => `Bearer ${tokens.get(user)!}`;
  let towerId: string;

  before(async () => {
    hub = await startHubProcess({ args: ["--auth", "tokens"] });
    for (const user of ["alice", "bob"])
      tokens.set(
        user,
        (await createToken({ dataDir: hub.dataDir, userId: user, description: "itwins-client test" })).token,
      );
    client = new ITwinsAccessClient(`${hub.url}/itwins`);
  });
  after(() => hub?.stop());

  it("createiTwin: 201 with the iTwin; its creator is its Owner", async () => {
    const created = await client.createiTwin(as("alice"), {
      displayName: "Tower",
      number: "T-100",
      class: ITwinClass.Endeavor,
      subClass: ITwinSubClass.Project,
      status: "Active",
      ianaTimeZone: "Europe/Vilnius",
    });
    assert.equal(created.status, 201, JSON.stringify(created.error));
    const iTwin = created.data!;
    assert.match(iTwin.id!, GUID);
    assert.deepEqual(
      {
        displayName: iTwin.displayName,
        number: iTwin.number,
        class: iTwin.class,
        subClass: iTwin.subClass,
        status: iTwin.status,
        tz: iTwin.ianaTimeZone,
        by: iTwin.createdBy,
      },
      {
        displayName: "Tower",
        number: "T-100",
        class: "Endeavor",
        subClass: "Project",
        status: "Active",
        tz: "Europe/Vilnius",
        by: "alice",
      },
    );
    assert.ok(!Number.isNaN(Date.parse(iTwin.createdDateTime!)));
    towerId = iTwin.id!;
    // Owner: every permission on the new iTwin (the Access Control API's answer).
    const permissions = await fetch(`${hub.url}/accesscontrol/itwins/${towerId}/permissions`, {
      headers: { authorization: as("alice") },
    });
    assert.deepEqual(((await permissions.json()) as { permissions: string[] }).permissions.length, 5);
  });

  it("queryAsync: mine only, minimal by default, representation on request, $search and subClass filters, paging", async () => {
    for (const [name, subClass] of [
      ["Bridge", ITwinSubClass.Asset],
      ["Canal", ITwinSubClass.Project],
      ["Dam", ITwinSubClass.Project],
    ] as const) {
      assert.equal(
        (
          await client.createiTwin(as("alice"), {
            displayName: name,
            class: subClass === ITwinSubClass.Asset ? ITwinClass.Thing : ITwinClass.Endeavor,
            subClass,
          })
        ).status,
        201,
      );
    }
    const mine = await client.queryAsync(as("alice"));
    assert.equal(mine.status, 200, JSON.stringify(mine.error));
    assert.deepEqual(
      mine.data!.map((t) => t.displayName),
      ["Bridge", "Canal", "Dam", "Tower"],
    );
    assert.deepEqual(
      Object.keys(mine.data![0]!).sort(),
      ["class", "displayName", "id", "number", "subClass", "type"],
      "minimal representation",
    );

    const full = await client.queryAsync(as("alice"), undefined, { resultMode: "representation", search: "tow" });
    assert.deepEqual(
      full.data!.map((t) => [t.displayName, t.status, t.createdBy]),
      [["Tower", "Active", "alice"]],
    );
    const projects = await client.queryAsync(as("alice"), ITwinSubClass.Project);
    assert.deepEqual(
      projects.data!.map((t) => t.displayName),
      ["Canal", "Dam", "Tower"],
    );
    const assets = await client.queryAsync(as("alice"), undefined, { subClass: ITwinSubClass.Asset });
    assert.deepEqual(
      assets.data!.map((t) => t.displayName),
      ["Bridge"],
    );
    const page2 = await client.queryAsync(as("alice"), undefined, { top: 2, skip: 2 });
    assert.deepEqual(
      page2.data!.map((t) => t.displayName),
      ["Dam", "Tower"],
    );
    const byNumber = await client.queryAsync(as("alice"), undefined, { number: "t-100" });
    assert.deepEqual(
      byNumber.data!.map((t) => t.id),
      [towerId],
    );

    // bob is a member of none of them, and an administrator's "all" scope gives him nothing more.
    assert.deepEqual((await client.queryAsync(as("bob"))).data, []);
    assert.deepEqual((await client.queryAsync(as("bob"), undefined, { queryScope: "all" })).data, []);
  });

  it("getAsync: the iTwin (both result modes) for its members; iTwinNotFound for anyone else and for unknown ids", async () => {
    const got = await client.getAsync(as("alice"), towerId, "representation");
    assert.equal(got.status, 200);
    assert.equal(got.data!.displayName, "Tower");
    assert.equal(got.data!.dataCenterLocation, "modelhub");
    const minimal = await client.getAsync(as("alice"), towerId);
    assert.equal(minimal.data!.id, towerId);
    const hidden = await client.getAsync(as("bob"), towerId);
    assert.deepEqual(
      [hidden.status, hidden.error],
      [404, { code: "iTwinNotFound", message: "Requested iTwin is not available." }],
    );
    const unknown = await client.getAsync(as("alice"), "00000000-0000-4000-8000-000000000000");
    assert.equal(unknown.status, 404);
  });

  it("updateiTwin: renames and changes fields (imodels_manage); a taken name is 409 iTwinExists, a bad value 422", async () => {
    const renamed = await client.updateiTwin(as("alice"), towerId, { displayName: "Tower A", status: "Trial" });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.error));
    assert.deepEqual(
      [renamed.data!.displayName, renamed.data!.status, renamed.data!.number],
      ["Tower A", "Trial", "T-100"],
    );
    const taken = await client.updateiTwin(as("alice"), towerId, { displayName: "bridge" });
    assert.equal(taken.status, 409);
    assert.equal(taken.error!.code, "iTwinExists");
    const bad = await client.updateiTwin(as("alice"), towerId, { subClass: "Spaceship" as ITwinClientSubClass });
    assert.equal(bad.status, 422);
    assert.equal(bad.error!.details?.[0]?.target, "subClass");
    const refused = await client.updateiTwin(as("bob"), towerId, { displayName: "Mine now" });
    assert.equal(refused.status, 403);
    assert.equal(
      (await client.getAsync(as("alice"), towerId)).data!.displayName,
      "Tower A",
      "nothing changed by the refusals",
    );
    const duplicate = await client.createiTwin(as("bob"), {
      displayName: "TOWER A",
      subClass: ITwinSubClass.Project,
      class: ITwinClass.Endeavor,
    });
    assert.deepEqual([duplicate.status, duplicate.error?.code], [409, "iTwinExists"]);
  });

  it("deleteiTwin: refused while the iTwin holds an iModel (409 iTwinNotEmpty), then 204; its id never comes back", async () => {
    const created = await fetch(`${hub.url}/imodels`, {
      method: "POST",
      headers: { authorization: as("alice"), "content-type": "application/json" },
      body: JSON.stringify({ iTwinId: towerId, name: "Only model" }),
    });
    assert.equal(created.status, 201);
    const iModelId = ((await created.json()) as { iModel: { id: string } }).iModel.id;
    const refused = await client.deleteiTwin(as("alice"), towerId);
    assert.deepEqual([refused.status, refused.error?.code], [409, "iTwinNotEmpty"]);
    assert.equal(
      (await fetch(`${hub.url}/imodels/${iModelId}`, { method: "DELETE", headers: { authorization: as("alice") } }))
        .status,
      204,
    );
    assert.equal((await client.deleteiTwin(as("bob"), towerId)).status, 403);
    const deleted = await client.deleteiTwin(as("alice"), towerId);
    assert.equal(deleted.status, 204, JSON.stringify(deleted.error));
    assert.equal((await client.getAsync(as("alice"), towerId)).status, 404);
    assert.ok(!(await client.queryAsync(as("alice"))).data!.some((t) => t.id === towerId));
    // Creating an iModel under the deleted iTwin's id does not bring it back, for anyone.
    const again = await fetch(`${hub.url}/imodels`, {
      method: "POST",
      headers: { authorization: as("bob"), "content-type": "application/json" },
      body: JSON.stringify({ iTwinId: towerId, name: "Squatter" }),
    });
    assert.equal(again.status, 404);
    assert.equal(((await again.json()) as { error: { code: string } }).error.code, "iTwinNotFound");
  });
});

type ITwinClientSubClass = ITwinsClientTypes.ITwinSubClass;
