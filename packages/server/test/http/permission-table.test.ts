// docs/security.md's table of every route is the routes' own rules: it fails when a route, its rule or its audit
// action changed without `npm run docs:permissions`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { TABLE_END, TABLE_START, permissionTable, withTable } from "../../src/http/authz/permission-table.js";
import { allRoutes } from "../../src/http/route-catalog.js";

describe("docs/security.md permission table", () => {
  it("is what the routes say (run npm run docs:permissions after changing a route)", async () => {
    const doc = readFileSync(new URL("../../../../docs/security.md", import.meta.url), "utf8");
    const routes = await allRoutes();
    const table = permissionTable(routes);
    assert.equal(
      withTable(doc, table),
      doc,
      "docs/security.md's permission table is out of date: run npm run docs:permissions",
    );
    // Each route is a row of its own (the check above would pass on an empty table in an empty doc).
    const rows = doc
      .slice(doc.indexOf(TABLE_START), doc.indexOf(TABLE_END))
      .split("\n")
      .filter((line) => line.startsWith("| `"));
    assert.equal(rows.length, routes.length);
    assert.ok(
      rows.some(
        (r) =>
          r.startsWith("| `DELETE /imodels/{id}` |") && r.includes("`imodels_delete`") && r.includes("`imodel.delete`"),
      ),
    );
  });
});
