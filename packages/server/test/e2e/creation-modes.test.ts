// Creation modes of the official management client 6.0.2 against a real hub, and what modelhub answers for those it
// cannot do. A geographic coordinate system at creation is refused up front: iTwin.js 5.1.9 resolves CRS ids only
// from Bentley's online GCS workspace, which the hub's worker disables (docs/compatibility.md).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import type * as ManagementTypes from "@itwin/imodels-client-management";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";

const require = createRequire(import.meta.url);
const management = require("@itwin/imodels-client-management") as typeof ManagementTypes;

const auth = (user: string) => async () => ({ scheme: "Bearer", token: user });
const iTwinId = "3c1f7a2e-6b0d-4e8a-9f15-8d2c4b7a1e63";

describe("creation modes with the official client", () => {
  let hub: TestHub;
  let client: ManagementTypes.IModelsClient;

  before(async () => {
    hub = await startTestHub();
    client = new management.IModelsClient({ api: { baseUrl: hub.baseUrl } });
  });
  after(() => hub?.close());

  it("createEmpty with geographicCoordinateSystem.horizontalCRSId is refused up front (422, InvalidValue on geographicCoordinateSystem) and creates nothing", async () => {
    await assert.rejects(
      client.iModels.createEmpty({
        authorization: auth("alice"),
        iModelProperties: {
          iTwinId,
          name: "with a GCS",
          creationMode: "empty",
          geographicCoordinateSystem: { horizontalCRSId: "EPSG:27700" },
        },
      }),
      (err: ManagementTypes.IModelsError) => {
        assert.equal(err.code, management.IModelsErrorCode.InvalidIModelsRequest);
        assert.equal(err.statusCode, 422);
        assert.deepEqual(
          err.details?.map((d) => [d.code, d.target]),
          [["InvalidValue", "geographicCoordinateSystem"]],
        );
        assert.match(err.details?.[0]?.message ?? "", /IModelDb\.setGeographicCoordinateSystem/);
        return true;
      },
    );
    const listed = await hub.api<{ iModels: unknown[] }>("GET", `?iTwinId=${iTwinId}&name=with a GCS`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.iModels, []);
  });

  it("the same iModel without a GCS is created and initialized (creationMode empty)", async () => {
    const iModel = await client.iModels.createEmpty({
      authorization: auth("alice"),
      iModelProperties: { iTwinId, name: "with a GCS", creationMode: "empty" },
    });
    assert.equal(iModel.state, management.IModelState.Initialized);
    assert.equal(iModel.name, "with a GCS");
    const details = await client.operations.getCreateIModelDetails({
      authorization: auth("alice"),
      iModelId: iModel.id,
    });
    assert.deepEqual(details, { state: management.IModelCreationState.Successful, clonedFrom: null, forkedFrom: null });
  });
});
