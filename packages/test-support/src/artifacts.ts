import { copyFile, mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where failed runs leave their logs: `$MODELHUB_TEST_ARTIFACTS`, else `test-results/` at the repository's root. */
export function artifactsRoot(): string {
  return process.env.MODELHUB_TEST_ARTIFACTS ?? fileURLToPath(new URL("../../../test-results", import.meta.url));
}

/**
 * Copies `files` (those that exist) into a new folder `<artifactsRoot>/<name>-<time>/`, prints its path on stderr
 * and returns it. Called by long tests when they fail (or with MODELHUB_TEST_KEEP_LOGS=1), so that the logs of the
 * processes they ran can be read.
 */
export async function keepArtifacts(name: string, files: readonly string[]): Promise<string> {
  const dir = join(artifactsRoot(), `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  await mkdir(dir, { recursive: true });
  const kept: string[] = [];
  for (const file of files) {
    try {
      await copyFile(file, join(dir, basename(file)));
      kept.push(basename(file));
    } catch {
      // never written (the process did not get that far)
    }
  }
  process.stderr.write(`${name}: logs kept in ${dir} (${kept.join(", ") || "none were written"})\n`);
  return dir;
}
