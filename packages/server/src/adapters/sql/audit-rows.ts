import type { AuditOutcome, AuditQuery, AuditRecord } from "../../ports/audit-log.js";

/** A row of table `audit_log`; `details` is JSON text. */
export interface AuditRow {
  seq: number;
  at: string;
  user_id: string | null;
  action: string;
  method: string;
  path: string;
  itwin_id: string | null;
  imodel_id: string | null;
  target: string | null;
  address: string | null;
  status: number;
  outcome: AuditOutcome;
  request_id: string | null;
  details: string | null;
}

/** Rows removed per prune statement: short write transactions, so other writers never wait long behind a prune. */
export const PRUNE_CHUNK = 2000;

/** A parameter of {@link auditSelectOf}'s statement: its name (for named placeholders) and value. */
export interface AuditParam {
  readonly name: string;
  readonly value: string | number;
}

/**
 * The SELECT that answers `query`, with each value's placeholder written by `placeholder` (`@name` on SQLite, `$n`
 * on PostgreSQL; `position` counts from 1), and the parameters in placeholder order.
 */
export function auditSelectOf(
  query: AuditQuery,
  placeholder: (name: string, position: number) => string,
): { sql: string; params: AuditParam[] } {
  const where: string[] = [];
  const params: AuditParam[] = [];
  const add = (column: string, operator: string, name: string, value: string | number | undefined) => {
    if (value === undefined) return;
    params.push({ name, value });
    where.push(`${column} ${operator} ${placeholder(name, params.length)}`);
  };
  add("imodel_id", "=", "iModelId", query.iModelId);
  add("itwin_id", "=", "iTwinId", query.iTwinId);
  add("user_id", "=", "userId", query.userId);
  add("action", "=", "action", query.action);
  add("at", ">=", "since", query.since?.toISOString());
  add("at", "<", "until", query.until?.toISOString());
  add("seq", ">", "afterSeq", query.afterSeq);
  add("seq", "<", "beforeSeq", query.beforeSeq);
  params.push({ name: "limit", value: Math.max(0, Math.floor(query.limit)) });
  const sql = `SELECT * FROM audit_log ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq ${query.newestFirst ? "DESC" : "ASC"} LIMIT ${placeholder("limit", params.length)}`;
  return { sql, params };
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    seq: row.seq,
    at: row.at,
    userId: row.user_id,
    action: row.action,
    method: row.method,
    path: row.path,
    iTwinId: row.itwin_id,
    iModelId: row.imodel_id,
    target: row.target,
    address: row.address,
    status: row.status,
    outcome: row.outcome,
    requestId: row.request_id,
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
  };
}
