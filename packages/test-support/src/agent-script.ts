import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type * as TypeScript from "typescript";
import { builtIsCurrent } from "./cli.js";

const require = createRequire(import.meta.url);
/** The workspace's packages/backend-access (its exports do not name package.json). */
const PACKAGE = fileURLToPath(new URL("../../backend-access/", import.meta.url));
const HOST = join(PACKAGE, "test", "support", "agent-host.ts");

export interface AgentScript {
  /** The file to fork. */
  script: string;
  /** Node's options for it. */
  execArgv: string[];
  /** Variables it needs (MODELHUB_AGENT_ACCESS: the module that gives ModelHubAccess, when not its sources). */
  env: Record<string, string>;
}

let chosen: AgentScript | undefined;

/**
 * How to run backend-access's agent host (test/support/agent-host.ts: iTwin.js users driven over IPC). When the
 * package's build is as new as its sources: as JavaScript — the .ts transpiled once by TypeScript (kept under
 * node_modules/.cache, named by a hash of its text) — with the built @modelhub/backend-access; else the .ts and the
 * package's sources through tsx, so that an agent never runs stale code. tsx's hooks see every module iTwin.js
 * loads: an agent took about 1.5 s of CPU to start through them, 0.8 s without, and a CI run starts dozens.
 * MODELHUB_TEST_FROM_SOURCE=1 always takes the sources.
 */
export function agentScript(): AgentScript {
  chosen ??= builtIsCurrent(join(PACKAGE, "src"), join(PACKAGE, "dist"))
    ? {
        script: transpiled(),
        execArgv: [],
        env: { MODELHUB_AGENT_ACCESS: pathToFileURL(join(PACKAGE, "dist", "index.js")).href },
      }
    : { script: HOST, execArgv: ["--import", "tsx"], env: {} };
  return chosen;
}

/**
 * agent-host.ts as JavaScript, in the package's node_modules (where it finds iTwin.js as the .ts does). Only the
 * file itself is transpiled: at run time it may import packages and node: modules, not files beside it (its type
 * imports are erased).
 */
function transpiled(): string {
  const source = readFileSync(HOST, "utf8");
  const ts = require("typescript") as typeof TypeScript;
  const hash = createHash("sha256").update(ts.version).update(source).digest("hex").slice(0, 16);
  const dir = join(PACKAGE, "node_modules", ".cache", "modelhub-test");
  const file = join(dir, `agent-host-${hash}.mjs`);
  try {
    statSync(file);
    return file;
  } catch {
    // not made yet
  }
  const { outputText } = ts.transpileModule(source, {
    fileName: HOST,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: false,
    },
  });
  mkdirSync(dir, { recursive: true });
  // Files run beside each other: each writes its own copy and renames it into place (the same text either way).
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, outputText);
  renameSync(temp, file);
  return file;
}
