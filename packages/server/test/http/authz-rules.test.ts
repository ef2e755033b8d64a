// The authorization seam refuses to start an app that has a route without a rule, and every route carries one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { requireRouteRules } from "../../src/http/authz/authorize.js";
import { publicRoute } from "../../src/http/authz/rules.js";
import { allRoutes } from "../../src/http/route-catalog.js";

describe("authorization rules", () => {
  it("a route without a rule makes the app refuse to start", async () => {
    const app = Fastify();
    requireRouteRules(app);
    app.get("/health", { config: { authz: publicRoute("liveness") } }, async () => ({ status: "ok" }));
    await assert.rejects(
      (async () => {
        await app.register(
          async (scope) => {
            scope.get("/:id/brand-new", async () => ({}));
          },
          { prefix: "/imodels" },
        );
        await app.ready();
      })(),
      /Route GET \/imodels\/:id\/brand-new has no authorization rule/,
    );
  });

  it("a route whose rule is given by its scope (a library's route) starts", async () => {
    const app = Fastify();
    requireRouteRules(app);
    await app.register(async (scope) => {
      scope.addHook("onRoute", (route) => {
        route.config = { ...route.config, authz: publicRoute("static") };
      });
      scope.get("/file", async () => "x");
    });
    await app.ready();
    assert.equal((await app.inject({ method: "HEAD", url: "/file" })).statusCode, 200);
    await app.close();
  });

  it("every route of the full app carries a rule; a prefix's root is listed once; HEAD follows GET", async () => {
    const routes = await allRoutes();
    assert.ok(routes.length >= 80, `only ${routes.length} routes`);
    assert.deepEqual(
      routes.filter((r) => !r.facts.authz).map((r) => `${r.method} ${r.url}`),
      [],
    );
    assert.equal(routes.filter((r) => r.url === "/imodels" && r.method === "GET").length, 1);
    assert.ok(!routes.some((r) => r.url.endsWith("/") && r.url !== "/"), "no trailing-slash twins");
    assert.ok(!routes.some((r) => r.method === "HEAD" && routes.some((g) => g.method === "GET" && g.url === r.url)));
    assert.ok(
      routes.some((r) => r.method === "PUT" && r.url === "/storage/modelhub/*" && r.facts.authz?.kind === "signedLink"),
    );
    assert.ok(routes.some((r) => r.method === "GET" && r.url === "/assets/*" && r.facts.authz?.kind === "public"));
  });

  it("imodels_delete is only ever required on its own (it is an iTwin-level permission) and no rule is empty", async () => {
    for (const { method, url, facts } of await allRoutes()) {
      const rule = facts.authz!;
      if (rule.kind === "iModel" || rule.kind === "iTwin") {
        assert.ok(rule.anyOf.length > 0, `${method} ${url}`);
        if (rule.anyOf.includes("imodels_delete") && rule.anyOf.length > 1)
          assert.equal(rule.anyOf.length, 5, `${method} ${url}: delete among others`);
      }
    }
  });
});
