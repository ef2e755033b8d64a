// Real iModel files and changesets made by the workspace's iTwin.js, for any test. They are made once by
// make-fixtures.ts in a child process (HubMock and IModelHost are process singletons) and cached under the directory
// the caller gives (by convention join(os.tmpdir(), "modelhub-fixtures")), keyed by their parameters and the iTwin.js
// version that made them (checkouts on other versions share the folder). Treat them as read-only: many tests share
// them.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Bump when make-fixtures.ts changes what it makes for the same parameters. */
const FIXTURE_VERSION = 1;
/** The iTwin.js that makes the fixtures (make-fixtures.ts runs the workspace's). */
const ITWIN_VERSION = (
  JSON.parse(readFileSync(createRequire(import.meta.url).resolve("@itwin/core-backend/package.json"), "utf8")) as {
    version: string;
  }
).version;

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

export interface ChangesetFixtureOptions {
  /** Generic:PhysicalObject elements each changeset inserts (default 5). */
  elementsPerChangeset?: number;
}

export interface BriefcaseFixture extends Fixture {
  /** A briefcase of the iModel after `changesets` were pushed, with saved but unpushed changes (txns). */
  briefcasePath: string;
  briefcaseId: number;
  /** The changeset the briefcase is at: the last of `changesets`. */
  changesetId: string;
  changesetIndex: number;
  /** Elements inserted by the unpushed changes. */
  pendingElements: number;
}

interface Manifest {
  changesets: (Omit<FixtureChangeset, "pathname"> & { file: string })[];
  briefcase?: {
    file: string;
    briefcaseId: number;
    changesetId: string;
    changesetIndex: number;
    pendingElements: number;
  };
}

/**
 * Real changesets made by iTwin.js: `count` changesets, each inserting `elementsPerChangeset` physical elements,
 * pushed to HubMock from a briefcase of `version0Path`. They apply in order to `version0Path` and to any copy of it
 * stamped with other iModel/iTwin ids (the hub's baseline).
 */
export async function makeChangesets(
  cacheDir: string,
  count: number,
  options: number | ChangesetFixtureOptions = {},
): Promise<Fixture> {
  const perChangeset = (typeof options === "number" ? options : options.elementsPerChangeset) ?? 5;
  const { dir, manifest } = await ensure(cacheDir, `cs${count}-e${perChangeset}`, [
    String(count),
    String(perChangeset),
  ]);
  return fixtureOf(dir, manifest);
}

/**
 * A real version 0 made by iTwin.js (a snapshot with one physical model and one spatial category, no elements).
 * `name` is its root subject (default "modelhub fixture").
 */
export async function makeVersion0(cacheDir: string, options: { name?: string } = {}): Promise<string> {
  const args = ["0", "0"];
  let key = "v0";
  if (options.name !== undefined) {
    args.push("--name", options.name);
    key += `-${createHash("sha256").update(options.name).digest("hex").slice(0, 16)}`;
  }
  const { dir } = await ensure(cacheDir, key, args);
  return join(dir, "version0.bim");
}

/** A real briefcase (briefcase id ≥ 2, at changeset `count`, with unpushed txns) and the changesets before it. */
export async function makeBriefcase(cacheDir: string, count = 2, pendingElements = 3): Promise<BriefcaseFixture> {
  const { dir, manifest } = await ensure(cacheDir, `cs${count}-e5-bc${pendingElements}`, [
    String(count),
    "5",
    "--briefcase",
    String(pendingElements),
  ]);
  const { file, ...briefcase } = manifest.briefcase!;
  return { ...fixtureOf(dir, manifest), briefcasePath: join(dir, file), ...briefcase };
}

function fixtureOf(dir: string, manifest: Manifest): Fixture {
  return {
    version0Path: join(dir, "version0.bim"),
    changesets: manifest.changesets.map(({ file, ...c }) => ({ ...c, pathname: join(dir, "changesets", file) })),
  };
}

/** Makes the fixture `key` unless cached. Safe when processes race: each makes its own, the first rename wins. */
async function ensure(
  cacheDir: string,
  key: string,
  scriptArgs: string[],
): Promise<{ dir: string; manifest: Manifest }> {
  const dir = join(cacheDir, `v${FIXTURE_VERSION}-itwin${ITWIN_VERSION}-${key}`);
  const manifestPath = join(dir, "manifest.json");
  if (!(await exists(manifestPath))) {
    await mkdir(cacheDir, { recursive: true });
    const temp = `${dir}.${process.pid}.${Date.now()}.tmp`;
    const script = fileURLToPath(new URL("./make-fixtures.ts", import.meta.url));
    try {
      await run(process.execPath, ["--import", import.meta.resolve("tsx"), script, temp, ...scriptArgs], {
        maxBuffer: 16 * 1024 * 1024,
      });
      await rename(temp, dir).catch(async (err: NodeJS.ErrnoException) => {
        // Another process made the same fixture first: use theirs.
        if (!(await exists(manifestPath))) throw err;
      });
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }
  return { dir, manifest: JSON.parse(await readFile(manifestPath, "utf8")) as Manifest };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
