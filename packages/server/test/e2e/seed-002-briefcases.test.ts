// Seed 002: GET /imodels/{id}/briefcases — every example of the page, over real HTTP.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("seed 002: list briefcases", () => {
  let hub: TestHub;
  let iModelId: string;

  before(async () => {
    hub = await startTestHub({ rateLimitPerMinute: 0 });
    const created = await hub.api<Json>("POST", "", {
      body: { iTwinId: "44444444-4444-4444-8444-444444444444", name: "briefcases" },
    });
    assert.equal(created.status, 201);
    iModelId = created.body.iModel.id;
    await eventually(
      async () => ((await hub.api<Json>("GET", `/${iModelId}`)).body.iModel.state === "initialized" ? true : undefined),
      60_000,
      "empty iModel",
    );
    // alice: 2 and 3 (with device names), bob: 4
    for (const [user, deviceName] of [
      ["alice", "Device Name"],
      ["alice", "Device Name"],
      ["bob", null],
    ] as const) {
      const r = await hub.api<Json>("POST", `/${iModelId}/briefcases`, {
        user,
        body: deviceName ? { deviceName } : {},
      });
      assert.equal(r.status, 201, r.text);
      await new Promise((res) => setTimeout(res, 5)); // distinct acquiredDateTime
    }
  });
  after(() => hub.close());

  it("200: minimal list by default, as in the example", async () => {
    const r = await hub.api<Json>("GET", `/${iModelId}/briefcases?ownerId=me`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, /application\/vnd\.bentley\.itwin-platform\.v2\+json/);
    assert.deepEqual(r.body.briefcases, [
      { id: "2", displayName: "#2 Device Name" },
      { id: "3", displayName: "#3 Device Name" },
    ]);
    assert.deepEqual(Object.keys(r.body._links).sort(), ["next", "prev", "self"]);
    assert.equal(r.body._links.self.href, `${hub.baseUrl}/${iModelId}/briefcases?ownerId=me&$skip=0&$top=100`);
    assert.equal(r.body._links.prev, null);
    assert.equal(r.body._links.next, null);
  });

  it("Prefer: return=representation gives full briefcases with owner and checkpoint links", async () => {
    const r = await hub.api<Json>("GET", `/${iModelId}/briefcases`, { headers: { prefer: "return=representation" } });
    assert.equal(r.status, 200);
    assert.equal(r.body.briefcases.length, 3);
    const [first] = r.body.briefcases;
    assert.equal(first.id, "2");
    assert.equal(first.briefcaseId, 2);
    assert.equal(first.ownerId, "alice");
    assert.equal(first.deviceName, "Device Name");
    assert.ok(first.fileSize > 0);
    assert.ok(!Number.isNaN(Date.parse(first.acquiredDateTime)));
    assert.equal(first.application, null);
    assert.equal(first._links.owner.href, `${hub.baseUrl}/${iModelId}/users/alice`);
    assert.equal(first._links.checkpoint.href, `${hub.baseUrl}/${iModelId}/briefcases/checkpoint`);
  });

  it("ownerId filters by user, and 'me' is the token's user", async () => {
    const bob = await hub.api<Json>("GET", `/${iModelId}/briefcases?ownerId=me`, { user: "bob" });
    assert.deepEqual(
      bob.body.briefcases.map((b: Json) => b.id),
      ["4"],
    );
    const byId = await hub.api<Json>("GET", `/${iModelId}/briefcases?ownerId=alice`, { user: "bob" });
    assert.deepEqual(
      byId.body.briefcases.map((b: Json) => b.id),
      ["2", "3"],
    );
  });

  it("$top, $skip and prev/next links page through every briefcase", async () => {
    const first = await hub.api<Json>("GET", `/${iModelId}/briefcases?$top=2`);
    assert.deepEqual(
      first.body.briefcases.map((b: Json) => b.id),
      ["2", "3"],
    );
    assert.equal(first.body._links.prev, null);
    const next = await hub.api<Json>("GET", first.body._links.next.href);
    assert.deepEqual(
      next.body.briefcases.map((b: Json) => b.id),
      ["4"],
    );
    assert.equal(next.body._links.next, null);
    assert.equal(next.body._links.prev.href, `${hub.baseUrl}/${iModelId}/briefcases?$top=2&$skip=0`);
  });

  it("$orderBy=acquiredDateTime desc reverses the order; asc is the default", async () => {
    const desc = await hub.api<Json>("GET", `/${iModelId}/briefcases?$orderBy=acquiredDateTime%20desc`);
    assert.deepEqual(
      desc.body.briefcases.map((b: Json) => b.id),
      ["4", "3", "2"],
    );
    const asc = await hub.api<Json>("GET", `/${iModelId}/briefcases?$orderBy=acquiredDateTime asc`);
    assert.deepEqual(
      asc.body.briefcases.map((b: Json) => b.id),
      ["2", "3", "4"],
    );
  });

  it("401: no Authorization header gives the seed's body", async () => {
    const r = await hub.api("GET", `/${iModelId}/briefcases`, { user: null });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, {
      error: { code: "HeaderNotFound", message: "Header Authorization was not found in the request. Access denied." },
    });
  });

  it("404: unknown iModel gives the seed's body", async () => {
    const r = await hub.api("GET", `/00000000-0000-0000-0000-000000000000/briefcases`);
    assert.equal(r.status, 404);
    assert.deepEqual(r.body, { error: { code: "iModelNotFound", message: "Requested iModel is not available." } });
  });

  it("422: $skip=-1 gives the seed's body exactly", async () => {
    const r = await hub.api("GET", `/${iModelId}/briefcases?$skip=-1`);
    assert.equal(r.status, 422);
    assert.deepEqual(r.body, {
      error: {
        code: "InvalidiModelsRequest",
        message: "Cannot get Briefcases.",
        details: [
          {
            code: "InvalidValue",
            message: "'-1' is not a valid '$skip' value. '$skip' must be a non-negative integer.",
            target: "$skip",
          },
        ],
      },
    });
  });

  it("422: $top over 1000, a bad $orderBy and a blank ownerId name their target", async () => {
    for (const [query, target] of [
      ["$top=1001", "$top"],
      ["$top=0", "$top"],
      ["$orderBy=name", "$orderBy"],
      ["ownerId=%20%20", "ownerId"],
    ] as const) {
      const r = await hub.api<Json>("GET", `/${iModelId}/briefcases?${query}`);
      assert.equal(r.status, 422, query);
      assert.equal(r.body.error.code, "InvalidiModelsRequest");
      assert.equal(r.body.error.details[0].code, "InvalidValue");
      assert.equal(r.body.error.details[0].target, target);
    }
  });
});

describe("seed 002: 429 with retry-after", () => {
  it("a user over the rate limit gets TooManyRequests and a retry-after header", async () => {
    const hub = await startTestHub({ rateLimitPerMinute: 3 });
    try {
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 4; i++) {
        last = await hub.api("GET", `/00000000-0000-0000-0000-000000000000/briefcases`, { user: "carol" });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [404, 404, 404, 429]);
      assert.deepEqual(last!.body, {
        error: {
          code: "TooManyRequests",
          message: "More requests were received than the subscription rate-limit allows.",
        },
      });
      assert.ok(Number(last!.headers.get("retry-after")) >= 1);
      // Another user is not affected.
      assert.equal(
        (await hub.api("GET", `/00000000-0000-0000-0000-000000000000/briefcases`, { user: "dave" })).status,
        404,
      );
    } finally {
      await hub.close();
    }
  });
});
