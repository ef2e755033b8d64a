// Direct links (blob SAS) of the Azure store, used the way clients use them, against Azurite: what each link allows
// and what it refuses.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { BlockBlobClient } from "@azure/storage-blob";
import { AzureBlobStore } from "../../src/adapters/blob/azure-blob-store.js";
import { FsBlobStore } from "../../src/adapters/blob/fs-blob-store.js";
import { blobKeys } from "../../src/domain/blob-keys.js";
import { directStorageLinks } from "../../src/http/storage/direct-links.js";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";

const iModelId = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
const changesetId = "a".repeat(40);

describe("direct storage links (Azure SAS)", () => {
  let azurite: Azurite;
  let store: AzureBlobStore;
  before(async () => {
    azurite = await startAzurite();
    store = await AzureBlobStore.open(azurite.connectionString, "links");
  });
  after(() => azurite.stop());

  it("a download link reads its blob (ranges too) and nothing else; it cannot write", async () => {
    const data = randomBytes(3000);
    const key = blobKeys.changeset(iModelId, changesetId);
    await store.put(key, Readable.from([data]));
    const links = directStorageLinks(store, 60)!;
    const { href, storageType } = links.download(key);
    assert.equal(storageType, "azure");
    assert.ok(href.startsWith(`${azurite.blobEndpoint}/links/files/${iModelId}/changesets/`), href);
    const read = await fetch(href);
    assert.equal(read.status, 200);
    assert.deepEqual(Buffer.from(await read.arrayBuffer()), data);
    const ranged = await fetch(href, { headers: { range: "bytes=10-19" } });
    assert.equal(ranged.status, 206);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), data.subarray(10, 20));
    const write = await fetch(href, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "overwritten" });
    assert.equal(write.status, 403);
    await write.arrayBuffer();
    // The signature is for this one blob: the same query on another blob's URL is refused.
    const other = await fetch(href.replace(`${changesetId}.cs`, `${"b".repeat(40)}.cs`));
    assert.equal(other.status, 403);
    await other.arrayBuffer();
    const kept = await store.get(key);
    assert.deepEqual(Buffer.concat(await kept!.stream.toArray()), data);
  });

  it("an upload link takes the Azure SDK's block upload (stage + commit) and a plain Put Blob, but cannot read, or write elsewhere", async () => {
    const key = blobKeys.changesetUpload(iModelId, changesetId, 2);
    const { href } = directStorageLinks(store, 60)!.upload(key);
    const data = randomBytes(5 * 1024 * 1024 + 7);
    // Blocks of 1 MiB in parallel, as the official clients' Azure storage does for larger files.
    await new BlockBlobClient(href).uploadData(data, {
      blockSize: 1024 * 1024,
      maxSingleShotSize: 1024 * 1024,
      concurrency: 4,
    });
    const stored = await store.get(key);
    assert.deepEqual(Buffer.concat(await stored!.stream.toArray()), data);
    const put = await fetch(href, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob", "content-type": "application/octet-stream" },
      body: "again",
    });
    assert.equal(put.status, 201);
    await put.arrayBuffer();
    assert.equal((await store.stat(key))?.size, 5);
    const read = await fetch(href);
    assert.equal(read.status, 403, "a write link grants no read");
    await read.arrayBuffer();
    const finalKeyUrl = href.replace(`/uploads/${changesetId}.2.cs`, `/changesets/${changesetId}.cs`);
    const elsewhere = await fetch(finalKeyUrl, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob" },
      body: "forged",
    });
    assert.equal(elsewhere.status, 403, "the link names one blob only");
    await elsewhere.arrayBuffer();
    const remove = await fetch(href, { method: "DELETE" });
    assert.equal(remove.status, 403, "a write link grants no delete");
    await remove.arrayBuffer();
  });

  it("write links are only ever made for upload keys", () => {
    const links = directStorageLinks(store, 60)!;
    assert.ok(links.upload(blobKeys.baselineUpload(iModelId)).href.includes("/baseline/upload.bim?"));
    for (const key of [
      blobKeys.changeset(iModelId, changesetId),
      blobKeys.baselineReceived(iModelId),
      blobKeys.checkpoint(iModelId, 3, "x1"),
      "files/anything",
    ]) {
      assert.throws(() => links.upload(key), /only upload keys/, key);
    }
  });

  it("an expired link is refused", async () => {
    const key = "files/expired/x.bin";
    await store.put(key, Readable.from([Buffer.from("x")]));
    const response = await fetch(store.directLink(key, "r", new Date(Date.now() - 60_000)));
    assert.equal(response.status, 403);
    await response.arrayBuffer();
  });

  it("the fs store has no direct links: the hub's own /storage links stay", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-links-"));
    try {
      assert.equal(directStorageLinks(new FsBlobStore(dir), 60), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
