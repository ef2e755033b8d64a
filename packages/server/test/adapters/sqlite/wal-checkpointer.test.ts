// The hub's SQLite connections never checkpoint inside a COMMIT; the WAL is copied into the database by a thread of
// its own.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openSqliteDatabase } from "../../../src/adapters/sqlite/sqlite-database.js";
import { WalCheckpointer } from "../../../src/adapters/sqlite/wal-checkpointer.js";

describe("WalCheckpointer", () => {
  it("a connection's commits leave their pages in the WAL; the checkpointer's thread copies them into the database", async () => {
    const dir = await mkdtemp(join(tmpdir(), "modelhub-wal-"));
    const path = join(dir, "metadata.db");
    const db = openSqliteDatabase(path);
    try {
      assert.equal(db.pragma("wal_autocheckpoint", { simple: true }), 0);
      db.exec("CREATE TABLE t (x TEXT)");
      const before = (await stat(path)).size;
      const insert = db.prepare("INSERT INTO t VALUES (?)");
      // 8 MB in many commits: far past SQLite's own 1,000-page checkpoint threshold.
      for (let i = 0; i < 40; i++)
        db.transaction(() => {
          for (let j = 0; j < 200; j++) insert.run("x".repeat(1000));
        })();
      assert.equal((await stat(path)).size, before, "nothing was checkpointed by the commits");
      const checkpointer = new WalCheckpointer(path);
      try {
        for (let waited = 0; (await stat(path)).size < 8_000_000; waited += 100) {
          assert.ok(waited < 10_000, "the checkpointer copied the WAL into the database");
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(db.prepare("SELECT count(*) FROM t").pluck().get(), 8000);
      } finally {
        await checkpointer.close();
      }
    } finally {
      db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
