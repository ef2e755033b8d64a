import { SqlIdentityStore } from "../sql/sql-identity-store.js";
import type { PgPool } from "./pg-database.js";
import { PgSideDatabase } from "./pg-side-database.js";

/** The identity store in the hub's PostgreSQL database, shared by every node (see {@link SqlIdentityStore}). */
export class PgIdentityStore extends SqlIdentityStore {
  /** A store on `pool` (migrated by migratePg). Closing the store leaves the pool open. */
  static open(pool: PgPool): PgIdentityStore {
    return new PgIdentityStore(new PgSideDatabase(pool, "identity store"));
  }
}
