import type { Pool, PoolClient, QueryConfig } from "pg";
import pg from "pg";
import { UniqueViolation } from "../../ports/metadata-store.js";
import type { SqlSession } from "../sql/sql-session.js";

/**
 * A {@link SqlSession} on PostgreSQL: one pooled connection inside a transaction, or the pool itself (each statement
 * on any connection, autocommit). `?` placeholders become `$1…$n` (converted once per SQL text); a duplicate key is
 * a `UniqueViolation`.
 */
export class PgSession implements SqlSession {
  static readonly #converted = new Map<string, string>();
  /** Statements to send in front of the first one (see {@link deferUntilFirst}). */
  #deferred: readonly string[] = [];
  #sent = false;

  /** `active`: false until the owner's BEGIN, and again after its COMMIT/ROLLBACK (a tx kept past its callback). */
  constructor(
    private readonly client: Pool | PoolClient,
    public active = true,
  ) {}

  /**
   * Sends `statements` (a BEGIN, advisory locks: no parameters) in front of this session's first statement, in the
   * same message when that statement's values can be written as literals: one round trip instead of one each (pg
   * has no pipelining, and the extended protocol takes one statement per message). They run first and in order, so
   * the statement reads after the locks are held.
   */
  deferUntilFirst(statements: readonly string[]): void {
    this.#deferred = statements;
  }

  /** Whether any statement was sent (the deferred ones with the first): when not, there is no transaction to end. */
  get sent(): boolean {
    return this.#sent;
  }

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
    this.#sent = true;
    try {
      if (this.#deferred.length > 0) {
        const deferred = this.#deferred;
        this.#deferred = [];
        const inlined = withLiterals(sql, params);
        if (inlined !== undefined) {
          // The simple protocol: one message, several statements, one result each (the last is this statement's).
          const results = (await this.client.query({
            text: [...deferred, inlined].join(";\n"),
            ...(rowMode ? { rowMode } : {}),
          })) as unknown as pg.QueryResult[];
          return results.at(-1)!;
        }
        await this.client.query(deferred.join(";\n"));
      }
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

/** Longest statement {@link withLiterals} writes: a bigger one (a batch of ids) is sent with its parameters. */
const MAX_INLINED = 16 * 1024;

/**
 * `sql` with each `?` replaced by its value as a quoted literal, or undefined when a value is not a string (without
 * NUL), number, boolean or null (or the text would be long). A quoted literal is of unknown type until its use gives it one, like
 * a parameter pg sends as text (which is how pg sends these), so the statement means the same.
 */
export function withLiterals(sql: string, params: readonly unknown[]): string | undefined {
  const literals: string[] = [];
  let length = sql.length;
  for (const value of params) {
    let literal: string;
    if (value === null || value === undefined) literal = "NULL";
    // A NUL cannot travel in the simple protocol's text (PostgreSQL would call the message malformed): as a parameter
    // it is refused as the data error it is.
    else if (typeof value === "string" && !value.includes("\0")) literal = pg.escapeLiteral(value);
    else if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean")
      literal = `'${String(value)}'`;
    else return undefined;
    length += literal.length;
    if (length > MAX_INLINED) return undefined;
    literals.push(literal);
  }
  let i = 0;
  const text = sql.replace(/\?/g, () => literals[i++] ?? "?");
  return i === literals.length ? text : undefined;
}
