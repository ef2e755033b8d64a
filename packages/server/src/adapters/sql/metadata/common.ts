// What the metadata port's queries (./*.ts, mapped onto the port by ../sql-metadata-tx.ts) share.
import type { ApplicationRef, Page, SortDirection } from "../../../ports/metadata-store.js";
import type { SqlDialect, SqlSession } from "../sql-session.js";

/** What every query of the metadata port runs on: the transaction's session and the dialect to spell it in. */
export interface SqlContext {
  readonly s: SqlSession;
  readonly dialect: SqlDialect;
}

export type Row = Record<string, unknown>;

export const json = (value: unknown): string | null =>
  value === null || value === undefined ? null : JSON.stringify(value);

export const parseJson = <T>(value: unknown): T | null => (typeof value === "string" ? (JSON.parse(value) as T) : null);

export const dir = (d: SortDirection) => (d === "desc" ? "DESC" : "ASC");

/** SQLite reads a negative LIMIT as "no limit": clamp, so a page is never larger than asked. */
export const limitOf = (page: Page) => Math.max(0, Math.floor(page.limit));

export const offsetOf = (page: Page) => Math.max(0, Math.floor(page.offset));

/** The `name` (exact), `search` (name or description contains, any case) and `state` filters iModels and versions share. */
export function addNameSearchState(
  filter: { name?: string; search?: string; state?: string },
  where: string[],
  params: unknown[],
): void {
  if (filter.name !== undefined) {
    where.push("name = ?");
    params.push(filter.name);
  }
  if (filter.search !== undefined) {
    // LIKE with the needle's wildcards escaped: the same on both databases (mh_lower folds beyond ASCII on both).
    where.push("(mh_lower(name) LIKE ? ESCAPE '!' OR mh_lower(coalesce(description, '')) LIKE ? ESCAPE '!')");
    const needle = `%${filter.search.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
    params.push(needle, needle);
  }
  if (filter.state !== undefined) {
    where.push("state = ?");
    params.push(filter.state);
  }
}

/** Present only when stored, so records written without one read back as they were written. */
export function applicationOf(r: Row): { application?: ApplicationRef } {
  return r.application_id != null
    ? {
        application: {
          id: r.application_id as string,
          name: (r.application_name as string | null) ?? (r.application_id as string),
        },
      }
    : {};
}
