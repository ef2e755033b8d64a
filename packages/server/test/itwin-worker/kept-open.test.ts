import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KeptOpen } from "../../src/adapters/itwin-worker/kept-open.js";

class FakeDb {
  closed = 0;
  close(): void {
    this.closed++;
  }
}

describe("KeptOpen (summary briefcases kept open between worker calls)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-kept-open-"));
  after(() => rm(dir, { recursive: true, force: true }));

  it("gives back the briefcase kept for a path while the path names the same file, once", async () => {
    const kept = new KeptOpen<FakeDb>(60_000, 4);
    const path = join(dir, "a.bim");
    await writeFile(path, "a");
    const db = new FakeDb();
    kept.keep(path, db);
    assert.equal(kept.take(path), db);
    assert.equal(kept.take(path), undefined, "taken: the caller owns it until it keeps it again");
    assert.equal(db.closed, 0);
    kept.keep(path, db);
    kept.close(path);
    assert.equal(db.closed, 1);
    assert.equal(kept.take(path), undefined);
  });

  it("closes it instead when the file was deleted (the server dropped its cached briefcase)", async () => {
    const kept = new KeptOpen<FakeDb>(60_000, 4);
    const path = join(dir, "b.bim");
    await writeFile(path, "b");
    const db = new FakeDb();
    kept.keep(path, db);
    await rm(path);
    assert.equal(kept.take(path), undefined);
    assert.equal(db.closed, 1);
    // Keeping one whose file is gone closes it at once.
    const other = new FakeDb();
    kept.keep(path, other);
    assert.equal(other.closed, 1);
  });

  it("closes the oldest beyond its bound, and any after its idle time", async () => {
    const kept = new KeptOpen<FakeDb>(50, 2);
    const dbs = await Promise.all(
      ["c", "d", "e"].map(async (name) => {
        const path = join(dir, `${name}.bim`);
        await writeFile(path, name);
        const db = new FakeDb();
        kept.keep(path, db);
        return { path, db };
      }),
    );
    assert.deepEqual(
      dbs.map(({ db }) => db.closed),
      [1, 0, 0],
    );
    await sleep(200);
    assert.deepEqual(
      dbs.map(({ db }) => db.closed),
      [1, 1, 1],
    );
    assert.equal(kept.take(dbs[2]!.path), undefined);
  });
});
