// Installs the iTwin.js 4.11.7 host used by @modelhub/backend-access's 4.x test (a separate npm project, since a
// workspace can hold one version of iTwin.js), then puts the built @modelhub packages in it as real copies, the
// way an app that installed them from the registry has them.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const host = join("packages", "backend-access", "test", "host4x");
if (!existsSync(join(host, "node_modules", "@itwin", "core-backend", "package.json"))) {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["ci", "--no-audit", "--no-fund"], { cwd: host, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
for (const name of ["protocol", "client", "backend-access"]) {
  const target = join(host, "node_modules", "@modelhub", name);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  cpSync(join("packages", name, "package.json"), join(target, "package.json"));
  cpSync(join("packages", name, "dist"), join(target, "dist"), { recursive: true });
}
console.log(`iTwin.js 4.11.7 host ready in ${host}`);
