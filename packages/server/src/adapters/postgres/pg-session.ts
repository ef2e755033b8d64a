import type { Pool, PoolClient, QueryConfig } from "pg";
import type pg from "pg";
import { UniqueViolation } from "../../ports/metadata-store.js";
import type { SqlSession } from "../sql/sql-session.js";

/**
 * A {@link SqlSession} on PostgreSQL: one pooled connection inside a transaction, or the pool itself (each statement
 * on any connection, autocommit). `?` placeholders become `$1…$n` (converted once per SQL text); a duplicate key is
 * a `UniqueViolation`.
 */
export class PgSession implements SqlSession {
  static readonly #converted = new Map<string, string>();

  /** `active`: false until the owner's BEGIN, and again after its COMMIT/ROLLBACK (a tx kept past its callback). */
  constructor(
    private readonly client: Pool | PoolClient,
    public active = true,
  ) {}

  async get<T>(sql: string, ...params: unknown[]): Promise<T | undefined> {
    return (await this.#query(sql, params)).rows[0] as T | undefined;
  }

  async all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return (await this.#query(sql, params)).rows as T[];
  }

  async column<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    return ((await this.#query(sql, params, "array")).rows as unknown[][]).map((row) => row[0] as T);
  }

  async run(sql: string, ...params: unknown[]): Promise<number> {
    return (await this.#query(sql, params)).rowCount ?? 0;
  }

  async #query(sql: string, params: unknown[], rowMode?: "array"): Promise<pg.QueryResult> {
    if (!this.active) throw new Error("This metadata transaction has ended; use the tx only inside its callback.");
    const text = PgSession.#placeholders(sql);
    try {
      if (rowMode) return await this.client.query({ text, values: params, rowMode });
      const config: QueryConfig = { text, values: params };
      return await this.client.query(config);
    } catch (err) {
      if ((err as { code?: string }).code === "23505") throw new UniqueViolation((err as Error).message);
      throw err;
    }
  }

  static #placeholders(sql: string): string {
    let text = PgSession.#converted.get(sql);
    if (text === undefined) PgSession.#converted.set(sql, (text = numbered(sql)));
    return text;
  }
}

/** `?` placeholders → PostgreSQL's `$1…$n`. The hub's SQL has no `?` inside string literals, so every `?` is a parameter. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
