import { SqlIdentityStore } from "../sql/sql-identity-store.js";
import { SqliteSideDatabase } from "./sqlite-side-database.js";

/**
 * The identity store on the metadata database file, on a connection of its own (see {@link SqliteSideDatabase}):
 * reads see every committed write at once (WAL), which is what makes a revocation take effect on the next request —
 * also when `modelhub tokens revoke` runs in another process.
 */
export class SqliteIdentityStore extends SqlIdentityStore {
  /** Opens the store on the database file at `path` (the metadata store's file), bringing its schema up to date. */
  static open(path: string): SqliteIdentityStore {
    return new SqliteIdentityStore(new SqliteSideDatabase(path, "identity store"));
  }
}
