// Runs every *.test.ts under packages/*/test with node's test runner (Node 20's --test takes no globs).
// Extra arguments narrow the run: `npm run test:unit -- packages/server/test/e2e`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : readdirSync("packages").map((p) => join("packages", p, "test")))
  .flatMap((root) => {
    try {
      return statSync(root).isDirectory() ? find(root) : [root];
    } catch {
      return [];
    }
  })
  .sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
