// Writes docs/security.md's table of every route and who may call it from the routes' own `config.authz`.
// Run: `npm run docs:permissions` (from the sources, through tsx; `--check` only says whether it is current).
import { readFileSync, writeFileSync } from "node:fs";

const { allRoutes } = await import("../src/http/route-catalog.js");
const { permissionTable, withTable } = await import("../src/http/authz/permission-table.js");
const path = new URL("../../../docs/security.md", import.meta.url);
const doc = readFileSync(path, "utf8");
const updated = withTable(doc, permissionTable(await allRoutes()));
if (process.argv.includes("--check")) {
  if (updated !== doc) {
    console.error("docs/security.md's permission table is out of date: run npm run docs:permissions");
    process.exit(1);
  }
} else if (updated !== doc) {
  writeFileSync(path, updated);
  console.log("docs/security.md: permission table updated");
} else {
  console.log("docs/security.md: permission table already current");
}
