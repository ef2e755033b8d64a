import { SqlAccessStore } from "../sql/sql-access-store.js";
import { SqliteSideDatabase } from "./sqlite-side-database.js";

/**
 * The access tables on the metadata database file, on a connection of its own (see {@link SqliteSideDatabase}):
 * writes wait for the write lock asynchronously, so they never stall the metadata store's transaction in flight.
 */
export class SqliteAccessStore extends SqlAccessStore {
  static open(path: string): SqliteAccessStore {
    return new SqliteAccessStore(new SqliteSideDatabase(path, "access store"));
  }
}
