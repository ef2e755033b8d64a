import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "@modelhub/protocol";
import type { Page, SortDirection } from "../ports/metadata-store.js";
import { invalidValue } from "../domain/errors.js";

export type Query = Record<string, string | undefined>;

/**
 * The official clients do not percent-encode query values (only spaces become %20), so `+` is a literal plus and
 * a value may contain anything but `&` and `#`. Decode `%xx` only; the first occurrence of a key wins.
 */
export function parseQueryString(raw: string): Query {
  const result: Query = {};
  for (const part of raw.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const key = safeDecode(eq >= 0 ? part.slice(0, eq) : part);
    const value = eq >= 0 ? safeDecode(part.slice(eq + 1)) : "";
    if (!(key in result)) result[key] = value;
  }
  return result;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `$top` (1..1000, default 100) and `$skip` (≥ 0), with the seed's error details. */
export function parsePage(query: Query, operation: string): Page {
  const top = query["$top"];
  const skip = query["$skip"];
  let limit = DEFAULT_PAGE_SIZE;
  let offset = 0;
  if (top !== undefined) {
    if (!/^\d+$/.test(top) || Number(top) < 1 || Number(top) > MAX_PAGE_SIZE) {
      throw invalidValue(
        operation,
        "$top",
        `'${top}' is not a valid '$top' value. '$top' must be an integer between 1 and ${MAX_PAGE_SIZE}.`,
      );
    }
    limit = Number(top);
  }
  if (skip !== undefined) {
    if (!/^\d+$/.test(skip) || !Number.isSafeInteger(Number(skip))) {
      throw invalidValue(
        operation,
        "$skip",
        `'${skip}' is not a valid '$skip' value. '$skip' must be a non-negative integer.`,
      );
    }
    offset = Number(skip);
  }
  return { limit, offset };
}

/** `$orderBy=<field>[ asc|desc]` for one of the allowed fields. */
export function parseOrderBy<F extends string>(
  query: Query,
  operation: string,
  allowed: readonly F[],
): { field: F; direction: SortDirection } | undefined {
  const raw = query["$orderBy"];
  if (raw === undefined) return undefined;
  const match = /^\s*([A-Za-z]+)(?:\s+(asc|desc))?\s*$/i.exec(raw);
  const field = allowed.find((f) => f.toLowerCase() === match?.[1]?.toLowerCase());
  if (!match || !field) {
    throw invalidValue(
      operation,
      "$orderBy",
      `'${raw}' is not a valid '$orderBy' value. Supported: ${allowed.map((f) => `'${f}'`).join(", ")}, optionally followed by 'asc' or 'desc'.`,
    );
  }
  return { field, direction: (match[2]?.toLowerCase() as SortDirection | undefined) ?? "asc" };
}

/** `$orderBy=<field>[ asc|desc][,<field>[ asc|desc]…]`: several allowed fields, each at most once, in precedence order. */
export function parseOrderByKeys<F extends string>(
  query: Query,
  operation: string,
  allowed: readonly F[],
): { field: F; direction: SortDirection }[] {
  const raw = query["$orderBy"];
  if (raw === undefined) return [];
  const keys: { field: F; direction: SortDirection }[] = [];
  for (const part of raw.split(",")) {
    const key = parseOrderBy({ $orderBy: part }, operation, allowed);
    if (!key || keys.some((k) => k.field === key.field)) {
      throw invalidValue(
        operation,
        "$orderBy",
        `'${raw}' is not a valid '$orderBy' value. Supported: ${allowed.map((f) => `'${f}'`).join(", ")}, each at most once, optionally followed by 'asc' or 'desc', separated by ','.`,
      );
    }
    keys.push(key);
  }
  return keys;
}

/** A non-negative integer query parameter. */
export function parseIndexParam(query: Query, name: string, operation: string): number | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw invalidValue(
      operation,
      name,
      `'${raw}' is not a valid '${name}' value. '${name}' must be a non-negative integer.`,
    );
  }
  return Number(raw);
}

/** A string filter: not empty, not only whitespace, at most 255 characters (seed 002's rule for `ownerId`). */
export function parseStringParam(query: Query, name: string, operation: string): string | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  if (raw.trim().length === 0 || raw.length > 255) {
    throw invalidValue(
      operation,
      name,
      `'${raw}' is not a valid '${name}' value. '${name}' must be not empty, consist not only of whitespace and not exceed 255 characters.`,
    );
  }
  return raw;
}

export function parseEnumParam<T extends string>(
  query: Query,
  name: string,
  operation: string,
  allowed: readonly T[],
): T | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  const value = allowed.find((a) => a.toLowerCase() === raw.toLowerCase());
  if (!value) {
    throw invalidValue(
      operation,
      name,
      `'${raw}' is not a valid '${name}' value. Supported values: ${allowed.map((a) => `'${a}'`).join(", ")}.`,
    );
  }
  return value;
}

/** `Prefer: return=representation` asks for full entities in lists; minimal is the default. */
export function prefersRepresentation(prefer: string | string[] | undefined): boolean {
  const value = Array.isArray(prefer) ? prefer.join(",") : (prefer ?? "");
  return /return\s*=\s*representation/i.test(value);
}
