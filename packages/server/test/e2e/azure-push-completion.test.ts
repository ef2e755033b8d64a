// A push's completion with `--blobs azure:` (issue 23): the hub reads the upload once, writes those bytes to the
// changeset's key itself and checks the id of the same bytes — no server-side copy to wait for, no second download —
// and still keeps only what it verified, whatever the upload link writes later.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ContainerClient } from "@azure/storage-blob";
import { BlobServiceClient } from "@azure/storage-blob";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, putFile } from "@modelhub/test-support/flows.js";
import { blobKeys } from "../../src/domain/blob-keys.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";
import { countingIdComputations } from "../support/id-computations.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Changeset = { id: string; parentId: string; pathname: string };

const CONTAINER = `push-completion-${process.pid}`;

describe("Azure blobs: a push's completion", () => {
  let azurite: Azurite;
  let hub: TestHub;
  let container: ContainerClient;
  let work: string;
  let fixture: Awaited<ReturnType<typeof makeChangesets>>;
  let iModelId: string;
  let briefcaseId: number;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-azure-completion-"));
    fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), 4);
    azurite = await startAzurite();
    process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
    hub = await startTestHub({ blobs: { kind: "azure", container: CONTAINER } });
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CONTAINER);
    iModelId = (await createIModelFromFile(hub, fixture.version0Path)).id as string;
    briefcaseId = await acquireBriefcase(hub, iModelId);
  });
  after(async () => {
    await hub?.close();
    await azurite?.stop();
    delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    await rm(work, { recursive: true, force: true });
  });

  const create = async (cs: Changeset, fileSize?: number) => {
    const created = await hub.api<Json>("POST", `/${iModelId}/changesets`, {
      body: {
        id: cs.id,
        parentId: cs.parentId,
        briefcaseId,
        description: "d",
        containingChanges: 0,
        fileSize: fileSize ?? (await stat(cs.pathname)).size,
      },
    });
    assert.ok(created.status === 201 || created.status === 200, created.text);
    return created.body.changeset._links.upload.href as string;
  };
  const complete = (id: string) =>
    hub.api<Json>("PATCH", `/${iModelId}/changesets/${id}`, { body: { state: "fileUploaded", briefcaseId } });
  const kept = async (id: string): Promise<Buffer | undefined> => {
    const blob = container.getBlockBlobClient(blobKeys.changeset(iModelId, id));
    return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
  };
  const upload = (id: string) => container.getBlockBlobClient(blobKeys.changesetUpload(iModelId, id, briefcaseId));
  /** A file of `bytes` in the work folder. */
  const file = async (name: string, bytes: Buffer) => {
    const path = join(work, name);
    await writeFile(path, bytes);
    return path;
  };

  it("keeps the uploaded bytes, written by the hub (no Copy Blob), computes the id once, then drops the upload; the link writing later changes nothing kept", async () => {
    const cs = fixture.changesets[0]!;
    const href = await create(cs);
    assert.equal((await putFile(href, cs.pathname)).status, 201);
    const { result: done, computed } = await countingIdComputations(hub.server.worker, () => complete(cs.id));
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.changeset.state, "fileUploaded");
    assert.equal(computed, 1);
    const bytes = await readFile(cs.pathname);
    assert.deepEqual(await kept(cs.id), bytes);
    // A server-side copy leaves its trace on the blob (x-ms-copy-id); the hub's own Put Blob leaves none.
    const props = await container.getBlockBlobClient(blobKeys.changeset(iModelId, cs.id)).getProperties();
    assert.equal(props.copyId, undefined);
    // Deleted after the answer, without holding it up.
    await eventually(async () => ((await upload(cs.id).exists()) ? undefined : true), 10_000, "the upload's deletion");
    // The upload link is a SAS that cannot be taken back: writing it again reaches only the upload key.
    const damaged = Buffer.from(bytes);
    damaged.fill(0, damaged.length >> 1);
    assert.equal((await putFile(href, await file("late.cs", damaged))).status, 201);
    assert.deepEqual(await kept(cs.id), bytes);
    const again = await complete(cs.id);
    assert.equal(again.status, 200);
    assert.deepEqual(await kept(cs.id), bytes);
  });

  it("an upload smaller or larger than declared is a DataConflict at completion and nothing is kept; the right file then completes", async () => {
    const cs = fixture.changesets[1]!;
    const bytes = await readFile(cs.pathname);
    const href = await create(cs);
    // A SAS link cannot refuse a larger body: the completion does, without copying it.
    for (const [name, wrong] of [
      ["short.cs", bytes.subarray(0, bytes.length - 10)],
      ["long.cs", Buffer.concat([bytes, Buffer.alloc(10)])],
    ] as const) {
      assert.equal((await putFile(href, await file(name, wrong))).status, 201);
      const r = await complete(cs.id);
      assert.equal(r.status, 409, r.text);
      assert.equal(r.body.error.code, "DataConflict");
      assert.match(r.body.error.message, new RegExp(`declared ${bytes.length} bytes, uploaded ${wrong.length} bytes`));
      assert.equal(await kept(cs.id), undefined);
    }
    assert.equal((await putFile(href, cs.pathname)).status, 201);
    const done = await complete(cs.id);
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(await kept(cs.id), bytes);
  });

  it("a file that does not match its changeset id is refused and nothing is kept under that id", async () => {
    const cs = fixture.changesets[2]!;
    const fakeId = "cd".repeat(20);
    const href = await create({ ...cs, id: fakeId });
    assert.equal((await putFile(href, cs.pathname)).status, 201);
    const r = await complete(fakeId);
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.details[0].code, "InvalidChange");
    assert.match(r.body.error.details[0].message, /does not match the Changeset id/);
    assert.equal(await kept(fakeId), undefined);
    // The same briefcase's real push replaces the refused reservation.
    assert.equal((await putFile(await create(cs), cs.pathname)).status, 201);
    assert.equal((await complete(cs.id)).status, 200);
  });

  it("a completion interrupted after the copy (upload gone, copy kept) checks the copy: a damaged one is refused, a good one completes", async () => {
    const cs = fixture.changesets[3]!;
    const bytes = await readFile(cs.pathname);
    const href = await create(cs);
    const frozen = container.getBlockBlobClient(blobKeys.changeset(iModelId, cs.id));
    const damaged = Buffer.from(bytes);
    damaged.fill(0, damaged.length >> 1);
    await frozen.upload(damaged, damaged.length);
    assert.equal(await upload(cs.id).exists(), false);
    const refused = await complete(cs.id);
    assert.equal(refused.status, 422, refused.text);
    assert.equal(await kept(cs.id), undefined);
    await frozen.upload(bytes, bytes.length);
    const done = await complete(cs.id);
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(await kept(cs.id), bytes);
    assert.equal((await putFile(href, cs.pathname)).status, 201); // the link still writes its upload key only
    assert.deepEqual(await kept(cs.id), bytes);
  });
});
