import { SideSummaryDb, SqlChangeSummaryStore } from "../sql/sql-change-summary-store.js";
import type { PgPool } from "./pg-database.js";
import { PgSideDatabase } from "./pg-side-database.js";

/** The change-summary store on the hub's PostgreSQL pool (migrated by migratePg); closing it leaves the pool open. */
export function openPgChangeSummaryStore(pool: PgPool): SqlChangeSummaryStore {
  return new SqlChangeSummaryStore(new SideSummaryDb(new PgSideDatabase(pool, "change summary store")));
}
