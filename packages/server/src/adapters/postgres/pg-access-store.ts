import { SqlAccessStore } from "../sql/sql-access-store.js";
import type { PgPool } from "./pg-database.js";
import { PgSideDatabase } from "./pg-side-database.js";

/** The access tables in the hub's PostgreSQL database, shared by every node (see {@link SqlAccessStore}). */
export class PgAccessStore extends SqlAccessStore {
  /** A store on `pool` (migrated by migratePg). Closing the store leaves the pool open. */
  static open(pool: PgPool): PgAccessStore {
    return new PgAccessStore(new PgSideDatabase(pool, "access store"));
  }
}
