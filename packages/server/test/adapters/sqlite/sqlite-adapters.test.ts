// SQLite-specific behaviour of the metadata store, job queue and side database that the port contracts do not cover: the file
// format (pragmas, versioned migrations), sharing one file between connections, and never blocking the event loop.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../../../src/adapters/sqlite/migrations.js";
import type { Migration } from "../../../src/adapters/sqlite/migrations.js";
import {
  SchemaTooNewError,
  SideConnection,
  openSqliteDatabase,
  schemaVersion,
} from "../../../src/adapters/sqlite/sqlite-database.js";
import { SqliteJobQueue } from "../../../src/adapters/sqlite/sqlite-job-queue.js";
import { SqliteSideDatabase } from "../../../src/adapters/sqlite/sqlite-side-database.js";
import { SqliteMetadataStore, openSqliteMetadataStore } from "../../../src/adapters/sqlite/sqlite-metadata-store.js";
import type { MetadataTx } from "../../../src/ports/metadata-store.js";
import { UniqueViolation } from "../../../src/ports/metadata-store.js";
import { iModel } from "../../contract/metadata-store.contract.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("SQLite adapters", () => {
  let dir: string;
  let path: string;
  const toClose: { close(): unknown }[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-sqlite-"));
    path = join(dir, "metadata.db");
  });
  afterEach(async () => {
    for (const c of toClose.splice(0).reverse()) await c.close();
    await rm(dir, { recursive: true, force: true });
  });
  const track = <T extends { close(): unknown }>(c: T): T => {
    toClose.push(c);
    return c;
  };

  describe("database file", () => {
    it("opens in WAL with foreign keys, synchronous NORMAL and the asked busy timeout, at the newest schema", () => {
      const db = track(openSqliteDatabase(path, { busyTimeoutMs: 1234 }));
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      assert.equal(db.pragma("foreign_keys", { simple: true }), 1);
      assert.equal(db.pragma("synchronous", { simple: true }), 1);
      assert.equal(db.pragma("busy_timeout", { simple: true }), 1234);
      const applied = db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all();
      assert.deepEqual(
        applied,
        MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      );
      const tables = (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]
      ).sort();
      for (const table of [
        "imodels",
        "changesets",
        "briefcases",
        "named_versions",
        "changeset_groups",
        "extended_data",
        "checkpoints",
        "locks",
        "shared_locks",
        "jobs",
      ]) {
        assert.ok(tables.includes(table), `table ${table}`);
      }
      const reader = track(openSqliteDatabase(path, { readonly: true }));
      assert.equal(reader.pragma("foreign_keys", { simple: true }), 1);
      assert.throws(() => reader.exec("DELETE FROM imodels"), /readonly/i);
    });

    // Issue 18, finding 12: every connection's page cache is a bound on the hub's memory (it fills and is kept).
    it("page caches: 16 MB for the metadata store's connections, 2 MB beside them; no connection checkpoints in a COMMIT", () => {
      const db = track(openSqliteDatabase(path));
      assert.equal(db.pragma("cache_size", { simple: true }), -16_000);
      assert.equal(db.pragma("wal_autocheckpoint", { simple: true }), 0);
      const side = track(new SideConnection(path, "test"));
      assert.equal(side.db.pragma("cache_size", { simple: true }), -2_000);
      assert.equal(side.db.pragma("wal_autocheckpoint", { simple: true }), 0);
    });

    it("applies only the migrations the file lacks, in order, each in one transaction", () => {
      const m1: Migration = { version: 1, name: "one", sql: "CREATE TABLE a (x INTEGER)" };
      const m2: Migration = { version: 2, name: "two", sql: "CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (1)" };
      const broken: Migration = {
        version: 3,
        name: "broken",
        sql: "CREATE TABLE c (x INTEGER); INSERT INTO nowhere VALUES (1)",
      };
      openSqliteDatabase(path, { migrations: [m1] }).close();
      const db = openSqliteDatabase(path, { migrations: [m1, m2] });
      assert.equal(schemaVersion(db), 2);
      assert.equal(
        db.prepare("SELECT COUNT(*) FROM a").pluck().get(),
        1,
        "migration 1 was not applied twice, 2 ran once",
      );
      db.close();
      openSqliteDatabase(path, { migrations: [m1, m2] }).close();
      assert.throws(() => openSqliteDatabase(path, { migrations: [m1, m2, broken] }), /no such table: nowhere/);
      const after = track(new Database(path));
      assert.equal(schemaVersion(after), 2);
      assert.equal(
        after.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'c'").pluck().get(),
        0,
        "the failed migration left nothing",
      );
      assert.equal(after.prepare("SELECT COUNT(*) FROM a").pluck().get(), 1);
      assert.throws(() => openSqliteDatabase(join(dir, "x.db"), { migrations: [m2, m1] }), /out of order/);
    });

    it("refuses a file written by a newer modelhub, with a message that says so", async () => {
      openSqliteDatabase(path).close();
      const raw = new Database(path);
      raw
        .prepare(
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00.000Z')",
        )
        .run();
      raw.close();
      const newest = MIGRATIONS.at(-1)!.version;
      const expected = (err: unknown) =>
        err instanceof SchemaTooNewError &&
        err.fileVersion === 999 &&
        err.knownVersion === newest &&
        err.message.includes(path) &&
        /schema version 999.*only knows versions up to \d+.*newer modelhub/s.test(err.message);
      assert.throws(() => openSqliteDatabase(path), expected);
      assert.throws(() => openSqliteDatabase(path, { readonly: true }), expected);
      await assert.rejects(openSqliteMetadataStore(path), expected);
      assert.throws(() => SqliteJobQueue.open(path), expected);
    });

    it("keeps committed data across close and reopen", async () => {
      const store = await openSqliteMetadataStore(path);
      await store.transaction((tx) => tx.insertIModel(iModel("m1")));
      await store.close();
      const again = track(await openSqliteMetadataStore(path));
      assert.deepEqual(await again.read((tx) => tx.getIModel("m1")), iModel("m1"));
    });
  });

  describe("side database (the connection of the job queue, audit log, identities, access)", () => {
    const profile =
      "INSERT INTO user_profiles (user_id, display_name, given_name, surname, email, updated_at) VALUES (?, NULL, NULL, NULL, NULL, 'now')";
    const users = (side: SqliteSideDatabase) =>
      side.session.column<string>("SELECT user_id FROM user_profiles ORDER BY user_id");

    it("a statement arriving while a transaction is open waits for its end instead of joining it (and its rollback)", async () => {
      const side = track(new SqliteSideDatabase(path, "test store"));
      const order: string[] = [];
      let outside: Promise<number> | undefined;
      await assert.rejects(
        side.transaction(async (tx) => {
          await tx.run(profile, "in-tx");
          // Same connection, transaction still open across a macrotask: this statement must not become part of it.
          outside = side.session.run(profile, "outside").then((n) => (order.push("outside ran"), n));
          await new Promise((resolve) => setImmediate(resolve));
          order.push("tx ends");
          throw new Error("roll back");
        }),
        /roll back/,
      );
      assert.equal(await outside, 1);
      assert.deepEqual(order, ["tx ends", "outside ran"]);
      assert.deepEqual(await users(side), ["outside"], "the rollback took only the transaction's own row");
    });

    it("transactions on one connection run one after the other; a duplicate key is a UniqueViolation that undoes the step", async () => {
      const side = track(new SqliteSideDatabase(path, "test store"));
      await Promise.all(
        ["a", "b", "c"].map((id) =>
          side.transaction(async (tx) => {
            await tx.run(profile, id);
            await new Promise((resolve) => setImmediate(resolve));
            await tx.run(profile, `${id}2`);
          }),
        ),
      );
      assert.deepEqual(await users(side), ["a", "a2", "b", "b2", "c", "c2"]);
      await assert.rejects(
        side.transaction(async (tx) => {
          await tx.run(profile, "d");
          await tx.run(profile, "a");
        }),
        UniqueViolation,
      );
      assert.deepEqual(await users(side), ["a", "a2", "b", "b2", "c", "c2"]);
      side.close();
      await assert.rejects(side.session.get("SELECT 1"), /The test store is closed/);
    });
  });

  describe("metadata store", () => {
    it("a tx kept past its callback refuses to run (no write outside a transaction)", async () => {
      const store = track(SqliteMetadataStore.open(path));
      let leaked: MetadataTx | undefined;
      await store.transaction(async (tx) => {
        leaked = tx;
      });
      await assert.rejects(leaked!.insertIModel(iModel("m1")), /transaction has ended/);
      assert.equal(await store.read((tx) => tx.getIModel("m1")), undefined);
    });

    it("after close, transactions and reads reject", async () => {
      const store = SqliteMetadataStore.open(path);
      await store.close();
      await assert.rejects(
        store.transaction(async () => 1),
        /closed/,
      );
      await assert.rejects(
        store.read(async () => 1),
        /closed/,
      );
      await store.close();
    });

    it("a second store on the same file waits for the first one's transaction without blocking the event loop", async () => {
      const a = track(SqliteMetadataStore.open(path));
      const b = track(SqliteMetadataStore.open(path));
      const order: string[] = [];
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      try {
        const first = a.transaction(async (tx) => {
          await tx.insertIModel(iModel("m1"));
          await sleep(150);
          order.push("a");
        });
        await sleep(20);
        const ticksBefore = ticks;
        const second = b.transaction(async (tx) => {
          order.push("b");
          await tx.insertIModel(iModel("m2", { name: (await tx.getIModel("m1"))!.name + "-copy" }));
        });
        await Promise.all([first, second]);
        // A wait that blocked the event loop would let no 5 ms timer fire in it (~130 ms); a loaded machine delays
        // timers, so only a few are asked for (a run at load 9 saw 9 where 26 fit).
        assert.ok(ticks - ticksBefore >= 4, `timers kept firing while b waited (${ticks - ticksBefore} ticks)`);
      } finally {
        clearInterval(timer);
      }
      assert.deepEqual(order, ["a", "b"]);
      assert.equal((await a.read((tx) => tx.getIModel("m2")))?.name, "name-m1-copy");
    });
  });

  describe("job queue", () => {
    it("shares the metadata file, and waits for a transaction open across awaits without blocking the event loop", async () => {
      const store = track(SqliteMetadataStore.open(path));
      const queue = track(SqliteJobQueue.open(path));
      const order: string[] = [];
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      let ticksBefore = 0;
      try {
        const tx = store.transaction(async (t) => {
          await t.insertIModel(iModel("m1"));
          await sleep(150);
          order.push("transaction");
        });
        await sleep(20);
        ticksBefore = ticks;
        const job = await queue.enqueue({ kind: "k", payload: { iModelId: "m1" } });
        order.push("enqueue");
        await tx;
        assert.equal((await queue.claim(["k"], "w", 1000))?.id, job.id);
      } finally {
        clearInterval(timer);
      }
      assert.deepEqual(order, ["transaction", "enqueue"]);
      // As above: a blocked wait lets no timer fire; a loaded machine delays them (9 of 26 seen at load 9).
      assert.ok(ticks - ticksBefore >= 4, `timers kept firing while the queue waited (${ticks - ticksBefore} ticks)`);
      assert.ok(await store.read((t) => t.getIModel("m1")));
    });

    it("two queues on one file never hand out the same job", async () => {
      const q1 = track(SqliteJobQueue.open(path));
      const q2 = track(SqliteJobQueue.open(path));
      const ids = new Set<string>();
      for (let i = 0; i < 20; i++) ids.add((await (i % 2 ? q1 : q2).enqueue({ kind: "k", payload: { i } })).id);
      const claimed: string[] = [];
      await Promise.all(
        [q1, q2, q1, q2].map(async (q, w) => {
          for (;;) {
            const job = await q.claim(["k"], `w${w}`, 60_000);
            if (!job) return;
            claimed.push(job.id);
            await sleep(1);
          }
        }),
      );
      assert.equal(claimed.length, 20);
      assert.deepEqual(new Set(claimed), ids);
      assert.equal(
        await q1.enqueue({ kind: "k", payload: {}, dedupeKey: "same" }).then((j) => j.id),
        await q2.enqueue({ kind: "k", payload: {}, dedupeKey: "same" }).then((j) => j.id),
      );
    });

    it("refuses a maxAttempts below 1 and rejects use after close", async () => {
      const queue = SqliteJobQueue.open(path);
      await assert.rejects(queue.enqueue({ kind: "k", payload: {}, maxAttempts: 0 }), RangeError);
      await queue.close();
      await assert.rejects(queue.get("x"), /closed/);
      await assert.rejects(queue.enqueue({ kind: "k", payload: {} }), /closed/);
    });
  });
});
