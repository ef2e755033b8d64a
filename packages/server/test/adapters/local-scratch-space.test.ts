// LocalScratchSpace: folders per call (withDirectory) and files in a folder kept while the process runs (withFile).
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { describe, it } from "node:test";
import { LocalScratchSpace } from "../../src/adapters/fs/local-scratch-space.js";
import { sweepScratch } from "../../src/background/maintenance.js";

describe("LocalScratchSpace", () => {
  it("withFile: a path of its own in one kept folder of this process, the file removed when fn settles (also on failure)", async () => {
    const root = join(await mkdtemp(join(tmpdir(), "modelhub-scratch-")), "tmp");
    try {
      const scratch = new LocalScratchSpace(root); // the root is made when first needed
      const paths: string[] = [];
      await scratch.withFile("verify", "a/b.cs", async (path) => {
        paths.push(path);
        await writeFile(path, "x");
      });
      await assert.rejects(
        scratch.withFile("verify", "b.cs", async (path) => {
          paths.push(path);
          await writeFile(path, "y");
          throw new Error("refused");
        }),
        /refused/,
      );
      assert.notEqual(paths[0], paths[1]);
      assert.equal(dirname(paths[0]!), dirname(paths[1]!));
      assert.match(basename(dirname(paths[0]!)), new RegExp(`^verify-${process.pid}-`));
      assert.ok(basename(paths[0]!).endsWith("a_b.cs"));
      // The files are gone, the folder stays (and this live process's folder is not swept).
      assert.deepEqual(await readdir(dirname(paths[0]!)), []);
      assert.equal(await sweepScratch(root), 0);
      assert.ok((await stat(dirname(paths[0]!))).isDirectory());
      // withDirectory still gives a new folder each time and removes it.
      let dir = "";
      await scratch.withDirectory("checkpoint", async (d) => {
        dir = d;
        await writeFile(join(d, "f"), "z");
      });
      await assert.rejects(stat(dir), { code: "ENOENT" });
    } finally {
      await rm(dirname(root), { recursive: true, force: true });
    }
  });
});
