import { execFile } from "node:child_process";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Bump when make-fixtures.ts changes what it makes. */
const FIXTURE_VERSION = 1;

export interface FixtureChangeset {
  id: string;
  parentId: string;
  index: number;
  pathname: string;
  changesType: number;
  size: number;
  description: string;
}

export interface Fixture {
  /** The version0 the changesets were made against (a real .bim made by iTwin.js). */
  version0Path: string;
  changesets: FixtureChangeset[];
}

/**
 * Real changesets made by iTwin.js 5.1.9 (HubMock in a child process): `count` changesets of
 * `elementsPerChangeset` inserted elements each, on top of `version0Path`. Cached in `cacheDir`, race-safe.
 */
export async function makeChangesets(cacheDir: string, count: number, elementsPerChangeset = 5): Promise<Fixture> {
  const dir = join(cacheDir, `v${FIXTURE_VERSION}-cs${count}-e${elementsPerChangeset}`);
  if (!(await exists(join(dir, "manifest.json")))) {
    await mkdir(cacheDir, { recursive: true });
    const temp = `${dir}.${process.pid}.${Date.now()}.tmp`;
    const script = fileURLToPath(new URL("./make-fixtures.ts", import.meta.url));
    try {
      await run(process.execPath, ["--import", "tsx", script, temp, String(count), String(elementsPerChangeset)], { maxBuffer: 16 * 1024 * 1024 });
      await rename(temp, dir).catch(async (err: NodeJS.ErrnoException) => {
        // Another process made the same fixture first: use theirs.
        if (!(await exists(join(dir, "manifest.json")))) throw err;
      });
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as { changesets: (Omit<FixtureChangeset, "pathname"> & { file: string })[] };
  return {
    version0Path: join(dir, "version0.bim"),
    changesets: manifest.changesets.map(({ file, ...c }) => ({ ...c, pathname: join(dir, "changesets", file) })),
  };
}

/** A real version0 .bim (cached like the changesets). */
export async function makeVersion0(cacheDir: string): Promise<string> {
  return (await makeChangesets(cacheDir, 1)).version0Path;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
