import { SideSummaryDb, SqlChangeSummaryStore } from "../sql/sql-change-summary-store.js";
import { SqliteSideDatabase } from "./sqlite-side-database.js";

/**
 * Change summaries in the embedded metadata file, on a connection of their own (like the job queue): a summary of
 * 10,000 elements is written in one write transaction that waits for the write lock without blocking the event loop.
 */
export function openSqliteChangeSummaryStore(path: string): SqlChangeSummaryStore {
  return new SqlChangeSummaryStore(new SideSummaryDb(new SqliteSideDatabase(path, "change summary store")));
}
