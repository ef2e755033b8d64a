// routes/thumbnails.ts through inject: image bodies accepted here only.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { injectHub } from "../support/inject-hub.js";

describe("routes/thumbnails.ts", () => {
  let h: InjectHub;
  let id: string;
  before(async () => {
    h = await injectHub();
    id = await h.createIModel();
  });
  after(() => h.close());

  it("serves the default PNG, refuses bytes that are no image and bodies of other types", async () => {
    const image = await h.app.inject({
      method: "GET",
      url: `/imodels/${id}/thumbnail`,
      headers: { host: "127.0.0.1", authorization: "Bearer alice" },
    });
    assert.equal(image.statusCode, 200);
    assert.equal(image.headers["content-type"], "image/png");
    assert.deepEqual([...image.rawPayload.subarray(1, 4)], [...Buffer.from("PNG")]);
    const notImage = await h.call("PUT", `/imodels/${id}/thumbnail`, {
      rawBody: "abc",
      headers: { "content-type": "image/png" },
    });
    assert.equal(notImage.status, 422);
    assert.equal(notImage.body.error.code, "InvalidThumbnailFormat");
    const text = await h.call("PUT", `/imodels/${id}/thumbnail`, {
      rawBody: "abc",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(text.status, 415);
  });
});
