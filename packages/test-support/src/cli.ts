import { readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";

/** The server package's folder (the workspace's packages/server). */
const SERVER = dirname(createRequire(import.meta.url).resolve("@modelhub/server/package.json"));
const SOURCE = join(SERVER, "src");
const BUILT = join(SERVER, "dist");

/**
 * Whether every `source`/**.ts has its `built`/**.js, written after it (what `tsc -b` leaves; npm ci's build does
 * it). Always false under MODELHUB_TEST_FROM_SOURCE=1.
 */
export function builtIsCurrent(source: string, built: string): boolean {
  if (process.env.MODELHUB_TEST_FROM_SOURCE === "1") return false;
  const walk = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).every((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      if (!entry.name.endsWith(".ts") || entry.name.endsWith(".d.ts")) return true;
      try {
        return statSync(join(built, relative(source, path)).replace(/\.ts$/, ".js")).mtimeMs >= statSync(path).mtimeMs;
      } catch {
        return false;
      }
    });
  return walk(source);
}

const FROM_BUILD = builtIsCurrent(SOURCE, BUILT);

// The iTwin.js worker that a server running from its sources forks (server's adapters/itwin-worker/itwin-worker.ts):
// the built one when it is current. Through tsx a worker start cost ~0.7 s more CPU, and a test run starts hundreds.
if (FROM_BUILD) process.env.MODELHUB_WORKER_ENTRY ??= join(BUILT, "adapters", "itwin-worker", "itwin-worker-main.js");

/** The server package's entry (its exports: startServer, makeConfig…), chosen as for MODELHUB below. */
export const SERVER_ENTRY = FROM_BUILD ? join(BUILT, "index.js") : join(SOURCE, "index.ts");

/**
 * Node's arguments that run `modelhub`, to put after `process.execPath`: the built `dist/cli.js` when it is as new
 * as the sources (it starts in about half the time: nothing to compile), else `src/cli.ts` through tsx, so that a
 * test never runs stale code. MODELHUB_TEST_FROM_SOURCE=1 always takes the sources.
 */
export const MODELHUB: readonly string[] = FROM_BUILD
  ? [join(BUILT, "cli.js")]
  : ["--import", "tsx", join(SOURCE, "cli.ts")];
