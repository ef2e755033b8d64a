// `modelhub migrate --metadata postgres://…` as an operator runs it: a separate process over the real PostgreSQL.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { openPgPool } from "../../src/adapters/postgres/pg-database.js";
import { PG_MIGRATIONS } from "../../src/adapters/postgres/pg-migrations.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";
import { MODELHUB } from "@modelhub/test-support/cli.js";

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [...MODELHUB, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
}

const schema = await privateSchema("cli");
after(() => schema.drop());
const newest = PG_MIGRATIONS.at(-1)!;

describe("modelhub migrate", () => {
  it("migrates a new PostgreSQL schema, then reports it current; --json prints one object", async () => {
    const first = await run(["migrate", "--metadata", schema.url]);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, new RegExp(`applied ${newest.version} `));
    assert.match(first.out, new RegExp(`is at schema version ${newest.version} \\(was 0\\)`));

    const again = await run(["migrate", "--metadata", schema.url, "--json"]);
    assert.equal(again.code, 0, again.err);
    const lines = again.out.trim().split("\n");
    assert.equal(lines.length, 1);
    assert.deepEqual(JSON.parse(lines[0]!), {
      ok: true,
      database: schema.url,
      from: newest.version,
      to: newest.version,
      applied: [],
    });

    const pool = openPgPool(schema.url, { max: 1 });
    try {
      const tables = await pool.query<{ n: number }>(
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'jobs'",
      );
      assert.equal(tables.rows[0]!.n, 1, "the schema holds the hub's tables");
    } finally {
      await pool.end();
    }
  });

  it("refuses (exit 2) a database migrated by a newer modelhub, naming its newest migration", async () => {
    const pool = openPgPool(schema.url, { max: 1 });
    try {
      await pool.query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'sharded changesets', $2)",
        [newest.version + 5, new Date().toISOString()],
      );
    } finally {
      await pool.end();
    }
    const refused = await run(["migrate", "--metadata", schema.url, "--json"]);
    assert.equal(refused.code, 2);
    // Under --json the refusal is one JSON object on stderr, nothing on stdout.
    assert.equal(refused.out, "");
    const body = JSON.parse(refused.err) as { error: { code: string; message: string; exitCode: number } };
    assert.deepEqual([body.error.code, body.error.exitCode], ["Refused", 2]);
    assert.match(body.error.message, /schema version \d+ \("sharded changesets"\)/);
  });

  // Each run starts the whole CLI (seconds under load): one run covers the failure path and the password's redaction.
  it("fails (exit 1) when the server cannot be reached, without printing the password", async () => {
    const unreachable = await run(["migrate", "--metadata", "postgres://postgres:secret@127.0.0.1:1/test", "--json"]);
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.out, "");
    assert.match((JSON.parse(unreachable.err) as { error: { message: string } }).error.message, /ECONNREFUSED/);
    assert.doesNotMatch(unreachable.out + unreachable.err, /secret/, "the password is never printed");
  });
});

describe("modelhub tokens --metadata postgres://…", () => {
  it("creates, lists and revokes tokens in the shared database (a new schema is migrated first), as the nodes read them", async () => {
    const own = await privateSchema("tokens");
    try {
      const created = await run([
        "tokens",
        "create",
        "--user",
        "carol",
        "--description",
        "ci runner",
        "--metadata",
        own.url,
        "--json",
      ]);
      assert.equal(created.code, 0, created.err);
      const token = JSON.parse(created.out) as { id: string; token: string; userId: string };
      assert.equal(token.userId, "carol");
      const listed = await run(["tokens", "list", "--metadata", own.url, "--json"]);
      assert.equal(listed.code, 0, listed.err);
      // A list under --json: one token per line.
      const tokens = listed.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: string; state: string });
      assert.deepEqual(
        tokens.map((t) => [t.id, t.state]),
        [[token.id, "active"]],
      );
      const revoked = await run(["tokens", "revoke", token.id, "--metadata", own.url, "--json"]);
      assert.equal(revoked.code, 0, revoked.err);
      const pool = openPgPool(own.url, { max: 1 });
      try {
        const row = await pool.query<{ revoked: boolean; secretStored: boolean }>(
          'SELECT revoked_at IS NOT NULL AS revoked, token_hash = $2 AS "secretStored" FROM access_tokens WHERE id = $1',
          [token.id, token.token],
        );
        assert.deepEqual(
          row.rows,
          [{ revoked: true, secretStored: false }],
          "revoked in the database, and only a hash of the secret kept",
        );
      } finally {
        await pool.end();
      }
      const bad = await run([
        "tokens",
        "list",
        "--metadata",
        "postgres://postgres@127.0.0.1:5432/test?schema=Not-A-Name",
      ]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /schema name "Not-A-Name"/);
    } finally {
      await own.drop();
    }
  });
});
