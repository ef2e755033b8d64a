// Issue 18, finding 7: unauthenticated noise. Every request without a valid token added an audit row with no limit,
// and --rate-limit did not cover /accesscontrol or /auditlog. Now: failed authentications are limited per client
// address before authentication (--auth-failure-limit), repeated refusals are summed up in the audit log (one row
// per client and window, with a count), and --rate-limit covers every authenticated scope.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { AuditLogEntry } from "@modelhub/protocol";
import { formatEntry } from "../../src/admin/audit.js";
import type { TestHub } from "../support/hub.js";
import { eventually, startTestHub } from "../support/hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const API_TYPE = "application/vnd.bentley.itwin-platform.v2+json";
const ITWIN = "55555555-5555-4555-8555-555555555555";

/** Waits out the last seconds of a wall-clock minute, so that limits counted per minute do not reset mid-test. */
async function awayFromMinuteEnd(margin = 15_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < margin) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** A request as a proxy on loopback forwards it for `client` (or as the loopback client itself, without one). */
async function call(
  hub: TestHub,
  path: string,
  options: { client?: string; token?: string; method?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const headers: Record<string, string> = { accept: API_TYPE };
  if (options.client) headers["x-forwarded-for"] = options.client;
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(`${hub.url}${path}`, {
    method: options.method ?? "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await r.text();
  return {
    status: r.status,
    headers: r.headers,
    body: (text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : { text }) as Json,
  };
}

describe("unauthenticated noise (issue 18, finding 7)", () => {
  const hubs: TestHub[] = [];
  after(async () => {
    for (const hub of hubs) await hub.close();
  });

  it("--rate-limit is one bucket per user across the API, /accesscontrol and /auditlog", async () => {
    const hub = await startTestHub({ rateLimitPerMinute: 4 });
    hubs.push(hub);
    await awayFromMinuteEnd();
    const paths = [
      "/imodels?iTwinId=x",
      `/accesscontrol/itwins/${ITWIN}/permissions`,
      `/auditlog?iTwinId=${ITWIN}`,
      `/accesscontrol/itwins/${ITWIN}/permissions`,
      `/auditlog?iTwinId=${ITWIN}`,
    ];
    const statuses: number[] = [];
    for (const path of paths) statuses.push((await call(hub, path, { token: "alice" })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
    const limited = await call(hub, `/accesscontrol/itwins/${ITWIN}/permissions`, { token: "alice" });
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.body, {
      error: {
        code: "TooManyRequests",
        message: "More requests were received than the subscription rate-limit allows.",
      },
    });
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.match(limited.headers.get("content-type") ?? "", /^application\/vnd\.bentley\.itwin-platform\.v2\+json/);
    assert.equal(
      (await call(hub, `/auditlog?iTwinId=${ITWIN}`, { token: "bob" })).status,
      200,
      "bob has a bucket of his own",
    );
  });

  it("past --auth-failure-limit a client address is refused before authentication (API 429, storage 503) until the minute ends; others are not", async () => {
    // Loopback is a trusted proxy here, so each test client is named by X-Forwarded-For.
    const hub = await startTestHub({ authFailureLimit: 5, trustedProxies: ["127.0.0.1", "::1"] });
    hubs.push(hub);
    const created = await call(hub, "/imodels", {
      token: "alice",
      method: "POST",
      body: { iTwinId: ITWIN, name: "links", baselineFile: { size: 10 } },
    });
    assert.equal(created.status, 201);
    const upload = new URL(created.body.iModel._links.upload.href);
    const forged = `${upload.pathname}${upload.search.replace(/sig=[^&]+/, "sig=AAAA")}`;
    await awayFromMinuteEnd();

    const mallory = "203.0.113.7";
    for (let i = 0; i < 4; i++)
      assert.equal(
        (await call(hub, "/imodels?iTwinId=x", { client: mallory, token: i % 2 ? "" : undefined })).status,
        401,
      );
    // A storage link with a bad signature is a failed authentication too: the fifth.
    assert.equal(
      (
        await fetch(`${hub.url}${forged}`, {
          method: "PUT",
          headers: { "x-forwarded-for": mallory, "x-ms-blob-type": "BlockBlob" },
          body: "x",
        })
      ).status,
      403,
    );

    const blocked = await call(hub, "/imodels?iTwinId=x", { client: mallory });
    assert.equal(blocked.status, 429);
    assert.deepEqual(blocked.body, {
      error: {
        code: "TooManyRequests",
        message: "Too many requests without valid credentials came from this address; retry later.",
      },
    });
    const retryAfter = Number(blocked.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
    // Before authentication: a valid token from that address is not even looked at, on every scope.
    assert.equal((await call(hub, "/imodels?iTwinId=x", { client: mallory, token: "alice" })).status, 429);
    assert.equal(
      (await call(hub, `/accesscontrol/itwins/${ITWIN}/permissions`, { client: mallory, token: "alice" })).status,
      429,
    );
    const storage = await fetch(`${hub.url}${upload.pathname}${upload.search}`, {
      method: "PUT",
      headers: { "x-forwarded-for": mallory, "x-ms-blob-type": "BlockBlob" },
      body: "0123456789",
    });
    assert.equal(storage.status, 503);
    assert.equal(storage.headers.get("x-ms-error-code"), "ServerBusy");
    assert.ok(Number(storage.headers.get("retry-after")) >= 1);

    // Everyone else is served as usual: another client behind the proxy, and the proxy's own address.
    assert.equal((await call(hub, "/imodels?iTwinId=x", { client: "198.51.100.9", token: "alice" })).status, 200);
    assert.equal((await call(hub, "/imodels?iTwinId=x", { client: "198.51.100.9" })).status, 401);
    assert.equal((await call(hub, "/imodels?iTwinId=x", { token: "alice" })).status, 200);
    // An IPv6 client is limited by its /64: another address of the same /64 is the same client.
    for (let i = 0; i < 5; i++)
      assert.equal((await call(hub, "/imodels?iTwinId=x", { client: `2001:db8:1:2::${i + 1}` })).status, 401);
    assert.equal(
      (await call(hub, "/imodels?iTwinId=x", { client: "2001:db8:1:2:ffff::9", token: "alice" })).status,
      429,
    );
    assert.equal((await call(hub, "/imodels?iTwinId=x", { client: "2001:db8:1:3::1", token: "alice" })).status, 200);
  });

  it("without --trusted-proxy, X-Forwarded-For is ignored: a client cannot escape the limit by naming another address", async () => {
    const hub = await startTestHub({ authFailureLimit: 3 });
    hubs.push(hub);
    await awayFromMinuteEnd();
    for (let i = 0; i < 3; i++)
      assert.equal((await call(hub, "/imodels?iTwinId=x", { client: `198.51.100.${i}` })).status, 401);
    assert.equal((await call(hub, "/imodels?iTwinId=x", { client: "192.0.2.1", token: "alice" })).status, 429);
  });

  it("the audit log sums up a client's refusals: its first one as it is, the rest in one row per window with a count", async () => {
    const hub = await startTestHub(
      { authFailureLimit: 0, trustedProxies: ["127.0.0.1", "::1"] },
      { auditRefusalWindowMs: 1000 },
    );
    hubs.push(hub);
    const sent = { "203.0.113.7": 30, "198.51.100.9": 10 };
    for (const [client, n] of Object.entries(sent)) {
      for (let i = 0; i < n; i++) {
        const r = await call(hub, "/imodels", {
          client,
          method: "POST",
          token: i % 3 === 1 ? "" : undefined,
          body: { iTwinId: ITWIN, name: "nope" },
        });
        assert.equal(r.status, 401);
      }
    }
    // A storage link with a bad signature, too (from the loopback proxy itself).
    const created = await call(hub, "/imodels", {
      token: "alice",
      method: "POST",
      body: { iTwinId: ITWIN, name: "links", baselineFile: { size: 10 } },
    });
    const upload = new URL(created.body.iModel._links.upload.href);
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${hub.url}${upload.pathname}${upload.search.replace(/sig=[^&]+/, "sig=AAAA")}`, {
        method: "PUT",
        headers: { "x-ms-blob-type": "BlockBlob" },
        body: "x",
      });
      assert.equal(r.status, 403);
    }
    // Each client's refusals end up as one row each at first, plus one summing up the rest once the window ended.
    const rows = await eventually(
      async () => {
        const r = await call(hub, "/auditlog?$top=1000", { token: "alice" });
        assert.equal(r.status, 200);
        const entries = (r.body.auditEntries as Json[]).filter((e) => e.userId === null);
        const counted = (address: string) =>
          entries
            .filter((e) => e.address === address)
            .reduce((n, e) => n + (e.action === "auth.refused" ? (e.details.count as number) : 1), 0);
        return counted("203.0.113.7") === 30 && counted("198.51.100.9") === 10 && counted("127.0.0.1") === 3
          ? entries
          : undefined;
      },
      10_000,
      "the summed-up refusals",
    );
    for (const address of ["203.0.113.7", "198.51.100.9", "127.0.0.1"]) {
      const mine = rows.filter((e) => e.address === address);
      // Requests of one client may straddle a window boundary: then two of each.
      const single = mine.filter((e) => e.action !== "auth.refused");
      const summed = mine.filter((e) => e.action === "auth.refused");
      assert.ok(
        single.length >= 1 && single.length <= 2 && summed.length >= 1 && summed.length <= 2,
        `${address}: ${JSON.stringify(mine)}`,
      );
      for (const e of summed) {
        assert.equal(e.outcome, "refused");
        assert.equal(e.iModelId, null);
        assert.equal(typeof e.details.until, "string");
      }
    }
    const mallory = rows.filter((e) => e.address === "203.0.113.7");
    assert.equal(mallory[0]!.action, "imodel.create");
    assert.equal(mallory[0]!.details.errorCode, "HeaderNotFound");
    const summaries = mallory.filter((e) => e.action === "auth.refused");
    // `modelhub audit` prints the count with the row.
    assert.match(
      formatEntry(summaries[0] as AuditLogEntry),
      new RegExp(
        `auth\\.refused  401 refused  count=${summaries[0]!.details.count}  until=\\S+  from=203\\.0\\.113\\.7`,
      ),
    );
    assert.deepEqual([...new Set(summaries.flatMap((e) => Object.keys(e.details.errorCodes)))].sort(), [
      "HeaderNotFound",
      "InvalidAccessToken",
    ]);
    assert.deepEqual([...new Set(summaries.flatMap((e) => Object.keys(e.details.actions)))], ["imodel.create"]);
    assert.equal(
      rows.filter((e) => e.address === "127.0.0.1").find((e) => e.action === "auth.refused")!.details.errorCodes
        .AuthenticationFailed >= 1,
      true,
    );
  });
});
