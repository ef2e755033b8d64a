import { SqlGateStore } from "../sql/sql-gate-store.js";
import { SqliteSideDatabase } from "./sqlite-side-database.js";

/** The iTwins' gates on the metadata database file, on a connection of its own (see {@link SqliteSideDatabase}). */
export class SqliteGateStore extends SqlGateStore {
  static open(path: string): SqliteGateStore {
    return new SqliteGateStore(new SqliteSideDatabase(path, "gate store"));
  }
}
