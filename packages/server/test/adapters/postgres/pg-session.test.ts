// What a PostgreSQL metadata transaction sends: its BEGIN and advisory locks in one message with its first statement
// (whose values travel as literals, meaning what they mean as parameters), and nothing at all for a callback that
// sends nothing. Counted on the pool's connections (pg's Client.query, the one way the hub talks to PostgreSQL).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { migratePg, openPgPool } from "../../../src/adapters/postgres/pg-database.js";
import { PgMetadataStore } from "../../../src/adapters/postgres/pg-metadata-store.js";
import { PgSession, withLiterals } from "../../../src/adapters/postgres/pg-session.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";

describe("PostgreSQL sessions: round trips of a transaction", () => {
  let schema: Awaited<ReturnType<typeof privateSchema>>;
  let pool: pg.Pool;
  let store: PgMetadataStore;
  const sent: string[] = [];
  const query = pg.Client.prototype.query;

  before(async () => {
    schema = await privateSchema("pg_session");
    pool = openPgPool(schema.url, { max: 4 });
    await migratePg(pool);
    store = new PgMetadataStore(pool);
    // Every message the pool's connections send, in order.
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { text: string };
      sent.push(typeof config === "string" ? config : config.text);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
  });
  after(async () => {
    pg.Client.prototype.query = query;
    await store.close();
    await pool.end();
    await schema.drop();
  });

  /** The messages `work` sends, once the read's COMMIT (not waited for) went out too. */
  async function messagesOf(work: () => Promise<unknown>): Promise<string[]> {
    sent.length = 0;
    await work();
    await new Promise((resolve) => setTimeout(resolve, 50));
    return [...sent];
  }

  it("a scoped write: BEGIN, the lock and the first statement in one message, then the rest, then COMMIT", async () => {
    const iModelId = "6290554a-6add-481e-b59d-89d925d5c41b";
    const messages = await messagesOf(() =>
      store.transaction({ iModelId }, async (tx) => {
        assert.equal(await tx.getIModel(iModelId), undefined);
        assert.equal(await tx.getBriefcase(iModelId, 2), undefined);
      }),
    );
    assert.equal(messages.length, 3, messages.join("\n---\n"));
    assert.match(
      messages[0]!,
      /^BEGIN;\nSELECT pg_advisory_xact_lock\(.*modelhub:imodel:6290554a.*\);\nSELECT \* FROM imodels WHERE id = '6290554a/,
    );
    assert.match(messages[1]!, /FROM briefcases WHERE imodel_id = \$1/);
    assert.equal(messages[2], "COMMIT");
  });

  it("a provisional write (a push's reservation) does not wait for the WAL flush, in its own transaction only", async () => {
    const iModelId = "0b0e6d52-3a43-4bd7-9a55-0d2c2f3f4a10";
    const messages = await messagesOf(() =>
      store.transaction({ iModelId, provisional: true }, async (tx) => {
        assert.equal(await tx.getIModel(iModelId), undefined);
      }),
    );
    assert.equal(messages.length, 2, messages.join("\n---\n"));
    assert.match(
      messages[0]!,
      /^BEGIN;\nSET LOCAL synchronous_commit TO OFF;\nSELECT pg_advisory_xact_lock\(.*modelhub:imodel:0b0e6d52.*\);\nSELECT \* FROM imodels/,
    );
    assert.equal(messages[1], "COMMIT");
    // SET LOCAL ends with its transaction: every connection of the pool is back to the server's setting.
    const settings = await Promise.all(
      Array.from({ length: 4 }, () => pool.query<{ synchronous_commit: string }>("SHOW synchronous_commit")),
    );
    assert.deepEqual(new Set(settings.map((r) => r.rows[0]!.synchronous_commit)), new Set(["on"]));
  });

  it("a read: one message for BEGIN and its statement, and a COMMIT; a callback that sends nothing sends nothing", async () => {
    const one = await messagesOf(() => store.read((tx) => tx.getIModel("nope")));
    assert.equal(one.length, 2, one.join("\n---\n"));
    assert.match(
      one[0]!,
      /^BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT \* FROM imodels WHERE id = 'nope'$/,
    );
    assert.equal(one[1], "COMMIT");
    assert.deepEqual(await messagesOf(() => store.transaction({ iModelId: "x" }, async () => 1)), []);
    assert.deepEqual(await messagesOf(() => store.read(async () => 1)), []);
  });

  it("a failed first statement rolls the transaction back; the store goes on", async () => {
    const client = await pool.connect();
    try {
      const session = new PgSession(client);
      session.deferUntilFirst(["BEGIN"]);
      await assert.rejects(session.get("SELECT * FROM no_such_table WHERE id = ?", "a"), /no_such_table/);
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    assert.equal(await store.read((tx) => tx.getIModel("x")), undefined);
  });

  it("values as literals mean what they mean as parameters; what cannot be one travels as a parameter", async () => {
    const values: unknown[] = [
      "plain",
      "it's",
      "back\\slash and 'both'",
      "ünïcødé 🚀",
      "",
      42,
      -1.5,
      0,
      true,
      false,
      null,
      "2026-12-07T23:59:59.999Z",
      '{"a":[1,"x\'y"]}',
    ];
    const client = await pool.connect();
    try {
      for (const value of values) {
        const inlined = withLiterals("SELECT ? AS v, ? IS NULL AS n", [value, value]);
        assert.ok(inlined !== undefined, `inlined: ${String(value)}`);
        const asLiteral = (await client.query(inlined)).rows[0] as Record<string, unknown>;
        const asParams = (await client.query("SELECT $1::text AS v, $2::text IS NULL AS n", [value, value]))
          .rows[0] as Record<string, unknown>;
        assert.deepEqual({ v: asLiteral.v, n: asLiteral.n }, { v: asParams.v, n: asParams.n }, String(value));
      }
      // As a comparison with a typed column, both are the column's type.
      const typed = withLiterals("SELECT 1 WHERE 5::bigint > ? AND 'b'::text > ?", [3, "a"])!;
      assert.equal((await client.query(typed)).rowCount, 1);
    } finally {
      client.release();
    }
    assert.equal(withLiterals("SELECT ?", ["nul\0inside"]), undefined);
    assert.equal(withLiterals("SELECT ?", [Buffer.from("x")]), undefined);
    assert.equal(withLiterals("SELECT ?", [{ a: 1 }]), undefined);
    assert.equal(withLiterals("SELECT ?, ?", ["one"]), undefined);
    assert.equal(withLiterals("SELECT ?", ["x".repeat(20_000)]), undefined);
  });
});
