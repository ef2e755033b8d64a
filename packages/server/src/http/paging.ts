import type { PagingLinks } from "@modelhub/protocol";
import type { Page } from "../ports/metadata-store.js";
import type { Query } from "./query.js";

export function buildQueryString(query: Query): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    parts.push(`${key}=${encodeURIComponent(value)}`);
  }
  return parts.length > 0 ? `?${parts.join("&")}` : "";
}

/**
 * `$skip`/`$top` links that carry every original filter. `hasMore` comes from reading one row past the page.
 */
export function offsetPagingLinks(url: string, query: Query, page: Page, hasMore: boolean): PagingLinks {
  const at = (skip: number) => ({
    href: `${url}${buildQueryString({ ...query, $skip: String(skip), $top: String(page.limit) })}`,
  });
  return {
    self: at(page.offset),
    prev: page.offset > 0 ? at(Math.max(0, page.offset - page.limit)) : null,
    next: hasMore ? at(page.offset + page.limit) : null,
  };
}

/**
 * Keyset links: the next page continues after the last row instead of skipping rows, so deep pages cost the same
 * as the first. `continueWith` replaces the query keys that move the window.
 */
export function keysetPagingLinks(url: string, query: Query, page: Page, continueWith: Query | undefined): PagingLinks {
  const self = { href: `${url}${buildQueryString({ ...query, $top: String(page.limit) })}` };
  if (!continueWith) return { self, prev: null, next: null };
  const { $skip: _skip, ...rest } = query;
  return {
    self,
    prev: null,
    next: { href: `${url}${buildQueryString({ ...rest, ...continueWith, $top: String(page.limit) })}` },
  };
}

/** Reads `limit + 1` rows to learn whether another page exists, and returns the page and that answer. */
export async function readPage<T>(
  page: Page,
  read: (page: Page) => Promise<T[]>,
): Promise<{ rows: T[]; hasMore: boolean }> {
  const rows = await read({ limit: page.limit + 1, offset: page.offset });
  const hasMore = rows.length > page.limit;
  if (hasMore) rows.length = page.limit;
  return { rows, hasMore };
}
