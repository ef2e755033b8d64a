// The iTwin.js versions @modelhub/backend-access is tested with: the workspace's own, and each separate npm
// project installed by scripts/install-hosts.mjs (an app that installed iTwin.js and @modelhub/backend-access
// from the registry). Tests that run "on every host" start their agents with `root` (see agent-host.ts).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export interface TestedHost {
  /** e.g. "5.7.3 (workspace)" or "4.11.7". */
  label: string;
  /** The app folder agents run in; undefined for the workspace. */
  root?: string;
  /** The core-backend version the host must report. */
  version: string;
}

/** Folders under test/ holding a separate iTwin.js host, with the version each pins. */
export const HOST_FOLDERS = ["host4x", "host51"] as const;

function pinnedVersion(folder: string): string {
  const pkg = JSON.parse(readFileSync(new URL(`../${folder}/package.json`, import.meta.url), "utf8")) as {
    dependencies: Record<string, string>;
  };
  return pkg.dependencies["@itwin/core-backend"]!;
}

/** The separate hosts only (not the workspace). */
export function separateHosts(): Required<TestedHost>[] {
  return HOST_FOLDERS.map((folder) => ({
    label: pinnedVersion(folder),
    root: fileURLToPath(new URL(`../${folder}`, import.meta.url)),
    version: pinnedVersion(folder),
  }));
}

export function testedHosts(): TestedHost[] {
  const require = createRequire(import.meta.url);
  const workspace = (require("@itwin/core-backend/package.json") as { version: string }).version;
  return [{ label: `${workspace} (workspace)`, version: workspace }, ...separateHosts()];
}
