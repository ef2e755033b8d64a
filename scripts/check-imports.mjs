// The import graph's rules, checked in `npm test`: no circle in the server's or the web UI's sources, and no import
// from a lower layer to a higher one in the server (docs/architecture.md draws the layers). madge reads the graph
// from the TypeScript sources (tsconfig paths resolved), so a type-only import counts as an edge too. The same run
// keeps every non-test source file under packages/*/src at most 400 lines.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import madge from "madge";

/** Server layers, lowest first: a folder may import its own layer and the ones below it, never one above. */
const serverLayers = [
  ["util", "version.ts", "config-error.ts"],
  ["ports"],
  ["domain"],
  ["adapters", "background"],
  ["http", "admin", "config.ts", "config-sources.ts"],
  ["index.ts", "main.ts", "start-options.ts", "cli.ts"],
];
/** [from, to] edges a layer rule cannot express (none today). */
const allowed = [];

function layerOf(file) {
  const top = file.split("/")[0];
  const index = serverLayers.findIndex((names) => names.includes(top));
  return index;
}

async function check(name, root, tsConfig, layered) {
  const graph = await madge(root, {
    fileExtensions: ["ts", "tsx"],
    tsConfig,
    excludeRegExp: [/\.d\.ts$/],
    detectiveOptions: { ts: { skipTypeImports: false }, tsx: { skipTypeImports: false } },
  });
  const problems = [];
  for (const circle of graph.circular()) problems.push(`${name}: import circle ${circle.join(" -> ")}`);
  if (layered) {
    for (const [from, targets] of Object.entries(graph.obj())) {
      const fromLayer = layerOf(from);
      if (fromLayer < 0) problems.push(`${name}: ${from} is in no layer (add its folder to scripts/check-imports.mjs)`);
      for (const to of targets) {
        if (allowed.some(([a, b]) => from === a && to === b)) continue;
        const toLayer = layerOf(to);
        if (toLayer > fromLayer)
          problems.push(`${name}: ${from} (layer ${fromLayer}) imports ${to} (layer ${toLayer}), a higher layer`);
      }
    }
  }
  return { problems, files: Object.keys(graph.obj()).length };
}

const results = [
  await check("server", "packages/server/src", "packages/server/tsconfig.json", true),
  await check("web", "packages/web/src", "packages/web/tsconfig.json", false),
];

/** The longest a non-test source file may be (lines, as Prettier formats it at 120 columns): past it, split the file
 * by responsibility (issue 19). */
const maxLines = 400;

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|mjs|js)$/.test(entry.name) && !/\.d\.ts$/.test(entry.name) ? [path] : [];
  });
}

function checkLength() {
  const problems = [];
  for (const pkg of readdirSync("packages")) {
    let files;
    try {
      files = sourceFiles(join("packages", pkg, "src"));
    } catch {
      continue;
    }
    for (const file of files) {
      const lines = readFileSync(file, "utf8").split("\n").length - 1;
      if (lines > maxLines)
        problems.push(`size: ${file} has ${lines} lines (more than ${maxLines}): split it by responsibility`);
    }
  }
  return problems;
}
const sizes = checkLength();

const problems = [...results.flatMap((r) => r.problems), ...sizes];
for (const line of problems) console.error(line);
console.log(
  `import graph: ${results.map((r) => r.files).join(" + ")} files; size: ${sizes.length} file(s) over ${maxLines} lines; ${problems.length} problem(s)`,
);
process.exit(problems.length === 0 ? 0 : 1);
