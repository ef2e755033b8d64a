// storage/storage-routes.ts inside the whole app, through inject: the signed link is the only authorization.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { ITWIN, injectHub } from "../support/inject-hub.js";

describe("storage routes in the app", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("takes a baseline upload through the link the API handed out, and refuses a forged one in Azure's shape", async () => {
    const made = await h.call("POST", "/imodels", {
      body: { iTwinId: ITWIN, name: "with baseline", baselineFile: { size: 4 } },
    });
    assert.equal(made.status, 201, made.text);
    const upload = new URL(made.body.iModel._links.upload.href as string);
    const put = await h.app.inject({
      method: "PUT",
      url: `${upload.pathname}${upload.search}`,
      headers: { host: "127.0.0.1", "x-ms-blob-type": "BlockBlob" },
      payload: "abcd",
    });
    assert.equal(put.statusCode, 201, put.body);
    const forged = await h.app.inject({
      method: "PUT",
      url: `${upload.pathname}?sig=forged`,
      headers: { host: "127.0.0.1" },
      payload: "abcd",
    });
    assert.equal(forged.statusCode, 403);
    assert.equal(forged.headers["x-ms-error-code"], "AuthenticationFailed");
    assert.match(forged.body, /<Code>AuthenticationFailed<\/Code>/);
    const log = await h.call("GET", `/imodels/${made.body.iModel.id}/auditlog?action=storage.upload`);
    assert.deepEqual(
      log.body.auditEntries.map((e: { status: number }) => e.status),
      [201, 403],
    );
  });
});
