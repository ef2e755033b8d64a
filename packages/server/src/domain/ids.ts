import { randomUUID } from "node:crypto";

export const newId = (): string => randomUUID();

const CHANGESET_ID = /^[0-9a-f]{40}$/;
const ID64 = /^0x[0-9a-f]{1,16}$/;
/** Already in normal form: lowercase, no leading zeros (what iTwin.js sends). */
const NORMAL_ID64 = /^0x[1-9a-f][0-9a-f]{0,15}$/;

/** Changeset ids are 40 hex digits (SHA-1); stored lowercase. */
export function normalizeChangesetId(value: string): string | undefined {
  const id = value.toLowerCase();
  return CHANGESET_ID.test(id) ? id : undefined;
}

/** Element ids are Id64 strings; "0x00a" and "0xA" name the same object as "0xa". */
export function normalizeId64(value: string): string | undefined {
  if (NORMAL_ID64.test(value)) return value;
  const lower = value.toLowerCase();
  if (!ID64.test(lower)) return undefined;
  const digits = lower.slice(2).replace(/^0+/, "");
  if (digits.length === 0) return undefined; // 0x0 is the invalid id
  return `0x${digits}`;
}

/** `{idOrIndex}` in a path: all digits and shorter than 40 chars ⇒ index (imodels-api.md §3.4). */
export function parseChangesetIdOrIndex(value: string): { index: number } | { id: string } {
  if (/^\d+$/.test(value) && value.length < 40) return { index: Number(value) };
  return { id: value.toLowerCase() };
}
