import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteAuditLog } from "../../src/adapters/sqlite/sqlite-audit-log.js";
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
