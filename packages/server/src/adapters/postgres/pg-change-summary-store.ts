import type { ChangedElementRow } from "../../ports/change-summary-store.js";
import type { SummaryDb } from "../sql/sql-change-summary-store.js";
import { ELEMENT_COLUMNS, SqlChangeSummaryStore, elementParams } from "../sql/sql-change-summary-store.js";
import type { PgPool } from "./pg-database.js";
import type { PgQueryable } from "./pg-side.js";
import { PgSide } from "./pg-side.js";

/** Element rows per INSERT statement: 10 parameters each, far below PostgreSQL's 65,535. */
const ROWS_PER_INSERT = 500;

function placeholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

class PgSummaryDb implements SummaryDb {
  constructor(
    private readonly side: PgSide,
    private readonly client?: PgQueryable,
  ) {}

  async all<T>(sql: string, params: unknown[]): Promise<T[]> {
    const q = this.client ?? this.side;
    return (await q.query(placeholders(sql), params)).rows as T[];
  }

  async run(sql: string, params: unknown[]): Promise<number> {
    const q = this.client ?? this.side;
    return (await q.query(placeholders(sql), params)).rowCount ?? 0;
  }

  transaction<T>(fn: (db: SummaryDb) => Promise<T>): Promise<T> {
    return this.side.transaction((client) => fn(new PgSummaryDb(this.side, client)));
  }

  async insertElements(db: SummaryDb, iModelId: string, rows: readonly ChangedElementRow[]): Promise<void> {
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const batch = rows.slice(start, start + ROWS_PER_INSERT);
      const values = batch.map(() => "(?,?,?,?,?,?,?,?,?,?)").join(",");
      await db.run(`INSERT INTO changed_elements (${ELEMENT_COLUMNS}) VALUES ${values}`, batch.flatMap((r) => elementParams(iModelId, r)));
    }
  }

  async close(): Promise<void> {
    this.side.close();
  }
}

/** The change-summary store on the hub's PostgreSQL pool (migrated by migratePg); closing it leaves the pool open. */
export function openPgChangeSummaryStore(pool: PgPool): SqlChangeSummaryStore {
  return new SqlChangeSummaryStore(new PgSummaryDb(new PgSide(pool, "change summary store")));
}
