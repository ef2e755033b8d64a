// Blocks staged for a blob and not committed yet (Azure's Put Block / Put Block List, on local files):
// `<root>/.blocks/<sha256(key)>/<sha256(blockId)>`, with the key itself in a file beside them.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo, StagedBlocks } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import type { SweepTally, TempFiles } from "./fs-blob-files.js";
import { fsync, isFile, isMissing, promote, validateKey } from "./fs-blob-files.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/** Blocks staged but never committed are dropped after a week, as Azure does with uncommitted blocks. */
const STALE_BLOCKS_MS = 7 * 24 * 3600_000;
/** Most blocks staged for one key: Azure's most blocks per committed blob (more could never be committed). */
const MAX_STAGED_BLOCKS = 50_000;
/** In each staged-blocks folder, the key the blocks are for (the folder's name is its hash). */
const KEY_FILE = "key";

/** The blocks staged for one key, as this process knows them: their sizes, and bytes arriving right now. */
interface StagedTally {
  blocks: Map<string, number>;
  bytes: number;
  inFlight: number;
}

export class FsStagedBlocks {
  /** Staged blocks per key folder, read from disk on first use (blocks staged before a restart count too). */
  readonly #staged = new Map<string, Promise<StagedTally>>();

  constructor(
    private readonly dir: string,
    private readonly temps: TempFiles,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  async stage(
    key: string,
    blockId: string,
    data: Readable,
    options: { signal?: AbortSignal; maxStagedBytes?: number } = {},
  ): Promise<void> {
    validateKey(key);
    if (blockId.length === 0 || blockId.length > 1024)
      throw new BlobStoreError("InvalidBlockId", "A block id must be 1 to 1024 characters.");
    const folder = sha(key);
    const dir = join(this.dir, folder);
    const name = sha(blockId);
    const tally = await this.#tally(folder);
    if (!tally.blocks.has(name) && tally.blocks.size >= MAX_STAGED_BLOCKS) {
      throw new BlobStoreError(
        "TooManyBlocks",
        `${MAX_STAGED_BLOCKS} blocks are staged for this blob already: commit them or start over.`,
      );
    }
    // Every byte of every block staged for the key counts, those still arriving too (blocks come in parallel); a
    // block staged again under its id replaces the old one, which counts until then.
    const max = options.maxStagedBytes ?? Number.POSITIVE_INFINITY;
    let arrived = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        arrived += chunk.length;
        tally.inFlight += chunk.length;
        if (tally.bytes - (tally.blocks.get(name) ?? 0) + tally.inFlight > max) {
          // Refused: its bytes no longer count against the blocks still arriving beside it.
          tally.inFlight -= arrived;
          arrived = 0;
          return done(
            new BlobStoreError(
              "TooLarge",
              `The blocks staged for this blob would be larger than the ${max} bytes declared for it.`,
            ),
          );
        }
        done(null, chunk);
      },
    });
    let temp: string;
    try {
      temp = await this.temps.write(data, options.signal, counter);
    } finally {
      tally.inFlight -= arrived;
    }
    try {
      mkdirSync(dir, { recursive: true });
      // The key beside its blocks: doctor and the orphan scan tell whose they are, deletePrefix finds them.
      await writeFile(join(dir, KEY_FILE), key, { flag: "wx" }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      });
      await rename(temp, join(dir, name));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    tally.bytes += arrived - (tally.blocks.get(name) ?? 0);
    tally.blocks.set(name, arrived);
  }

  /** What is staged for the key folder `folder`: from this process's tally, or from disk the first time. */
  #tally(folder: string): Promise<StagedTally> {
    let tally = this.#staged.get(folder);
    if (!tally) {
      tally = (async () => {
        const known: StagedTally = { blocks: new Map(), bytes: 0, inFlight: 0 };
        for (const block of await blockFiles(join(this.dir, folder))) {
          known.blocks.set(block.name, block.size);
          known.bytes += block.size;
        }
        return known;
      })();
      this.#staged.set(folder, tally);
      tally.catch(() => this.#staged.delete(folder));
    }
    return tally;
  }

  /** Drops the blocks staged for one key (committed, moved, deleted: nothing can use them any more). */
  async drop(key: string): Promise<void> {
    await this.#dropFolder(sha(key));
  }

  async #dropFolder(folder: string): Promise<void> {
    this.#staged.delete(folder);
    await rm(join(this.dir, folder), { recursive: true, force: true });
  }

  /**
   * Every set of blocks staged and not committed whose key starts with `prefix`; a set staged by a hub that did not
   * yet record keys beside blocks has `key` undefined (listed whatever the prefix).
   */
  async *list(prefix: string): AsyncIterable<StagedBlocks> {
    for (const folder of await readdir(this.dir).catch(() => [] as string[])) {
      const dir = join(this.dir, folder);
      const key = await readFile(join(dir, KEY_FILE), "utf8").catch(() => undefined);
      if (key !== undefined && !key.startsWith(prefix)) continue;
      const blocks = await blockFiles(dir);
      if (blocks.length === 0 && key === undefined) continue;
      const lastModified = new Date(Math.max(0, ...blocks.map((b) => b.mtimeMs)));
      yield { key, blocks: blocks.length, bytes: blocks.reduce((n, b) => n + b.size, 0), lastModified, id: folder };
    }
  }

  async delete(staged: Pick<StagedBlocks, "id">): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(staged.id)) throw new Error(`Invalid staged-blocks id '${staged.id}'.`);
    await this.#dropFolder(staged.id);
  }

  /** Concatenates the blocks, in this order, into the blob at `path`; the key's staged blocks are dropped after. */
  async commit(key: string, path: string, blockIds: readonly string[]): Promise<BlobInfo> {
    const dir = join(this.dir, sha(key));
    const parts = blockIds.map((id) => join(dir, sha(id)));
    for (const [i, part] of parts.entries()) {
      if (!(await isFile(part)))
        throw new BlobStoreError("InvalidBlockList", `Block '${blockIds[i]}' was not staged for this blob.`);
    }
    const info = await this.temps.using(async (temp) => {
      const out = createWriteStream(temp);
      try {
        for (const part of parts) await pipeline(createReadStream(part), out, { end: false });
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      } catch (err) {
        out.destroy();
        throw err;
      }
      await fsync(temp);
      return promote(temp, path);
    });
    await this.drop(key);
    return info;
  }

  /** Removes staged blocks never committed within a week (as Azure drops uncommitted blocks). */
  sweep(dryRun: boolean, removed: SweepTally): void {
    const now = Date.now();
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      try {
        if (statSync(path).mtimeMs < now - STALE_BLOCKS_MS) {
          if (!dryRun) {
            this.#staged.delete(name);
            rmSync(path, { recursive: true, force: true });
          }
          removed.files++;
        }
      } catch {
        // Gone meanwhile, or not ours to remove: not worth failing for.
      }
    }
  }
}

/** The block files of a staged-blocks folder (none when it does not exist). */
async function blockFiles(dir: string): Promise<{ name: string; size: number; mtimeMs: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const blocks: { name: string; size: number; mtimeMs: number }[] = [];
  for (const name of names) {
    if (name === KEY_FILE) continue;
    try {
      const s = await stat(join(dir, name));
      if (s.isFile()) blocks.push({ name, size: s.size, mtimeMs: s.mtimeMs });
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
  return blocks;
}
