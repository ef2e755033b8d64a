import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { PgAuditLog } from "../../src/adapters/postgres/pg-audit-log.js";
import { SqliteAuditLog } from "../../src/adapters/sqlite/sqlite-audit-log.js";
import { reusablePgSchema } from "../support/pg-schema.js";
import { auditLogContract } from "./audit-log.contract.js";

auditLogContract("sqlite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "modelhub-audit-"));
  const log = SqliteAuditLog.open(join(dir, "metadata.db"));
  return {
    log,
    cleanup: async () => {
      await log.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const pgSchema = reusablePgSchema("audit");
after(() => pgSchema.drop());

auditLogContract("postgres", async () => {
  const pool = await pgSchema.fresh();
  const log = PgAuditLog.open(pool);
  return {
    log,
    // PostgreSQL's TEXT cannot hold U+0000 (the edge refuses it; the store must still fail cleanly).
    refusedValue: "mallory\u0000",
    cleanup: async () => {
      await log.close();
      await pool.end();
    },
  };
});
