import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { AuditEntry, AuditLog } from "../../src/ports/audit-log.js";
import { AuditEntriesRefused } from "../../src/ports/audit-log.js";

/**
 * A fresh, empty log; `cleanup` closes it and removes what it left behind. `refusedValue`: a user id this store
 * refuses for what it is (PostgreSQL: one holding a NUL), where there is one.
 */
export type AuditLogFactory = () => Promise<{ log: AuditLog; cleanup(): Promise<void>; refusedValue?: string }>;

const IMODEL_A = "11111111-1111-4111-8111-111111111111";
const IMODEL_B = "22222222-2222-4222-8222-222222222222";

function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: "2026-01-01T00:00:00.000Z",
    userId: "alice",
    action: "changeset.create",
    method: "POST",
    path: `/imodels/${IMODEL_A}/changesets`,
    iTwinId: "itwin-1",
    iModelId: IMODEL_A,
    target: "a".repeat(40),
    address: "127.0.0.1",
    status: 201,
    outcome: "success",
    requestId: "req-1",
    details: null,
    ...overrides,
  };
}

/** The AuditLog contract: every adapter must pass it unchanged. */
export function auditLogContract(name: string, factory: AuditLogFactory): void {
  describe(`AuditLog contract: ${name}`, () => {
    let log: AuditLog;
    let cleanup: () => Promise<void>;
    let refusedValue: string | undefined;
    beforeEach(async () => {
      ({ log, cleanup, refusedValue } = await factory());
    });
    afterEach(() => cleanup());

    it("append stores every field as given, with increasing seq; an empty log answers nothing", async () => {
      assert.deepEqual(await log.query({ limit: 10 }), []);
      const first = entry({ details: { size: 12, nested: { code: "x" } } });
      const second = entry({
        userId: null,
        action: "storage.upload",
        method: "PUT",
        iTwinId: null,
        iModelId: null,
        target: null,
        address: null,
        status: 403,
        outcome: "refused",
        requestId: null,
      });
      await log.append([first, second]);
      const rows = await log.query({ limit: 10 });
      assert.equal(rows.length, 2);
      const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
      assert.ok(Number.isInteger(a.seq) && b.seq > a.seq, `seq increases: ${a.seq} < ${b.seq}`);
      assert.deepEqual({ ...a, seq: 0 }, { ...first, seq: 0 });
      assert.deepEqual({ ...b, seq: 0 }, { ...second, seq: 0 });
      await log.append([entry({ requestId: "req-3" })]);
      const third = (await log.query({ limit: 10 })).at(-1)!;
      assert.equal(third.requestId, "req-3");
      assert.ok(third.seq > b.seq, "a later append gets a larger seq");
    });

    it("an entry the store refuses for what it holds fails the append with AuditEntriesRefused, and none of the call is kept", async (t) => {
      if (refusedValue === undefined) return t.skip("this store keeps every value");
      await assert.rejects(
        log.append([entry({ requestId: "good" }), entry({ userId: refusedValue, requestId: "bad" })]),
        AuditEntriesRefused,
      );
      assert.deepEqual(await log.query({ limit: 10 }), []);
      await log.append([entry({ requestId: "next" })]);
      assert.deepEqual(
        (await log.query({ limit: 10 })).map((r) => r.requestId),
        ["next"],
        "the log works on",
      );
    });

    it("append of nothing is a no-op", async () => {
      await log.append([]);
      assert.deepEqual(await log.query({ limit: 10 }), []);
    });

    it("query filters by iModel, iTwin, user, action and time range, all combined", async () => {
      await log.append([
        entry({ requestId: "1", at: "2026-01-01T10:00:00.000Z" }),
        entry({ requestId: "2", at: "2026-01-02T10:00:00.000Z", userId: "bob", action: "locks.update" }),
        entry({ requestId: "3", at: "2026-01-03T10:00:00.000Z", iModelId: IMODEL_B, iTwinId: "itwin-2" }),
        entry({
          requestId: "4",
          at: "2026-01-04T10:00:00.000Z",
          userId: "bob",
          iModelId: IMODEL_B,
          action: "briefcase.release",
        }),
      ]);
      const ids = async (q: Parameters<AuditLog["query"]>[0]) => (await log.query(q)).map((r) => r.requestId);
      assert.deepEqual(await ids({ limit: 10, iModelId: IMODEL_A }), ["1", "2"]);
      assert.deepEqual(await ids({ limit: 10, iTwinId: "itwin-1" }), ["1", "2", "4"]);
      assert.deepEqual(await ids({ limit: 10, userId: "bob" }), ["2", "4"]);
      assert.deepEqual(await ids({ limit: 10, action: "changeset.create" }), ["1", "3"]);
      assert.deepEqual(
        await ids({ limit: 10, since: new Date("2026-01-02T10:00:00.000Z") }),
        ["2", "3", "4"],
        "since is inclusive",
      );
      assert.deepEqual(
        await ids({ limit: 10, until: new Date("2026-01-03T10:00:00.000Z") }),
        ["1", "2"],
        "until is exclusive",
      );
      assert.deepEqual(
        await ids({ limit: 10, userId: "bob", iModelId: IMODEL_B, since: new Date("2026-01-01T00:00:00.000Z") }),
        ["4"],
      );
      assert.deepEqual(await ids({ limit: 10, userId: "carol" }), []);
    });

    it("keyset paging walks every entry once, oldest first or newest first", async () => {
      const all = Array.from({ length: 25 }, (_, i) => entry({ requestId: String(i) }));
      await log.append(all.slice(0, 10));
      await log.append(all.slice(10));
      const forward: string[] = [];
      let after: number | undefined;
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 10, "paging ends");
        const page = await log.query({ limit: 7, ...(after !== undefined ? { afterSeq: after } : {}) });
        forward.push(...page.map((r) => r.requestId!));
        if (page.length < 7) break;
        after = page.at(-1)!.seq;
      }
      assert.deepEqual(
        forward,
        all.map((e) => e.requestId),
      );
      const backward: string[] = [];
      let before: number | undefined;
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 10, "paging ends");
        const page = await log.query({
          limit: 7,
          newestFirst: true,
          ...(before !== undefined ? { beforeSeq: before } : {}),
        });
        backward.push(...page.map((r) => r.requestId!));
        if (page.length < 7) break;
        before = page.at(-1)!.seq;
      }
      assert.deepEqual(backward, all.map((e) => e.requestId).reverse());
    });

    it("prune removes entries older than the cutoff and keeps the rest", async () => {
      // Thousands of old entries (more than one internal chunk), then recent ones, appended in time order.
      const old = Array.from({ length: 4500 }, (_, i) =>
        entry({ requestId: `old-${i}`, at: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString() }),
      );
      const recent = Array.from({ length: 5 }, (_, i) =>
        entry({ requestId: `new-${i}`, at: new Date(Date.UTC(2026, 5, 1) + i * 1000).toISOString() }),
      );
      await log.append(old);
      await log.append(recent);
      assert.equal(await log.prune(new Date(Date.UTC(2026, 0, 1))), 4500);
      assert.deepEqual(
        (await log.query({ limit: 100 })).map((r) => r.requestId),
        recent.map((e) => e.requestId),
      );
      assert.equal(await log.prune(new Date(Date.UTC(2026, 0, 1))), 0, "nothing more to prune");
      assert.equal(await log.prune(new Date(Date.UTC(2026, 5, 1, 0, 0, 2))), 2, "the cutoff is exclusive");
      assert.deepEqual(
        (await log.query({ limit: 100 })).map((r) => r.requestId),
        ["new-2", "new-3", "new-4"],
      );
    });

    it("a closed log refuses work", async () => {
      await log.close();
      await assert.rejects(() => log.append([entry()]), /closed/);
      await assert.rejects(() => log.query({ limit: 1 }), /closed/);
    });
  });
}
