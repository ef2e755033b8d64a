// Installs the separate iTwin.js hosts @modelhub/backend-access is tested with (npm projects of their own, since a
// workspace holds one version of iTwin.js; the workspace's own is the third): packages/backend-access/test/host4x
// (iTwin.js 4.11.7) and host51 (5.1.9), at the same time. Then puts the built @modelhub packages in each as real
// copies, the way an app that installed them from the registry has them. A host already installed is only given
// fresh copies. `npm test` runs this beside the type checks and the linter.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const HOSTS = ["host4x", "host51"];
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function install(host) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(npm, ["ci", "--no-audit", "--no-fund"], { cwd: host, stdio: ["ignore", "inherit", "inherit"] });
    child.on("exit", (code, signal) =>
      resolve({ ok: code === 0, why: signal ?? code, seconds: (Date.now() - started) / 1000 }),
    );
  });
}

const results = await Promise.all(
  HOSTS.map(async (name) => {
    const host = join("packages", "backend-access", "test", name);
    const { dependencies } = JSON.parse(readFileSync(join(host, "package.json"), "utf8"));
    const version = dependencies["@itwin/core-backend"];
    const installed = join(host, "node_modules", "@itwin", "core-backend", "package.json");
    let how = "already installed";
    if (!existsSync(installed) || JSON.parse(readFileSync(installed, "utf8")).version !== version) {
      const r = await install(host);
      if (!r.ok) return { name, ok: false, line: `${name}: npm ci failed (${r.why})` };
      how = `installed in ${r.seconds.toFixed(0)} s`;
    }
    for (const pkg of ["protocol", "client", "backend-access"]) {
      const target = join(host, "node_modules", "@modelhub", pkg);
      rmSync(target, { recursive: true, force: true });
      mkdirSync(target, { recursive: true });
      cpSync(join("packages", pkg, "package.json"), join(target, "package.json"));
      cpSync(join("packages", pkg, "dist"), join(target, "dist"), { recursive: true });
    }
    return { name, ok: true, line: `iTwin.js ${version} host ready in ${host} (${how})` };
  }),
);
for (const r of results) console.log(r.line);
process.exit(results.every((r) => r.ok) ? 0 : 1);
