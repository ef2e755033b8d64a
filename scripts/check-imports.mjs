// The import graph's rules, checked in `npm test`: no circle in the server's or the web UI's sources, and no import
// from a lower layer to a higher one in the server (docs/architecture.md draws the layers). madge reads the graph
// from the TypeScript sources (tsconfig paths resolved), so a type-only import counts as an edge too.
import madge from "madge";

/** Server layers, lowest first: a folder may import its own layer and the ones below it, never one above. */
const serverLayers = [
  ["util", "version.ts", "config-error.ts"],
  ["ports"],
  ["domain"],
  ["adapters", "background"],
  ["http", "admin", "config.ts", "config-sources.ts"],
  ["index.ts", "main.ts", "cli.ts"],
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
const problems = results.flatMap((r) => r.problems);
for (const line of problems) console.error(line);
console.log(`import graph: ${results.map((r) => r.files).join(" + ")} files, ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
