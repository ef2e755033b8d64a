// Input no store can keep (a NUL, a lone UTF-16 surrogate) is refused where it enters, in the API's (or storage's)
// error shape, on SQLite and on real PostgreSQL alike — where it once gave 500s and stopped the audit log for good —
// and what is recorded about such requests can neither break the log nor forge lines where it is printed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MetadataSpec } from "../../src/adapters/registry.js";
import type { TestHub } from "../support/hub.js";
import { ACCEPT, startTestHub } from "../support/hub.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ITWIN = "66666666-6666-4666-8666-666666666666";
const API_TYPE = /application\/vnd\.bentley\.itwin-platform\.v2\+json/;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** An unsigned JWT (open mode reads its `sub` without verifying it). */
function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.`;
}

for (const backend of ["sqlite", "postgres"] as const) {
  describe(`input no store can keep (${backend})`, () => {
    let hub: TestHub;
    let dropSchema: (() => Promise<void>) | undefined;
    let iModelId: string;

    before(async () => {
      let metadata: MetadataSpec = { kind: "sqlite" };
      if (backend === "postgres") {
        const schema = await privateSchema("unstorable");
        dropSchema = schema.drop;
        metadata = { kind: "postgres", url: schema.url };
      }
      hub = await startTestHub({ metadata });
      const created = await hub.api<Json>("POST", "", { body: { iTwinId: ITWIN, name: "kept" } });
      assert.equal(created.status, 201, created.text);
      iModelId = created.body.iModel.id;
    });
    after(async () => {
      await hub?.close();
      await dropSchema?.();
    });

    /** A request as fetch sends it (the path is not re-encoded), with the answer's body parsed when it is JSON. */
    async function send(
      method: string,
      path: string,
      options: { token?: string | null; body?: string; requestId?: string } = {},
    ) {
      const headers: Record<string, string> = { accept: ACCEPT };
      if (options.token !== null) headers.authorization = `Bearer ${options.token ?? "alice"}`;
      if (options.body !== undefined) headers["content-type"] = "application/json";
      if (options.requestId) headers["x-request-id"] = options.requestId;
      const r = await fetch(`${hub.url}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: options.body } : {}),
      });
      const text = await r.text();
      return {
        status: r.status,
        type: r.headers.get("content-type") ?? "",
        text,
        json: text.startsWith("{") ? (JSON.parse(text) as Json) : undefined,
      };
    }

    it("a NUL in the path — with or without a token — is 400 BadRequest in the API's shape, before authentication", async () => {
      for (const token of [null, "alice"]) {
        const r = await send("POST", "/imodels/%00/briefcases", { token, body: "{}" });
        assert.equal(r.status, 400, r.text);
        assert.match(r.type, API_TYPE);
        assert.equal(r.json?.error.code, "BadRequest");
        assert.match(r.json?.error.message, /cannot store/);
      }
      const other = await send("GET", `/imodels/${iModelId}/changesets/a%00b`);
      assert.equal(other.status, 400, other.text);
    });

    it("a NUL in a query value or name is 400; a NUL or lone surrogate in a JSON string or key is 422 naming where", async () => {
      for (const query of ["iTwinId=%00", `iTwinId=${ITWIN}&name=%00`, "%00=1"]) {
        const r = await send("GET", `/imodels?${query}`);
        assert.equal(r.status, 400, `${query}: ${r.text}`);
        assert.equal(r.json?.error.code, "BadRequest");
      }
      const cases: [string, string, string][] = [
        ["POST", "/imodels", `{"iTwinId":"${ITWIN}","name":"a\\u0000b"}`],
        ["POST", "/imodels", `{"iTwinId":"${ITWIN}","name":"a\\ud800b"}`],
        ["POST", "/imodels", `{"iTwinId":"${ITWIN}","name":"a\\udc00"}`],
        ["PATCH", `/imodels/${iModelId}`, `{"description":"\\u0000"}`],
        ["POST", `/imodels/${iModelId}/namedversions`, `{"name":"v","changesetId":"","x\\u0000":1}`],
        [
          "POST",
          `/accesscontrol/itwins/${ITWIN}/roles`,
          `{"displayName":"r\\u0000","description":"d","permissions":["imodels_read"]}`,
        ],
      ];
      for (const [method, path, body] of cases) {
        const r = await send(method, path, { body });
        assert.equal(r.status, 422, `${method} ${path} ${body}: ${r.text}`);
        assert.match(r.type, API_TYPE);
        assert.equal(r.json?.error.code, "InvalidiModelsRequest");
        assert.match(r.json?.error.details?.[0]?.message, /cannot store/);
      }
      const target = await send("POST", "/imodels", {
        body: `{"iTwinId":"${ITWIN}","name":"n","description":["ok","\\u0000"]}`,
      });
      assert.equal(target.json?.error.details?.[0]?.target, "description[1]");
      // A surrogate pair is a character like any other; an escaped backslash before u0000 is plain text.
      for (const name of ["pair \\ud83d\\ude00", "text \\\\u0000"]) {
        const r = await send("POST", "/imodels", { body: `{"iTwinId":"${ITWIN}","name":"${name}"}` });
        assert.equal(r.status, 201, r.text);
      }
    });

    it("an identity with a NUL (open mode's unverified JWT `sub`) is 401 InvalidAccessToken", async () => {
      const r = await send("POST", "/imodels", {
        token: unsignedJwt({ sub: "mallory\u0000" }),
        body: `{"iTwinId":"${ITWIN}","name":"x"}`,
      });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json?.error.code, "InvalidAccessToken");
    });

    it("a storage path with a NUL or control characters is refused in Azure's shape before its link is even checked", async () => {
      for (const key of [
        "files/a%00b/x",
        "files/x%0D%0A2026-01-01T00:00:00Z%20root%20imodel.delete/y",
        "files/%1B%5B2J/z",
        "files/%C2%9B31m/z",
      ]) {
        const r = await send("PUT", `/storage/modelhub/${key}?sig=x`, { token: null, body: "data" });
        assert.equal(r.status, 400, `${key}: ${r.text}`);
        assert.match(r.text, /<Code>InvalidUri<\/Code>/);
      }
    });

    it("the audit log: requests refused at the edge are not recorded (like malformed URLs), control characters in what is recorded are escaped, and later writes are kept", async () => {
      await send("POST", "/imodels/%00/briefcases", { token: null, body: "{}", requestId: "nul-path" });
      await send("PUT", "/storage/modelhub/files/x%0D%0Aforged/y?sig=x", {
        token: null,
        body: "data",
        requestId: "crlf-key",
      });
      // Not refused at the edge (an id the hub does not have): recorded, its line break escaped.
      const crlfId = await send("DELETE", "/imodels/x%0D%0A2026-01-01T00:00:00.000Z%20root%20imodel.delete%1B%5B2J", {
        requestId: "crlf-id",
      });
      assert.equal(crlfId.status, 404, crlfId.text);
      const later = await hub.api<Json>("PATCH", `/${iModelId}`, {
        body: { description: "still recorded" },
        headers: { "x-request-id": "after-the-bad-ones" },
      });
      assert.equal(later.status, 200, later.text);
      const log = await hub.api<Json>("GET", `${hub.url}/auditlog?$top=1000`);
      assert.equal(log.status, 200, log.text);
      const entries = log.body.auditEntries as Json[];
      const byRequest = (id: string) => entries.find((e) => e.requestId === id);
      assert.ok(byRequest("after-the-bad-ones"), "the write after the refused requests is in the log");
      assert.equal(byRequest("nul-path"), undefined);
      assert.equal(byRequest("crlf-key"), undefined);
      assert.equal(byRequest("crlf-id")?.iModelId, "x\\r\\n2026-01-01T00:00:00.000Z root imodel.delete\\u001b[2J");
      for (const entry of entries) {
        for (const value of Object.values(entry))
          if (typeof value === "string")
            assert.doesNotMatch(value, RAW_CONTROL, "no control character is recorded raw");
      }
    });
  });
}
