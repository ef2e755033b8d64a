/**
 * The one SQL layer under every store of the metadata database: statements are written once, with `?` placeholders,
 * against a {@link SqlSession}; the few places where SQLite and PostgreSQL spell a query differently are a
 * {@link SqlDialect}. The SQLite and PostgreSQL adapters only provide sessions (connections, transactions) and,
 * where a backend truly differs, a statement of their own with the reason (job claiming: SKIP LOCKED).
 */

/**
 * One connection's way to run SQL with `?` placeholders (inside a transaction the store opened, or one statement at
 * a time). Adapters (SQLite, PostgreSQL) implement it; the stores are written once over it for both.
 * `run` resolves to the number of rows changed and throws `UniqueViolation` for a duplicate key.
 */
export interface SqlSession {
  get<T>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  all<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** The first column of every row. */
  column<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  run(sql: string, ...params: unknown[]): Promise<number>;
}

/** The few places where SQLite and PostgreSQL spell the same query differently. */
export interface SqlDialect {
  /**
   * A FROM item named `alias` with one row per element of a JSON array of strings passed as one `?` parameter, its
   * column `value` (batches of object ids travel as one parameter, so a 10,000-lock request is a few statements).
   */
  stringList(alias: string): string;
  /**
   * A join (with ON) that keeps its left side outermost: SQLite's CROSS JOIN does (its planner would otherwise loop
   * over all of an iModel's locks for each requested id); PostgreSQL's planner chooses well with a plain JOIN.
   */
  orderedJoin: string;
  /**
   * An UPDATE (with `set`) or DELETE of the rows of `table` that match `where` and whose `object_id` is in a JSON array
   * of strings passed as one `?` parameter; `idsFirst` says whether that parameter comes before `where`'s (after
   * `set`'s either way). Each id must be one primary-key probe, not a scan of the list per row.
   */
  byObjectIds(table: string, set: string | undefined, where: string): { sql: string; idsFirst: boolean };
  /**
   * Appended to an ORDER BY text column so both databases order by bytes: SQLite's default; PostgreSQL's default
   * collation follows the server's locale, so it says `COLLATE "C"`.
   */
  byteOrder: string;
  /** The column that numbers rows of `jobs` and `access_tokens` in insertion order: SQLite's rowid, PostgreSQL's seq. */
  insertionOrder: string;
}

export const SQLITE_DIALECT: SqlDialect = {
  stringList: (alias) => `json_each(?) ${alias}`,
  orderedJoin: "CROSS JOIN",
  byteOrder: "",
  insertionOrder: "rowid",
  byObjectIds: (table, set, where) => ({
    sql: `${set === undefined ? `DELETE FROM ${table}` : `UPDATE ${table} SET ${set}`} WHERE ${where} AND object_id IN (SELECT value FROM json_each(?))`,
    idsFirst: false,
  }),
};

export const POSTGRES_DIALECT: SqlDialect = {
  stringList: (alias) => `json_array_elements_text(CAST(? AS json)) AS ${alias}(value)`,
  orderedJoin: "JOIN",
  byteOrder: ' COLLATE "C"',
  insertionOrder: "seq",
  // A join with the id list: PostgreSQL then probes the primary key once per id. `object_id IN (SELECT … FROM
  // json_array_elements_text …)` ran the function again for every row (32 s to release 10,000 locks by id), and
  // `= ANY (ARRAY(…))` compared every row with the whole array (4.6 s).
  byObjectIds: (table, set, where) => ({
    sql:
      set === undefined
        ? `DELETE FROM ${table} USING json_array_elements_text(CAST(? AS json)) AS j(value) WHERE ${where} AND ${table}.object_id = j.value`
        : `UPDATE ${table} SET ${set} FROM json_array_elements_text(CAST(? AS json)) AS j(value) WHERE ${where} AND ${table}.object_id = j.value`,
    idsFirst: true,
  }),
};
