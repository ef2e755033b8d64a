// Shared by the scripts that make iTwin.js fixtures in a process of their own (make-fixtures.ts, bench/make-large-imodel.ts).
import { copyFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ChangesetFileProps } from "@itwin/core-common";

/**
 * Copies changeset files (HubMock's downloads) to `<outDir>/changesets/<id>.cs` and describes each as a fixture's
 * manifest.json lists it.
 */
export async function copyChangesetFiles(files: readonly ChangesetFileProps[], outDir: string) {
  const changesets = [];
  for (const f of files) {
    const pathname = join(outDir, "changesets", `${f.id}.cs`);
    await copyFile(f.pathname, pathname);
    changesets.push({
      id: f.id,
      parentId: f.parentId,
      index: f.index,
      changesType: f.changesType,
      description: f.description,
      size: (await stat(pathname)).size,
      file: `${f.id}.cs`,
    });
  }
  return changesets;
}
