// The authorization seam refuses to start an app that has a route without a rule.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { requireRouteRules } from "../../src/http/authz/authorize.js";
import { AUTHZ_RULES, ruleOf } from "../../src/http/authz/rules.js";

describe("authorization rules", () => {
  it("a route without a rule makes the app refuse to start", async () => {
    const app = Fastify();
    requireRouteRules(app);
    app.get("/health", async () => ({ status: "ok" })); // has a rule
    await assert.rejects(
      (async () => {
        await app.register(async (scope) => {
          scope.get("/:id/brand-new", async () => ({}));
        }, { prefix: "/imodels" });
        await app.ready();
      })(),
      /Route GET \/imodels\/:id\/brand-new has no authorization rule/,
    );
  });

  it("HEAD uses the GET rule, a prefixed '/' matches with or without its slash, unknown routes have none", () => {
    assert.equal(ruleOf("HEAD", "/imodels/:id"), AUTHZ_RULES["GET /imodels/:id"]);
    assert.equal(ruleOf("GET", "/imodels"), AUTHZ_RULES["GET /imodels/"]);
    assert.equal(ruleOf("GET", "/imodels/"), AUTHZ_RULES["GET /imodels/"]);
    assert.equal(ruleOf("POST", "/imodels/:id"), undefined);
    assert.equal(ruleOf("HEAD", "/imodels/:id/nothing"), undefined);
  });

  it("imodels_delete is only ever required on its own (it is an iTwin-level permission) and no rule is empty", () => {
    for (const [key, rule] of Object.entries(AUTHZ_RULES)) {
      if (rule.kind === "iModel" || rule.kind === "iTwin") assert.ok(rule.anyOf.length > 0, key);
    }
  });
});
