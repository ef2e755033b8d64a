// The recorder between requests and the audit log: batches, never throws into a request, keeps entries while the
// store fails and writes them once it works again.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PgAuditLog } from "../../src/adapters/postgres/pg-audit-log.js";
import { AuditRecorder } from "../../src/background/audit-recorder.js";
import type { AuditEntry, AuditLog, AuditQuery, AuditRecord } from "../../src/ports/audit-log.js";
import { reusablePgSchema } from "../support/pg-schema.js";

/** An in-memory log that records each append call and fails while `failing` is set. */
class MemoryLog implements AuditLog {
  readonly batches: AuditEntry[][] = [];
  failing = false;
  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (this.failing) throw new Error("disk full");
    this.batches.push([...entries]);
  }
  async query(_query: AuditQuery): Promise<AuditRecord[]> {
    return [];
  }
  async prune(): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {}
  get written(): string[] {
    return this.batches.flat().map((e) => e.requestId!);
  }
}

const entry = (requestId: string): AuditEntry => ({
  at: new Date().toISOString(),
  userId: "alice",
  action: "locks.update",
  method: "PATCH",
  path: "/imodels/x/locks",
  iTwinId: null,
  iModelId: "x",
  target: "2",
  address: "127.0.0.1",
  status: 200,
  outcome: "success",
  requestId,
  details: null,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("AuditRecorder", () => {
  it("writes a batch when 100 entries wait, and the rest after the flush interval, in order", async () => {
    const log = new MemoryLog();
    const recorder = new AuditRecorder(log, { flushIntervalMs: 50, flushEntries: 100, log: () => undefined });
    for (let i = 0; i < 130; i++) recorder.record(entry(String(i)));
    await sleep(0);
    assert.deepEqual(
      log.batches.map((b) => b.length),
      [100],
      "the full batch went at once",
    );
    await sleep(120);
    assert.deepEqual(
      log.batches.map((b) => b.length),
      [100, 30],
      "the rest after the interval",
    );
    assert.deepEqual(
      log.written,
      Array.from({ length: 130 }, (_, i) => String(i)),
    );
    await recorder.close();
  });

  it("keeps entries while the store fails (record never throws) and writes them once it works, in order", async () => {
    const log = new MemoryLog();
    const messages: string[] = [];
    const recorder = new AuditRecorder(log, { flushIntervalMs: 10, log: (_level, message) => messages.push(message) });
    log.failing = true;
    recorder.record(entry("a"));
    recorder.record(entry("b"));
    await recorder.flush();
    assert.deepEqual(log.written, []);
    assert.match(messages[0] ?? "", /could not be written; retrying/);
    recorder.record(entry("c"));
    log.failing = false;
    await recorder.flush();
    assert.deepEqual(log.written, ["a", "b", "c"]);
    await recorder.close();
  });

  it("bounds what it keeps for a broken store, counting what it dropped; close writes what is left", async () => {
    const log = new MemoryLog();
    const recorder = new AuditRecorder(log, {
      flushIntervalMs: 10_000,
      flushEntries: 1000,
      maxBuffered: 3,
      log: () => undefined,
    });
    for (const id of ["1", "2", "3", "4", "5"]) recorder.record(entry(id));
    assert.equal(recorder.dropped, 2);
    await recorder.close();
    assert.deepEqual(log.written, ["3", "4", "5"], "the newest are kept");
    recorder.record(entry("after-close"));
    await recorder.flush();
    assert.deepEqual(log.written, ["3", "4", "5"], "nothing is taken after close");
  });

  describe("on real PostgreSQL", () => {
    const schema = reusablePgSchema("audit_recorder");
    after(() => schema.drop());

    it("skips and counts an entry the store refuses (a NUL), writing every other entry in order, also those after it", async () => {
      const pool = await schema.fresh();
      const log = PgAuditLog.open(pool);
      const messages: string[] = [];
      const recorder = new AuditRecorder(log, {
        flushIntervalMs: 10_000,
        flushEntries: 1000,
        log: (_level, message) => messages.push(message),
      });
      try {
        const ids = Array.from({ length: 40 }, (_, i) => String(i));
        for (const id of ids)
          recorder.record(id === "17" || id === "30" ? { ...entry(id), userId: "\u0000", iModelId: "%00" } : entry(id));
        await recorder.flush();
        const kept = (await log.query({ limit: 100 })).map((r) => r.requestId);
        assert.deepEqual(
          kept,
          ids.filter((id) => id !== "17" && id !== "30"),
          "every other entry, in order",
        );
        assert.equal(recorder.refused, 2);
        assert.equal(messages.filter((m) => /refused an entry/.test(m)).length, 2);
        // The log goes on: nothing is retried, later entries are written.
        recorder.record(entry("later"));
        await recorder.flush();
        assert.equal((await log.query({ limit: 100 })).at(-1)?.requestId, "later");
        assert.ok(!messages.some((m) => /retrying/.test(m)), "a refused entry is not retried");
      } finally {
        await recorder.close();
        await log.close();
        await pool.end();
      }
    });
  });
});
