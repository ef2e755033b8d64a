// /openapi.json and /docs are made from the routes: every route is in them with its rule, its answers and errors.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openApiPath } from "../../src/http/authz/permission-table.js";
import { openApiDocument } from "../../src/http/openapi.js";
import { routeEntries } from "../../src/http/route-config.js";
import { allRoutes } from "../../src/http/route-catalog.js";
import type { InjectHub, Json } from "./support/inject-hub.js";
import { ITWIN, injectHub } from "./support/inject-hub.js";

/** Every `$ref` in `value`. */
function refsOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsOf(v, out);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref") out.push(String(v));
      else refsOf(v, out);
    }
  }
  return out;
}

describe("the API reference", () => {
  let h: InjectHub;
  before(async () => {
    h = await injectHub();
  });
  after(() => h.close());

  it("describes every route modelhub can serve (storage, probes, web UI and extensions included), with its rule and errors", async () => {
    const routes = await allRoutes();
    const doc = openApiDocument(routes) as Json;
    assert.equal(doc.openapi, "3.1.0");
    const missing = routes
      .filter((r) => !doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()])
      .map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(missing, [], "routes missing from the OpenAPI document");
    const operations = Object.values(doc.paths as Record<string, Record<string, Json>>).flatMap((ops) =>
      Object.values(ops),
    );
    assert.equal(operations.length, routes.length);
    assert.equal(new Set(operations.map((o) => o.operationId)).size, operations.length, "operation ids are unique");
    for (const r of routes) {
      const op = doc.paths[openApiPath(r.url)][r.method.toLowerCase()] as Json;
      const what = `${r.method} ${r.url}`;
      assert.ok(r.facts.summary && op.summary === r.facts.summary, `${what} has a summary`);
      assert.deepEqual(op["x-modelhub-authz"], r.facts.authz, what);
      const kind = r.facts.authz!.kind;
      if (kind === "public" || kind === "signedLink") assert.deepEqual(op.security, [], what);
      else {
        assert.deepEqual(op.security, [{ bearer: [] }], what);
        assert.deepEqual(op.responses["401"], { $ref: "#/components/responses/Unauthorized" }, what);
      }
      if (kind === "iModel") assert.ok(op.responses["403"] && op.responses["404"], `${what}: 403 and 404`);
      if (kind === "signedLink") assert.match(op.responses["403"].description, /AuthenticationFailed/, what);
      if (r.facts.audit) assert.equal(op["x-modelhub-audit-action"], r.facts.audit.action, what);
      assert.ok(
        Object.keys(op.responses).some((status) => /^2/.test(status)),
        `${what}: a success answer`,
      );
    }
    // Bodies are the handlers' own zod schemas: the seeds' required properties are there.
    const createChangeset = doc.paths["/imodels/{id}/changesets"].post.requestBody.content["application/json"].schema;
    assert.deepEqual(createChangeset.required, ["id", "briefcaseId", "fileSize"]);
    assert.ok(doc.paths["/imodels/{id}/thumbnail"].put.requestBody.content["image/png"]);
    // Every reference resolves.
    const names = (ref: string) => ref.split("/").slice(1);
    for (const ref of refsOf(doc)) {
      const [, section, name] = names(ref);
      assert.ok((doc.components as Json)[section!]?.[name!], `unresolved ${ref}`);
    }
  });

  it("serves /openapi.json for this hub's routes and /docs as a page that loads nothing", async () => {
    const served = await h.app.inject({ method: "GET", url: "/openapi.json", headers: { host: "hub.example:8080" } });
    assert.equal(served.statusCode, 421, "a host the hub does not answer for is refused like everywhere");
    const r = await h.app.inject({ method: "GET", url: "/openapi.json", headers: { host: "127.0.0.1:3000" } });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers["content-type"]), /^application\/json/);
    const doc = JSON.parse(r.body) as Json;
    assert.deepEqual(doc.servers, [{ url: "http://127.0.0.1:3000" }]);
    const mine = routeEntries(h.app.registeredRoutes);
    assert.deepEqual(
      mine.filter((e) => !doc.paths[openApiPath(e.url)]?.[e.method.toLowerCase()]),
      [],
    );
    assert.ok(doc.paths["/openapi.json"].get && doc.paths["/docs"].get && doc.paths["/storage/modelhub/{path}"].put);

    const page = await h.app.inject({ method: "GET", url: "/docs", headers: { host: "127.0.0.1" } });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.match(String(page.headers["content-security-policy"]), /default-src 'none'/);
    assert.doesNotMatch(page.body, /<script|https?:\/\/(?!127\.0\.0\.1)/i);
    for (const e of mine)
      assert.ok(page.body.includes(`<code>${openApiPath(e.url)}</code>`), `${e.method} ${e.url} on /docs`);
  });

  it("documents without validating: bad input still gets the handlers' (the seeds') error bodies", async () => {
    const wrongType = await h.call("POST", "/imodels", { body: { iTwinId: ITWIN, name: 5 } });
    assert.equal(wrongType.status, 422);
    assert.equal(wrongType.body.error.code, "InvalidiModelsRequest");
    assert.deepEqual(
      wrongType.body.error.details.map((d: Json) => [d.code, d.target]),
      [["InvalidValue", "name"]],
    );
    const extra = await h.call("POST", "/imodels", { body: { iTwinId: ITWIN, name: "kept", unknownField: true } });
    assert.equal(extra.status, 201, extra.text);
    // Answers are not cut to their documented shape: `{type: "object"}` names no property, the answer keeps its own.
    const operation = await h.call("GET", `/imodels/${extra.body.iModel.id}/operations/create`);
    assert.equal(operation.body.createOperation?.state, "scheduled", operation.text);
  });
});
