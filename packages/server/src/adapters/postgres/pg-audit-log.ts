import type { AuditEntry, AuditLog, AuditQuery, AuditRecord } from "../../ports/audit-log.js";
import { AuditEntriesRefused } from "../../ports/audit-log.js";
import type { AuditRow } from "../sql/audit-rows.js";
import { auditSelectOf, PRUNE_CHUNK, toAuditRecord } from "../sql/audit-rows.js";
import type { PgPool } from "./pg-database.js";
import type { PgQueryable } from "./pg-side.js";
import { PgSide } from "./pg-side.js";

const COLUMNS = ["at", "user_id", "action", "method", "path", "itwin_id", "imodel_id", "target", "address", "status", "outcome", "request_id", "details"];
/** Rows per INSERT statement: 13 parameters each stays far below PostgreSQL's 65,535 per statement. */
const INSERT_CHUNK = 1000;
/** The advisory lock appends hold until they commit (see {@link PgAuditLog}). */
const APPEND_LOCK = "modelhub audit_log append";

/**
 * The audit log in table `audit_log` of the hub's PostgreSQL database.
 *
 * Why appends are serialized: `seq` comes from an identity sequence, and two transactions that draw numbers and
 * commit in the other order would let a reader paging with `afterSeq` pass the lower number before it became
 * visible and never see that entry. Appends therefore hold a transaction-scoped advisory lock (one at a time across
 * all nodes; each is one short INSERT), so seq order is commit order, as on SQLite's single writer.
 */
export class PgAuditLog implements AuditLog {
  readonly #side: PgSide;

  private constructor(pool: PgPool) {
    this.#side = new PgSide(pool, "audit log");
  }

  /** A log on `pool` (migrated by migratePg). Closing the log leaves the pool open. */
  static open(pool: PgPool): PgAuditLog {
    return new PgAuditLog(pool);
  }

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#side.transaction(async (client) => {
      try {
        await insert(client, entries);
      } catch (err) {
        // Data exceptions (a NUL in text: 22021), integrity and size limits (an index row too big: 54000) come from
        // what an entry holds, not from the database's state: the same entries would be refused again.
        if (/^(22|23|54)/.test(String((err as { code?: unknown }).code))) throw new AuditEntriesRefused(`PostgreSQL refused an audit entry: ${(err as Error).message}`, { cause: err });
        throw err;
      }
    }, [APPEND_LOCK]);
  }


  async query(query: AuditQuery): Promise<AuditRecord[]> {
    const { sql, params } = auditSelectOf(query, (_name, position) => `$${position}`);
    return (await this.#side.query<AuditRow>(sql, params.map((p) => p.value))).rows.map(toAuditRecord);
  }

  async prune(olderThan: Date): Promise<number> {
    const cutoff = olderThan.toISOString();
    let removed = 0;
    for (;;) {
      // Entries are appended in time order, so the old ones are the first by seq: each chunk reads the front of the
      // table only, and the loop stops at the first chunk that is not all old.
      const result = await this.#side.query(
        `DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log ORDER BY seq LIMIT ${PRUNE_CHUNK}) AND at < $1`,
        [cutoff],
      );
      const changes = result.rowCount ?? 0;
      removed += changes;
      if (changes < PRUNE_CHUNK) return removed;
    }
  }

  async close(): Promise<void> {
    this.#side.close();
  }
}

async function insert(client: PgQueryable, entries: readonly AuditEntry[]): Promise<void> {
  for (let start = 0; start < entries.length; start += INSERT_CHUNK) {
    const chunk = entries.slice(start, start + INSERT_CHUNK);
    const params: unknown[] = [];
    const rows = chunk.map((e) => {
      params.push(e.at, e.userId, e.action, e.method, e.path, e.iTwinId, e.iModelId, e.target, e.address, e.status, e.outcome, e.requestId);
      params.push(e.details === null ? null : JSON.stringify(e.details));
      const first = params.length - COLUMNS.length;
      return `(${COLUMNS.map((_, i) => `$${first + i + 1}`).join(", ")})`;
    });
    await client.query(`INSERT INTO audit_log (${COLUMNS.join(", ")}) VALUES ${rows.join(", ")}`, params);
  }
}
