// The blob-container service (`/blobcontainers`, iTwin.js's BlobContainer service) on Azurite, in tokens mode: who
// may create, see, change, delete a container and get which token, by the iTwin's roles; the tokens are container SAS
// tokens that Azurite itself enforces (read-only refuses writes, one container's token opens no other); containers
// go with their iModel and iTwin; a hub on local files refuses clearly.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BlobServiceClient } from "@azure/storage-blob";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import type { SecuredHub } from "../support/access.js";
import { accessControl, startSecuredHub } from "../support/access.js";
import type { ApiResponse, TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const OWNER = "alice";
const ROLES = {
  reader: ["imodels_read"],
  writer: ["imodels_write"],
  manager: ["imodels_manage"],
  viewer: ["imodels_webview"],
} as const;

describe("blob containers on a hub with --blobs fs", () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub();
  });
  after(async () => hub?.close());

  it("are refused with 409 ContainerServiceNotAvailable, naming what to change", async () => {
    const r = await hub.api<Json>("POST", `${hub.url}/blobcontainers`, {
      body: {
        scope: { iTwinId: "a1b2c3d4-0000-4000-8000-000000000001" },
        metadata: { containerType: "workspace", label: "x" },
      },
    });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error.code, "ContainerServiceNotAvailable");
    assert.match(r.body.error.message, /--blobs azure:/);
    const token = await hub.api<Json>("POST", `${hub.url}/blobcontainers/abc/token`, { body: {} });
    assert.equal(token.status, 409, token.text);
  });
});

describe("blob containers on Azurite (--auth tokens)", () => {
  let azurite: Azurite;
  let s: SecuredHub;
  let service: BlobServiceClient;
  let iTwinId: string;
  const previousConnection = process.env.AZURE_STORAGE_CONNECTION_STRING;

  const api =
    (user: string) =>
    <T = Json>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> =>
      s.as(user).api<T>(method, `${s.hub.url}/blobcontainers${path}`, body === undefined ? {} : { body });
  const create = (user: string, scope: Json, label = "settings") =>
    api(user)("POST", "", { scope, metadata: { containerType: "workspace", label, json: { a: 1 } } });
  async function expectStatus<T>(r: Promise<ApiResponse<T>>, status: number, code?: string): Promise<ApiResponse<T>> {
    const done = await r;
    assert.equal(done.status, status, done.text);
    if (code) assert.equal((done.body as Json).error.code, code, done.text);
    return done;
  }
  const azureContainerExists = (containerId: string) => service.getContainerClient(containerId).exists();

  before(async () => {
    azurite = await startAzurite();
    process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
    service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    s = await startSecuredHub([OWNER, ...Object.keys(ROLES), "nobody"], {
      blobs: { kind: "azure", container: "hub-files" },
    });
    const ac = accessControl(s.as(OWNER));
    iTwinId = (
      await expectStatus(
        s.as(OWNER).api<Json>("POST", `${s.hub.url}/itwins`, { body: { displayName: "Containers" } }),
        201,
      )
    ).body.iTwin.id;
    for (const [user, permissions] of Object.entries(ROLES)) {
      const role = await expectStatus(
        ac<Json>("POST", `/itwins/${iTwinId}/roles`, { displayName: user, permissions }),
        201,
      );
      await expectStatus(
        ac("POST", `/itwins/${iTwinId}/members/users`, { members: [{ userId: user, roleIds: [role.body.role.id] }] }),
        201,
      );
    }
  });
  after(async () => {
    await s?.close();
    await azurite?.stop();
    if (previousConnection === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    else process.env.AZURE_STORAGE_CONNECTION_STRING = previousConnection;
  });

  it("creating needs imodels_manage on the iTwin; the container is an Azure container of the hub's account", async () => {
    for (const user of ["reader", "writer", "viewer"])
      await expectStatus(create(user, { iTwinId }), 403, "InsufficientPermissions");
    await expectStatus(create("nobody", { iTwinId }), 403, "InsufficientPermissions");
    const made = await expectStatus(create("manager", { iTwinId }), 201);
    const container = made.body.container;
    assert.match(container.containerId, /^[0-9a-f-]{36}$/);
    assert.equal(container.provider, "azure");
    assert.equal(container.baseUri, azurite.blobEndpoint);
    assert.deepEqual(container.scope, { iTwinId });
    assert.deepEqual(container.metadata, { containerType: "workspace", label: "settings", json: { a: 1 } });
    assert.equal(container.createdBy, "manager");
    assert.equal(await azureContainerExists(container.containerId), true);
    // A chosen id (iTwin.js's tests name theirs) that is taken is refused, and one Azure would refuse is a 422.
    await expectStatus(
      api("manager")("POST", "", {
        scope: { iTwinId },
        metadata: { containerType: "workspace", label: "again" },
        containerId: container.containerId,
      }),
      409,
      "ContainerExists",
    );
    await expectStatus(
      api("manager")("POST", "", {
        scope: { iTwinId },
        metadata: { containerType: "workspace", label: "bad" },
        containerId: "Not_Valid",
      }),
      422,
      "InvalidiModelsRequest",
    );
    // Two creates of one chosen id at once: exactly one gets it, and the container keeps the winner's record.
    const racing = await Promise.all(
      ["one", "two", "three"].map((label) =>
        api("manager")("POST", "", {
          scope: { iTwinId },
          metadata: { containerType: "workspace", label },
          containerId: "raced-container",
        }),
      ),
    );
    assert.deepEqual(racing.map((r) => r.status).sort(), [201, 409, 409], racing.map((r) => r.text).join("\n"));
    const winner = racing.find((r) => r.status === 201)!.body.container.metadata.label;
    assert.equal(
      (await expectStatus(api("manager")("GET", "/raced-container"), 200)).body.container.metadata.label,
      winner,
    );
    await expectStatus(api("manager")("DELETE", "/raced-container"), 204);
    await expectStatus(
      api("manager")("POST", "", { scope: { iTwinId }, metadata: { label: "no type" } }),
      422,
      "InvalidiModelsRequest",
    );
  });

  it("reading needs imodels_read; someone without any permission is told it does not exist; lists show only what one may read", async () => {
    const { containerId } = (await expectStatus(create(OWNER, { iTwinId }, "readable"), 201)).body.container;
    for (const user of [OWNER, "reader", "writer", "manager"])
      assert.equal(
        (await expectStatus(api(user)("GET", `/${containerId}`), 200)).body.container.metadata.label,
        "readable",
      );
    await expectStatus(api("viewer")("GET", `/${containerId}`), 403, "InsufficientPermissions");
    await expectStatus(api("nobody")("GET", `/${containerId}`), 404, "ContainerNotFound");
    await expectStatus(api("reader")("GET", "/no-such-container"), 404, "ContainerNotFound");
    const listed = (user: string, query = "") =>
      api(user)<Json>("GET", `?iTwinId=${iTwinId}${query}`).then((r) =>
        (r.body.containers as Json[]).map((c) => c.metadata.label as string),
      );
    assert.ok((await listed("reader")).includes("readable"));
    assert.deepEqual(await listed("reader", "&label=readable"), ["readable"]);
    assert.deepEqual(await listed("nobody"), []);
    assert.deepEqual(await listed("viewer"), []);
    await expectStatus(api("reader")("GET", ""), 422, "InvalidiModelsRequest");
  });

  it("tokens: read with imodels_read, write with imodels_write, admin with manage; Azurite enforces them per container", async () => {
    const a = (await expectStatus(create(OWNER, { iTwinId }, "a"), 201)).body.container;
    const b = (await expectStatus(create(OWNER, { iTwinId }, "b"), 201)).body.container;
    const token = (user: string, containerId: string, accessLevel?: string) =>
      api(user)<Json>("POST", `/${containerId}/token`, accessLevel ? { accessLevel } : {});
    const read = (await expectStatus(token("reader", a.containerId, "read"), 200)).body;
    assert.equal(read.accessLevel, "read");
    assert.equal(read.provider, "azure");
    assert.equal(read.baseUri, azurite.blobEndpoint);
    assert.deepEqual(read.scope, { iTwinId });
    assert.ok(Date.parse(read.expiration) > Date.now() + 30 * 60_000, read.expiration);
    await expectStatus(token("reader", a.containerId, "write"), 403, "InsufficientPermissions");
    await expectStatus(token("writer", a.containerId, "admin"), 403, "InsufficientPermissions");
    await expectStatus(token("viewer", a.containerId, "read"), 403, "InsufficientPermissions");
    await expectStatus(token("nobody", a.containerId, "read"), 404, "ContainerNotFound");
    // writeIfPossible (iTwin.js's default): write when one may, read otherwise.
    assert.equal((await expectStatus(token("reader", a.containerId), 200)).body.accessLevel, "read");
    const write = (await expectStatus(token("writer", a.containerId), 200)).body;
    assert.equal(write.accessLevel, "write");
    assert.equal((await expectStatus(token("manager", a.containerId, "admin"), 200)).body.accessLevel, "write");

    const blobUrl = (containerId: string, name: string, sas: string) =>
      `${azurite.blobEndpoint}/${containerId}/${name}?${sas}`;
    const put = (url: string) =>
      fetch(url, {
        method: "PUT",
        headers: { "x-ms-blob-type": "BlockBlob", "content-type": "application/octet-stream" },
        body: "block bytes",
      });
    assert.equal((await put(blobUrl(a.containerId, "block-1", write.token))).status, 201);
    assert.equal((await put(blobUrl(a.containerId, "block-2", read.token))).status, 403, "a read token cannot write");
    const got = await fetch(blobUrl(a.containerId, "block-1", read.token));
    assert.equal(got.status, 200);
    assert.equal(await got.text(), "block bytes");
    assert.equal(
      (await fetch(`${azurite.blobEndpoint}/${a.containerId}?restype=container&comp=list&${read.token}`)).status,
      200,
      "a read token lists",
    );
    assert.equal(
      (await put(blobUrl(b.containerId, "block-1", write.token))).status,
      403,
      "one container's token opens no other",
    );
    assert.equal((await fetch(blobUrl("hub-files", "files/x", write.token))).status, 403, "nor the hub's own files");
  });

  it("updating the json and deleting need imodels_manage; deleting removes the Azure container", async () => {
    const { containerId } = (await expectStatus(create(OWNER, { iTwinId }, "doomed"), 201)).body.container;
    await expectStatus(api("writer")("PATCH", `/${containerId}`, { json: { b: 2 } }), 403, "InsufficientPermissions");
    assert.deepEqual(
      (await expectStatus(api("manager")("PATCH", `/${containerId}`, { json: { b: 2 } }), 200)).body.container.metadata
        .json,
      { b: 2 },
    );
    assert.deepEqual((await expectStatus(api("reader")("GET", `/${containerId}`), 200)).body.container.metadata.json, {
      b: 2,
    });
    await expectStatus(api("writer")("DELETE", `/${containerId}`), 403, "InsufficientPermissions");
    await expectStatus(api("manager")("DELETE", `/${containerId}`), 204);
    await expectStatus(api("manager")("GET", `/${containerId}`), 404, "ContainerNotFound");
    assert.equal(await azureContainerExists(containerId), false);
  });

  it("a container scoped to an iModel goes with the iModel, an iTwin's containers with the iTwin", async () => {
    const iModel = (
      await expectStatus(
        s.as(OWNER).api<Json>("POST", "", { body: { iTwinId, name: "with containers", baselineFile: { size: 1000 } } }),
        201,
      )
    ).body.iModel;
    const ofIModel = (await expectStatus(create(OWNER, { iTwinId, iModelId: iModel.id }, "schemasync"), 201)).body
      .container;
    assert.deepEqual(ofIModel.scope, { iTwinId, iModelId: iModel.id });
    // An iModel named with an iTwin it is not in: not found there.
    await expectStatus(
      create(OWNER, { iTwinId: "00000000-0000-4000-8000-00000000beef", iModelId: iModel.id }),
      404,
      "iModelNotFound",
    );
    await expectStatus(s.as(OWNER).api("DELETE", `/${iModel.id}`), 204);
    await eventually(
      async () => ((await azureContainerExists(ofIModel.containerId)) ? undefined : true),
      10_000,
      "the iModel's container deleted",
    );
    await expectStatus(api(OWNER)("GET", `/${ofIModel.containerId}`), 404, "ContainerNotFound");

    const other = (
      await expectStatus(
        s.as(OWNER).api<Json>("POST", `${s.hub.url}/itwins`, { body: { displayName: "Short-lived" } }),
        201,
      )
    ).body.iTwin.id as string;
    const ofITwin = (await expectStatus(create(OWNER, { iTwinId: other }, "team settings"), 201)).body.container;
    await expectStatus(s.as(OWNER).api("DELETE", `${s.hub.url}/itwins/${other}`), 204);
    await eventually(
      async () => ((await azureContainerExists(ofITwin.containerId)) ? undefined : true),
      10_000,
      "the iTwin's container deleted",
    );
    await expectStatus(api(OWNER)("GET", `/${ofITwin.containerId}`), 404, "ContainerNotFound");
    // Nothing else went: the first iTwin's containers are all still there.
    const left = (await expectStatus(api(OWNER)<Json>("GET", `?iTwinId=${iTwinId}`), 200)).body.containers as Json[];
    assert.ok(left.length >= 3, JSON.stringify(left));
    for (const c of left) assert.equal(await azureContainerExists(c.containerId), true, c.containerId);
  });
});
