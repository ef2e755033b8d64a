// routes/changed-elements.ts through inject: the Changed Elements API v2 paths' rules and errors (their answers from
// real pushes: backend-access/test/changes.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { InjectHub } from "../support/inject-hub.js";
import { ITWIN, injectHub } from "../support/inject-hub.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("routes/changed-elements.ts", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("refuses a job without its fields, of an unknown iModel or changeset, in the API's error shape", async () => {
    const id = await h.createIModel();
    const expected: [unknown, number, string][] = [
      [{}, 422, "InvalidiModelsRequest"],
      [{ iTwinId: ITWIN, iModelId: id, startChangesetId: A }, 422, "InvalidiModelsRequest"],
      [{ iTwinId: ITWIN, iModelId: id, startChangesetId: A, endChangesetId: B }, 404, "ChangesetNotFound"],
      [{ iTwinId: ITWIN, iModelId: id, startChangesetId: "x", endChangesetId: B }, 404, "ChangesetNotFound"],
      [
        { iTwinId: ITWIN, iModelId: "00000000-0000-4000-8000-000000000000", startChangesetId: A, endChangesetId: B },
        404,
        "iModelNotFound",
      ],
      // The iModel is not in that iTwin.
      [
        { iTwinId: "11111111-1111-4111-8111-111111111111", iModelId: id, startChangesetId: A, endChangesetId: B },
        404,
        "iModelNotFound",
      ],
    ];
    for (const [body, status, code] of expected) {
      const r = await h.call("POST", "/changedelements/comparisonJob", { body });
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error?.code, code, `${JSON.stringify(body)}: ${r.text}`);
    }
    const get = await h.call("GET", `/changedelements/comparisonJob/${A}-${B}/iTwin/${ITWIN}/iModel/${id}`);
    assert.equal(get.status, 404, get.text);
    assert.equal(get.body.error.code, "ChangesetNotFound", get.text);
    const badId = await h.call("GET", `/changedelements/comparisonJob/nope/iTwin/${ITWIN}/iModel/${id}`);
    assert.equal(badId.status, 404, badId.text);
  });

  it("is refused without a token; the result link without a valid signature", async () => {
    const id = await h.createIModel();
    const body = { iTwinId: ITWIN, iModelId: id, startChangesetId: A, endChangesetId: B };
    const anonymous = await h.call("POST", "/changedelements/comparisonJob", { body, user: null });
    assert.equal(anonymous.status, 401, anonymous.text);
    const unsigned = await h.call(
      "GET",
      `/changedelements/comparisonJob/${A}-${B}/iTwin/${ITWIN}/iModel/${id}/result?se=1&sp=r&sig=x`,
      { user: null },
    );
    assert.equal(unsigned.status, 403, unsigned.text);
    assert.equal(unsigned.body.error.code, "InsufficientPermissions", unsigned.text);
  });
});
