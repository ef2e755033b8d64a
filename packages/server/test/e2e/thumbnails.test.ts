// iModel thumbnails through the official management client 6.0.2 (`thumbnails.download` / `upload`) against a real
// hub: the default PNG of each size, PNG and JPEG uploads (kept byte for byte), the cloud's error for anything else,
// and that housekeeping keeps an uploaded thumbnail for as long as its iModel exists.
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type * as ManagementTypes from "@itwin/imodels-client-management";
import { openSqliteMetadataStore } from "../../src/adapters/sqlite/sqlite-metadata-store.js";
import { blobKeys } from "../../src/domain/blob-keys.js";
import { whyUnreferenced } from "../../src/domain/maintenance/blob-references.js";
import type { TestHub } from "../support/hub.js";
import { ACCEPT, eventually, startTestHub } from "../support/hub.js";

const require = createRequire(import.meta.url);
const management = require("@itwin/imodels-client-management") as typeof ManagementTypes;

const auth = (user: string) => async () => ({ scheme: "Bearer", token: user });
const iTwinId = "0b9e4a57-3f0e-4d6a-9a59-2c6f7e1d4b21";
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk (bytes 16-23). */
function pngSize(image: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(image);
  assert.ok(b.subarray(0, 8).equals(PNG_SIGNATURE), "a PNG");
  assert.equal(b.subarray(12, 16).toString("latin1"), "IHDR");
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** A real (tiny) PNG and a JPEG-signed blob: the hub checks signatures, it never decodes images. */
const userPng = Buffer.concat([
  PNG_SIGNATURE,
  Buffer.from("0000000d49484452000000020000000208020000", "hex"),
  Buffer.from("user png"),
]);
const userJpeg = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.from("JFIF user jpeg"),
  Buffer.from([0xff, 0xd9]),
]);

describe("iModel thumbnails with the official client", () => {
  let hub: TestHub;
  let client: ManagementTypes.IModelsClient;
  let iModelId: string;

  const rawGet = (path: string) =>
    fetch(`${hub.baseUrl}${path}`, { headers: { authorization: "Bearer alice", accept: ACCEPT } });
  const rawPut = (path: string, body: Buffer, contentType: string) =>
    fetch(`${hub.baseUrl}${path}`, {
      method: "PUT",
      headers: { authorization: "Bearer alice", accept: ACCEPT, "content-type": contentType },
      body,
    });

  before(async () => {
    hub = await startTestHub();
    client = new management.IModelsClient({ api: { baseUrl: hub.baseUrl } });
    const created = await hub.api<{ iModel: { id: string } }>("POST", "", {
      body: { iTwinId, name: "with a thumbnail", baselineFile: { size: 1000 } },
    });
    assert.equal(created.status, 201, created.text);
    iModelId = created.body.iModel.id;
  });
  after(() => hub?.close());

  it("an iModel without an uploaded thumbnail has the default PNG, 400×250 small and 800×500 large", async () => {
    const small = await client.thumbnails.download({ authorization: auth("alice"), iModelId });
    assert.equal(small.size, management.ThumbnailSize.Small);
    assert.equal(small.imageType, management.ContentType.Png);
    assert.deepEqual(pngSize(small.image), { width: 400, height: 250 });
    const large = await client.thumbnails.download({
      authorization: auth("alice"),
      iModelId,
      urlParams: { size: management.ThumbnailSize.Large },
    });
    assert.equal(large.size, management.ThumbnailSize.Large);
    assert.deepEqual(pngSize(large.image), { width: 800, height: 500 });

    const raw = await rawGet(`/${iModelId}/thumbnail`); // no size: small, as in the cloud
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get("content-type"), "image/png");
    assert.deepEqual(Buffer.from(await raw.arrayBuffer()), Buffer.from(small.image));
  });

  it("a PNG uploaded with the client comes back byte for byte, for both sizes", async () => {
    await client.thumbnails.upload({
      authorization: auth("alice"),
      iModelId,
      thumbnailProperties: { imageType: management.ContentType.Png, image: userPng },
    });
    for (const size of [management.ThumbnailSize.Small, management.ThumbnailSize.Large]) {
      const got = await client.thumbnails.download({ authorization: auth("alice"), iModelId, urlParams: { size } });
      assert.deepEqual(Buffer.from(got.image), userPng, size);
    }
    const put = await rawPut(`/${iModelId}/thumbnail`, userPng, "image/png");
    assert.equal(put.status, 201);
    assert.equal(await put.text(), "");
  });

  it("a JPEG replaces it and is served as image/jpeg (modelhub does not convert it to PNG)", async () => {
    await client.thumbnails.upload({
      authorization: auth("alice"),
      iModelId,
      thumbnailProperties: { imageType: management.ContentType.Jpeg, image: userJpeg },
    });
    const got = await client.thumbnails.download({ authorization: auth("alice"), iModelId });
    assert.deepEqual(Buffer.from(got.image), userJpeg);
    const raw = await rawGet(`/${iModelId}/thumbnail?size=large`);
    assert.equal(raw.headers.get("content-type"), "image/jpeg");
    assert.equal(raw.headers.get("content-length"), String(userJpeg.length));
  });

  it("bytes that are neither PNG nor JPEG are InvalidThumbnailFormat (422), whatever the Content-Type; the thumbnail stays", async () => {
    const gif = Buffer.from("GIF89a\u0001\u0000\u0001\u0000", "latin1");
    await assert.rejects(
      client.thumbnails.upload({
        authorization: auth("alice"),
        iModelId,
        thumbnailProperties: { imageType: management.ContentType.Png, image: gif },
      }),
      (err: ManagementTypes.IModelsError) => {
        assert.equal(err.code, management.IModelsErrorCode.InvalidThumbnailFormat);
        assert.equal(err.statusCode, 422);
        return true;
      },
    );
    const empty = await rawPut(`/${iModelId}/thumbnail`, Buffer.alloc(0), "image/jpeg");
    assert.equal(empty.status, 422);
    assert.equal(((await empty.json()) as { error: { code: string } }).error.code, "InvalidThumbnailFormat");
    const got = await client.thumbnails.download({ authorization: auth("alice"), iModelId });
    assert.deepEqual(Buffer.from(got.image), userJpeg, "the previous thumbnail is kept");
  });

  it("other media types are 415, more than 5 MB is 413, a bad size is 422 InvalidValue, an unknown iModel is iModelNotFound", async () => {
    const gif = await rawPut(`/${iModelId}/thumbnail`, Buffer.from("GIF89a"), "image/gif");
    assert.equal(gif.status, 415);
    const big = await rawPut(
      `/${iModelId}/thumbnail`,
      Buffer.concat([PNG_SIGNATURE, Buffer.alloc(5 * 1024 * 1024)]),
      "image/png",
    );
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, "RequestTooLarge");
    const size = await rawGet(`/${iModelId}/thumbnail?size=huge`);
    assert.equal(size.status, 422);
    const body = (await size.json()) as { error: { code: string; details: { code: string; target: string }[] } };
    assert.equal(body.error.code, "InvalidiModelsRequest");
    assert.deepEqual(
      body.error.details.map((d) => [d.code, d.target]),
      [["InvalidValue", "size"]],
    );
    // The client asks for an arraybuffer and does not parse error bodies of binary downloads: it reports
    // `Unrecognized` with the status (the same happens against the cloud). The body is the usual JSON error.
    await assert.rejects(
      client.thumbnails.download({ authorization: auth("alice"), iModelId: "00000000-0000-4000-8000-000000000000" }),
      (err: ManagementTypes.IModelsError) =>
        err.code === management.IModelsErrorCode.Unrecognized && err.statusCode === 404,
    );
    const missing = await rawGet("/00000000-0000-4000-8000-000000000000/thumbnail");
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "iModelNotFound");
  });

  it("housekeeping keeps the thumbnail while the iModel exists and deletes it with the iModel", async () => {
    const file = join(hub.dataDir, "blobs", blobKeys.thumbnail(iModelId));
    assert.ok((await stat(file)).size > 0);
    const store = await openSqliteMetadataStore(join(hub.dataDir, "metadata.db"));
    try {
      assert.equal(await store.read((tx) => whyUnreferenced(tx, blobKeys.thumbnail(iModelId))), undefined);
      assert.equal((await hub.api("DELETE", `/${iModelId}`)).status, 204);
      assert.equal(
        await store.read((tx) => whyUnreferenced(tx, blobKeys.thumbnail(iModelId))),
        "its iModel does not exist",
      );
    } finally {
      await store.close();
    }
    await eventually(
      async () => ((await stat(file).catch(() => undefined)) ? undefined : true),
      30_000,
      "the thumbnail file deleted with its iModel",
    );
  });
});
