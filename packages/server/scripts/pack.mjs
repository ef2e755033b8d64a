#!/usr/bin/env node
// Packs @modelhub/server into an installable tarball: `npm run pack:server [-- <destination dir>]` (default: the
// current directory) → modelhub-server-<version>.tgz, then `npm install -g --legacy-peer-deps ./modelhub-server-<version>.tgz`
// (README: iTwin.js 5.7.3 asks for an @itwin/core-quantity 5.7.3 this registry does not have).
//
// @modelhub/protocol and @modelhub/client are not published, so the tarball carries them (bundleDependencies).
// npm does not bundle workspace packages (they are symlinks in the repository's node_modules: `npm pack -w
// packages/server` would leave them out), so this stages the package with real copies under its own node_modules,
// outside the workspace, and packs that. Build first (`npm run build`; npm ci does it).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const serverDir = fileURLToPath(new URL("..", import.meta.url));
const packagesDir = resolve(serverDir, "..");
const destination = resolve(process.argv[2] ?? process.cwd());
const pkg = JSON.parse(readFileSync(join(serverDir, "package.json"), "utf8"));

const skipBuildInfo = (src) => !src.endsWith(".tsbuildinfo");
const stage = mkdtempSync(join(tmpdir(), "modelhub-pack-"));
try {
  // sample/: the iModel `modelhub demo` pushes.
  for (const dir of ["dist", "bin", "sample"]) {
    if (!existsSync(join(serverDir, dir)))
      throw new Error(`packages/server/${dir} is missing: run \`npm run build\` first.`);
    cpSync(join(serverDir, dir), join(stage, dir), { recursive: true, filter: skipBuildInfo });
  }
  // The web UI the hub serves at `/` (http/web-ui.ts looks for it in web-ui/ beside dist/).
  const webDist = join(packagesDir, "web", "dist");
  if (!existsSync(join(webDist, "index.html")))
    throw new Error("packages/web/dist is missing: run `npm run build` first.");
  cpSync(webDist, join(stage, "web-ui"), { recursive: true });
  // Installers need no dev tools, nor the repository's scripts.
  const { devDependencies: _dev, scripts: _scripts, ...published } = pkg;
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
  for (const name of pkg.bundleDependencies) {
    const source = join(packagesDir, name.replace("@modelhub/", ""));
    const sourcePkg = JSON.parse(readFileSync(join(source, "package.json"), "utf8"));
    if (sourcePkg.name !== name) throw new Error(`${source} is ${sourcePkg.name}, not ${name}`);
    if (!existsSync(join(source, "dist"))) throw new Error(`${name} is not built: run \`npm run build\` first.`);
    const target = join(stage, "node_modules", name);
    cpSync(join(source, "dist"), join(target, "dist"), { recursive: true, filter: skipBuildInfo });
    const { devDependencies: _d, scripts: _s, ...bundled } = sourcePkg;
    writeFileSync(join(target, "package.json"), `${JSON.stringify(bundled, null, 2)}\n`);
  }
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", destination], {
    cwd: stage,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [result] = JSON.parse(out);
  const missing = pkg.bundleDependencies.filter((name) => !result.bundled.includes(name));
  if (missing.length > 0) throw new Error(`npm left out the bundled ${missing.join(", ")}`);
  process.stdout.write(`${join(destination, result.filename)}\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
