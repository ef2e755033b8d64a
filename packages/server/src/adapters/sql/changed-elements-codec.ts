import { brotliCompress, brotliDecompress, constants } from "node:zlib";
import { promisify } from "node:util";
import type { ChangeCount, ChangeOp, ChangedElementRow } from "../../ports/change-summary-store.js";

const compress = promisify(brotliCompress);
const decompress = promisify(brotliDecompress);

/**
 * One changeset's changed elements as one compressed blob (issue 20: summaries must cost ≤ 10% of the changesets'
 * bytes). The elements are encoded column by column, in id order, then compressed with brotli:
 * - ids: canonical Id64 strings (`0x` + lowercase hex, no leading zero) as the base-36 difference from the previous
 *   one (consecutive ids cost a byte before compression); any other string is kept as it is, after a `=`;
 * - class names and ids, model, previous-model and parent ids, property-name lists: indexes into one table of strings (-1 =
 *   null), so a class or model repeated 10,000 times is written once;
 * - labels: front-coded (the length of the prefix shared with the previous label, then the rest; -1 = null), since
 *   labels of neighbouring elements tend to share most of their text ("Wall 1.203", "Wall 1.204");
 * - ops: one letter each (`i`, `u`, `d`);
 * - parents' class ids (`pc`, interned) and the checksums of updated properties (`ck`: for each element with a
 *   property list, in order, its old checksums then its new ones) — optional: blobs written before the hub recorded
 *   them lack them (and `ck` is left out when any update lacks its checksums).
 * Version 2 writes the columns as one JSON array in the order of {@link COLUMNS}, after the version: the column names
 * of version 1 (an object with `v: 1`, still read) were about a fifth of a one-element blob.
 */
interface Encoded {
  v: 1 | 2;
  s: string[];
  id: string[];
  op: string;
  c: number[];
  ci: number[];
  m: number[];
  pm: number[];
  p: number[];
  lp: number[];
  ls: string[];
  pr: number[];
  pc?: number[];
  ck?: number[];
}

/** Version 2's columns, in their order in the array. */
const COLUMNS = ["s", "id", "op", "c", "ci", "m", "pm", "p", "lp", "ls", "pr", "pc", "ck"] as const;

const CANONICAL_ID = /^0x[1-9a-f][0-9a-f]*$/;
const OPS: Record<string, ChangeOp> = { i: "inserted", u: "updated", d: "deleted" };
/** Property names never contain a comma (they are EC property names); the list is interned joined by one. */
const LIST_SEPARATOR = ",";

/** Encodes and compresses one changeset's element rows (their `changesetIndex` is not stored: the row's key has it). */
export async function encodeChangedElements(rows: readonly ChangedElementRow[]): Promise<Buffer> {
  const strings: string[] = [];
  const indexes = new Map<string, number>();
  const intern = (value: string | null): number => {
    if (value === null) return -1;
    let i = indexes.get(value);
    if (i === undefined) {
      i = strings.length;
      strings.push(value);
      indexes.set(value, i);
    }
    return i;
  };
  const keyed = rows.map((row) => ({ row, n: CANONICAL_ID.test(row.id) ? BigInt(row.id) : undefined }));
  // Canonical ids by value (small differences), then the others as they came.
  keyed.sort((a, b) => (a.n === undefined ? (b.n === undefined ? 0 : 1) : b.n === undefined ? -1 : a.n < b.n ? -1 : 1));
  const out: Encoded = {
    v: 2,
    s: strings,
    id: [],
    op: "",
    c: [],
    ci: [],
    m: [],
    pm: [],
    p: [],
    lp: [],
    ls: [],
    pr: [],
    pc: [],
    ck: [],
  };
  let checksums = true;
  let previousId = 0n;
  let previousLabel = "";
  const ops: string[] = [];
  for (const { row, n } of keyed) {
    if (n === undefined) out.id.push(`=${row.id}`);
    else {
      out.id.push((n - previousId).toString(36));
      previousId = n;
    }
    ops.push(row.op[0]!);
    out.c.push(intern(row.classFullName));
    out.ci.push(intern(row.classId ?? null));
    out.m.push(intern(row.modelId));
    out.pm.push(intern(row.previousModelId));
    out.p.push(intern(row.parentId));
    if (row.label === null) {
      out.lp.push(-1);
      out.ls.push("");
    } else {
      let k = 0;
      const max = Math.min(row.label.length, previousLabel.length);
      while (k < max && row.label.charCodeAt(k) === previousLabel.charCodeAt(k)) k++;
      out.lp.push(k);
      out.ls.push(row.label.slice(k));
      previousLabel = row.label;
    }
    out.pr.push(row.properties === null ? -1 : intern(row.properties.join(LIST_SEPARATOR)));
    out.pc!.push(intern(row.parentClassId ?? null));
    if (row.properties !== null) {
      if (row.checksums?.old.length !== row.properties.length || row.checksums.new.length !== row.properties.length)
        checksums = false;
      else out.ck!.push(...row.checksums.old, ...row.checksums.new);
    }
  }
  if (!checksums) delete out.ck;
  out.op = ops.join("");
  const columns: unknown[] = [out.v, ...COLUMNS.map((k) => out[k])];
  if (!out.ck) columns.pop();
  return compress(Buffer.from(JSON.stringify(columns)), {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      // Quality 9: within a few bytes of 11 on summaries, and ten times faster on 10,000 elements.
      [constants.BROTLI_PARAM_QUALITY]: 9,
    },
  });
}

/** Decodes a blob of {@link encodeChangedElements}, in element id order (as strings compare: `0x10` < `0x2`). */
export async function decodeChangedElements(blob: Uint8Array, changesetIndex: number): Promise<ChangedElementRow[]> {
  const parsed = JSON.parse((await decompress(blob)).toString("utf8")) as Encoded | unknown[];
  const data = Array.isArray(parsed)
    ? ({ v: parsed[0], ...Object.fromEntries(COLUMNS.map((k, i) => [k, parsed[i + 1]])) } as Encoded)
    : parsed;
  if (data.v !== 1 && data.v !== 2) throw new Error(`Unknown changed-elements encoding version ${String(data.v)}.`);
  const str = (i: number): string | null => (i < 0 ? null : data.s[i]!);
  const rows: ChangedElementRow[] = [];
  let previousId = 0n;
  let previousLabel = "";
  let checksum = 0;
  for (let i = 0; i < data.id.length; i++) {
    const code = data.id[i]!;
    let id: string;
    if (code.startsWith("=")) id = code.slice(1);
    else {
      previousId += parseBase36(code);
      id = `0x${previousId.toString(16)}`;
    }
    let label: string | null = null;
    if (data.lp[i]! >= 0) {
      label = previousLabel.slice(0, data.lp[i]) + data.ls[i]!;
      previousLabel = label;
    }
    const names = str(data.pr[i]!);
    const properties = names === null ? null : names === "" ? [] : names.split(LIST_SEPARATOR);
    const classId = str(data.ci[i]!);
    const parentClassId = data.pc ? str(data.pc[i]!) : null;
    let checksums: ChangedElementRow["checksums"];
    if (data.ck && properties) {
      const n = properties.length;
      checksums = { old: data.ck.slice(checksum, checksum + n), new: data.ck.slice(checksum + n, checksum + 2 * n) };
      checksum += 2 * n;
    }
    rows.push({
      changesetIndex,
      id,
      op: OPS[data.op[i]!]!,
      classFullName: str(data.c[i]!)!,
      ...(classId !== null ? { classId } : {}),
      modelId: str(data.m[i]!)!,
      previousModelId: str(data.pm[i]!),
      parentId: str(data.p[i]!),
      ...(parentClassId !== null ? { parentClassId } : {}),
      label,
      properties,
      ...(checksums ? { checksums } : {}),
    });
  }
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function parseBase36(text: string): bigint {
  // Differences within 2^53 (all but jumps between briefcases) parse as numbers; larger ones digit by digit.
  if (text.length <= 10) return BigInt(parseInt(text, 36));
  let n = 0n;
  for (const ch of text) n = n * 36n + BigInt(parseInt(ch, 36));
  return n;
}

type CompactCount = [modelId: string, classFullName: string, inserted: number, updated: number, deleted: number];

/**
 * A summary's counts per model and class as rows of `[modelId, classFullName, inserted, updated, deleted]`: the
 * property names of `ChangeCount` objects were more than half of the counts' bytes (docs/performance.md).
 */
export function encodeCounts(counts: readonly ChangeCount[]): string {
  return JSON.stringify(
    counts.map((c): CompactCount => [c.modelId, c.classFullName, c.inserted, c.updated, c.deleted]),
  );
}

/** Reads both forms: rows (since the compact form) and `ChangeCount` objects (summaries stored before it). */
export function decodeCounts(text: string): ChangeCount[] {
  return (JSON.parse(text) as (CompactCount | ChangeCount)[]).map((c) =>
    Array.isArray(c) ? { modelId: c[0], classFullName: c[1], inserted: c[2], updated: c[3], deleted: c[4] } : c,
  );
}
