import { randomUUID } from "node:crypto";
import type { GateChange, GateFailureMode, GateRecord, GateStore, NewGate } from "../../ports/gate-store.js";
import type { SideDatabase } from "./side-database.js";

interface GateRow {
  id: string;
  itwin_id: string;
  name: string;
  url: string;
  timeout_ms: number | string;
  failure: string;
  secret: string | null;
  created_at: string;
  created_by: string;
}

const COLUMNS = "id, itwin_id, name, url, timeout_ms, failure, secret, created_at, created_by";

function toGate(row: GateRow): GateRecord {
  return {
    id: row.id,
    iTwinId: row.itwin_id,
    name: row.name,
    url: row.url,
    timeoutMs: Number(row.timeout_ms),
    failure: row.failure as GateFailureMode,
    secret: row.secret,
    createdAt: row.created_at,
    createdBy: row.created_by,
  };
}

/** Table `itwin_gates` of the metadata database, for SQLite and PostgreSQL alike; every method is one statement. */
export class SqlGateStore implements GateStore {
  constructor(private readonly db: SideDatabase) {}

  async create(gate: NewGate): Promise<GateRecord> {
    const row = await this.db.session.get<GateRow>(
      `INSERT INTO itwin_gates (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
      randomUUID(),
      gate.iTwinId,
      gate.name,
      gate.url,
      gate.timeoutMs,
      gate.failure,
      gate.secret,
      gate.createdAt,
      gate.createdBy,
    );
    return toGate(row!);
  }

  async get(iTwinId: string, id: string): Promise<GateRecord | undefined> {
    const row = await this.db.session.get<GateRow>(
      `SELECT ${COLUMNS} FROM itwin_gates WHERE itwin_id = ? AND id = ?`,
      iTwinId,
      id,
    );
    return row && toGate(row);
  }

  async list(iTwinId: string): Promise<GateRecord[]> {
    const rows = await this.db.session.all<GateRow>(
      `SELECT ${COLUMNS} FROM itwin_gates WHERE itwin_id = ? ORDER BY created_at, ${this.db.dialect.insertionOrder}`,
      iTwinId,
    );
    return rows.map(toGate);
  }

  async listAll(): Promise<GateRecord[]> {
    const rows = await this.db.session.all<GateRow>(
      `SELECT ${COLUMNS} FROM itwin_gates ORDER BY created_at, ${this.db.dialect.insertionOrder}`,
    );
    return rows.map(toGate);
  }

  async update(iTwinId: string, id: string, change: GateChange): Promise<GateRecord | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [];
    const column = { name: "name", url: "url", timeoutMs: "timeout_ms", failure: "failure", secret: "secret" };
    for (const [field, name] of Object.entries(column)) {
      const value = change[field as keyof GateChange];
      if (value === undefined) continue;
      sets.push(`${name} = ?`);
      params.push(value);
    }
    if (sets.length === 0) return this.get(iTwinId, id);
    const row = await this.db.session.get<GateRow>(
      `UPDATE itwin_gates SET ${sets.join(", ")} WHERE itwin_id = ? AND id = ? RETURNING ${COLUMNS}`,
      ...params,
      iTwinId,
      id,
    );
    return row && toGate(row);
  }

  async delete(iTwinId: string, id: string): Promise<boolean> {
    return (await this.db.session.run("DELETE FROM itwin_gates WHERE itwin_id = ? AND id = ?", iTwinId, id)) > 0;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
