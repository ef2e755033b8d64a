import { SqlGateStore } from "../sql/sql-gate-store.js";
import type { PgPool } from "./pg-database.js";
import { PgSideDatabase } from "./pg-side-database.js";

/** The iTwins' gates in the hub's PostgreSQL database, shared by every node. Closing it leaves the pool open. */
export class PgGateStore extends SqlGateStore {
  static open(pool: PgPool): PgGateStore {
    return new PgGateStore(new PgSideDatabase(pool, "gate store"));
  }
}
