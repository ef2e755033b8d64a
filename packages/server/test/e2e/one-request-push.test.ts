// A push in one request (POST /imodels/{id}/changesets/push, issue 23) on both blob stores: the hub stores the very
// bytes it received where the changeset keeps them (on Azure with one Put Blob: no upload blob, no copy), checks their
// id once, and follows the three-step push's rules (a repeated push, another briefcase's push in flight, a file that
// is not its changeset, a reservation made by a create).
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { IncomingMessage } from "node:http";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BlobServiceClient } from "@azure/storage-blob";
import type { ChangesetFileProps } from "@itwin/core-common";
import { ModelHubAccess } from "@modelhub/backend-access";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile } from "@modelhub/test-support/flows.js";
import { blobKeys } from "../../src/domain/blob-keys.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";
import { countingIdComputations } from "../support/id-computations.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Changeset = { id: string; parentId: string; pathname: string };

const CONTAINER = `one-request-push-${process.pid}`;

/** A push in one request of `cs` to `hub` as alice. */
async function push(hub: TestHub, iModelId: string, briefcaseId: number, cs: Changeset) {
  const bytes = await readFile(cs.pathname);
  const properties = { id: cs.id, parentId: cs.parentId, briefcaseId, containingChanges: 0, fileSize: bytes.length };
  return hub.api<Json>("POST", `/${iModelId}/changesets/push`, {
    rawBody: bytes,
    headers: {
      "content-type": "application/octet-stream",
      "x-modelhub-changeset": Buffer.from(JSON.stringify(properties)).toString("base64url"),
    },
  });
}

describe("a push in one request", () => {
  let azurite: Azurite;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  before(async () => {
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 4);
    azurite = await startAzurite();
    process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
  });
  after(async () => {
    await azurite?.stop();
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
  });

  it("holds an upload slot while its body arrives: past --max-uploads-per-user the user's next push is 429, not buffered", async () => {
    const hub = await startTestHub({ maxUploads: 4, maxUploadsPerUser: 1 });
    try {
      const iModelId = (await createIModelFromFile(hub, fixture.version0Path)).id as string;
      const briefcaseId = await acquireBriefcase(hub, iModelId);
      const cs = fixture.changesets[0]!;
      const bytes = await readFile(cs.pathname);
      const properties = Buffer.from(
        JSON.stringify({ id: cs.id, parentId: cs.parentId, briefcaseId, containingChanges: 0, fileSize: bytes.length }),
      ).toString("base64url");
      const headers = {
        authorization: "Bearer alice",
        accept: "application/vnd.bentley.itwin-platform.v2+json",
        "content-type": "application/octet-stream",
        "x-modelhub-changeset": properties,
        "content-length": String(bytes.length),
      };
      // A push whose body has not all arrived yet: its slot is taken.
      const url = new URL(`${hub.baseUrl}/${iModelId}/changesets/push`);
      const slow = request(url, { method: "POST", headers });
      const slowAnswer = new Promise<IncomingMessage>((resolve) => slow.once("response", resolve));
      slow.write(bytes.subarray(0, 10));
      // Probes that would be refused 422 (their properties are not a changeset's) once the slot is free: until the
      // slow push has taken it, then 429 before their bodies are read.
      const probe = () =>
        hub.api<Json>("POST", `/${iModelId}/changesets/push`, {
          rawBody: bytes,
          headers: { "content-type": "application/octet-stream", "x-modelhub-changeset": "e30" },
        });
      const refused = await eventually(
        async () => {
          const next = await probe();
          assert.ok(next.status === 422 || next.status === 429, next.text);
          return next.status === 429 ? next : undefined;
        },
        5000,
        "a push refused while another one's body arrives",
      );
      assert.equal(refused.body.error.code, "TooManyRequests");
      assert.match(refused.body.error.message, /--max-uploads-per-user/);
      assert.equal(refused.headers.get("retry-after"), "1");
      // The first push's body ends: it lands, and the slot is free again.
      slow.end(bytes.subarray(10));
      const first = await slowAnswer;
      assert.equal(first.statusCode, 201);
      first.resume();
      const second = await push(hub, iModelId, briefcaseId, fixture.changesets[1]!);
      assert.equal(second.status, 201, second.text);
    } finally {
      await hub.close();
    }
  });

  it("--no-push-in-one-request: the route is unknown, and @modelhub/backend-access pushes in three requests", async () => {
    const hub = await startTestHub({ pushInOneRequest: false });
    const access = new ModelHubAccess({
      baseUrl: hub.url,
      accessToken: "Bearer alice",
      installCheckpointDownload: false,
    });
    try {
      const iModelId = (await createIModelFromFile(hub, fixture.version0Path)).id as string;
      const briefcaseId = await acquireBriefcase(hub, iModelId);
      const refused = await push(hub, iModelId, briefcaseId, fixture.changesets[0]!);
      assert.equal(refused.status, 404, refused.text);
      assert.equal(refused.body.error.code, "NotFound");
      const cs = fixture.changesets[0]!;
      const props = { ...cs, index: 0, briefcaseId, pushDate: "", userCreated: "" } as ChangesetFileProps;
      assert.equal(await access.pushChangeset({ iModelId, changesetProps: props, accessToken: "Bearer alice" }), 1);
      const pushed = await hub.api<Json>("GET", `/${iModelId}/changesets/1`);
      assert.equal(pushed.body.changeset.id, cs.id);
    } finally {
      access.dispose();
      await hub.close();
    }
  });

  for (const store of ["fs", "azure"] as const) {
    describe(`on ${store} blobs`, () => {
      let hub: TestHub;
      let iModelId: string;
      let briefcaseId: number;
      before(async () => {
        hub = await startTestHub(store === "azure" ? { blobs: { kind: "azure", container: CONTAINER } } : {});
        iModelId = (await createIModelFromFile(hub, fixture.version0Path)).id as string;
        briefcaseId = await acquireBriefcase(hub, iModelId);
      });
      after(() => hub?.close());

      const propertiesOf = async (cs: Changeset, overrides: Json = {}) => ({
        id: cs.id,
        parentId: cs.parentId,
        briefcaseId,
        description: "one request",
        containingChanges: 0,
        fileSize: (await stat(cs.pathname)).size,
        ...overrides,
      });
      const push = async (cs: Changeset, bytes?: Buffer, overrides: Json = {}) =>
        hub.api<Json>("POST", `/${iModelId}/changesets/push`, {
          rawBody: bytes ?? (await readFile(cs.pathname)),
          headers: {
            "content-type": "application/octet-stream",
            "x-modelhub-changeset": Buffer.from(JSON.stringify(await propertiesOf(cs, overrides))).toString(
              "base64url",
            ),
          },
        });
      /** The bytes kept under the changeset's key, and whether anything sits under its upload key. */
      const stored = async (id: string): Promise<{ kept: Buffer | undefined; upload: boolean; copied: boolean }> => {
        const key = blobKeys.changeset(iModelId, id);
        const uploadKey = blobKeys.changesetUpload(iModelId, id, briefcaseId);
        if (store === "fs") {
          const at = (k: string) => join(hub.dataDir, "blobs", k);
          const kept = await readFile(at(key)).catch(() => undefined);
          const upload = await stat(at(uploadKey)).then(
            () => true,
            () => false,
          );
          return { kept, upload, copied: false };
        }
        const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
          CONTAINER,
        );
        const blob = container.getBlockBlobClient(key);
        const exists = await blob.exists();
        return {
          kept: exists ? await blob.downloadToBuffer() : undefined,
          upload: await container.getBlockBlobClient(uploadKey).exists(),
          // A server-side copy leaves its trace on the blob (x-ms-copy-id); the hub's own Put Blob leaves none.
          copied: exists && (await blob.getProperties()).copyId !== undefined,
        };
      };

      it("stores the bytes it received under the changeset's key, computes the id once, and answers the completed changeset", async () => {
        const cs = fixture.changesets[0]!;
        const { result, computed } = await countingIdComputations(hub.server.worker, () => push(cs));
        assert.equal(result.status, 201, result.text);
        assert.equal(result.body.changeset.state, "fileUploaded");
        assert.equal(result.body.changeset.index, 1);
        assert.equal(computed, 1);
        assert.deepEqual(await stored(cs.id), { kept: await readFile(cs.pathname), upload: false, copied: false });
        const read = await hub.api<Json>("GET", `/${iModelId}/changesets/1`);
        assert.equal(read.body.changeset.id, cs.id);
        // Sent again (its answer lost): the changeset is complete, as a repeated create says.
        const again = await push(cs);
        assert.equal(again.status, 409, again.text);
        assert.equal(again.body.error.code, "ChangesetExists");
      });

      it("refuses a file that is not its changeset and keeps nothing under that id; the right file then lands", async () => {
        const cs = fixture.changesets[1]!;
        const damaged = await readFile(cs.pathname);
        damaged.fill(0, damaged.length >> 1);
        const refused = await push(cs, damaged);
        assert.equal(refused.status, 422, refused.text);
        assert.equal(refused.body.error.details[0].code, "InvalidChange");
        assert.equal((await stored(cs.id)).kept, undefined);
        const done = await push(cs);
        assert.equal(done.status, 200, done.text); // its reservation was made by the refused try
        assert.equal(done.body.changeset.index, 2);
        assert.deepEqual((await stored(cs.id)).kept, await readFile(cs.pathname));
      });

      it("waits its turn behind another briefcase's push in flight, and completes a reservation a create made", async () => {
        const cs = fixture.changesets[2]!;
        const other = await acquireBriefcase(hub, iModelId);
        const reserved = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
          body: await propertiesOf(cs, { briefcaseId: other }),
        });
        assert.equal(reserved.status, 201, reserved.text);
        const blocked = await push(cs);
        assert.equal(blocked.status, 409, blocked.text);
        assert.equal(blocked.body.error.code, "ConflictWithAnotherUser");
        // The other briefcase (same user) finishes its push in one request: its own reservation is taken over.
        const done = await push(cs, undefined, { briefcaseId: other });
        assert.equal(done.status, 200, done.text);
        assert.equal(done.body.changeset.briefcaseId, other);
        assert.equal(done.body.changeset.index, 3);
        assert.equal((await stored(cs.id)).copied, false);
      });
    });
  }
});
