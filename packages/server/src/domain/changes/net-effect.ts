import type { ChangeCount, ChangedElementRow } from "../../ports/change-summary-store.js";

/**
 * What happened to an element between two points of history, all changesets in between folded into one:
 * - inserted then deleted: nothing (the element is not reported);
 * - existed before and after, never deleted in between: `updated`, with every property any update changed;
 * - existed before and after but deleted and inserted again in between: `reinserted`;
 * - did not exist before and exists after: `inserted`; existed before and not after: `deleted`.
 */
export type NetOp = "inserted" | "updated" | "deleted" | "reinserted";

export interface NetChange {
  id: string;
  op: NetOp;
  classFullName: string;
  /** Its class's id in the iModel, when the summary recorded it. */
  classId?: string;
  modelId: string;
  /** The model it was in at the start, when it ends in another one (a move). */
  previousModelId: string | null;
  parentId: string | null;
  /** The parent's class id, when the summary recorded it. */
  parentClassId?: string;
  label: string | null;
  /** `updated`: the names of the properties that changed (sorted); null otherwise. */
  properties: string[] | null;
  /**
   * `updated`, when every update in the range recorded them: per property in `properties`, its checksum before the
   * first update that changed it and after the last one (equal: changed and changed back).
   */
  checksums?: { old: number[]; new: number[] };
  /** The changesets in the range that changed it, oldest first. */
  changesets: number[];
}

/**
 * Folds the rows of a range (ordered by element id, then changeset index, as `rangeRows` returns them) into the net
 * change of each element, by element id.
 */
export function netChanges(rows: readonly ChangedElementRow[]): NetChange[] {
  const out: NetChange[] = [];
  let i = 0;
  while (i < rows.length) {
    let j = i;
    while (j < rows.length && rows[j]!.id === rows[i]!.id) j++;
    const change = fold(rows.slice(i, j));
    if (change) out.push(change);
    i = j;
  }
  return out;
}

function fold(history: readonly ChangedElementRow[]): NetChange | undefined {
  const first = history[0]!;
  const last = history.at(-1)!;
  const existedBefore = first.op !== "inserted";
  const existsAfter = last.op !== "deleted";
  if (!existedBefore && !existsAfter) return undefined;
  let op: NetOp;
  if (!existedBefore) op = "inserted";
  else if (!existsAfter) op = "deleted";
  else op = history.some((h) => h.op === "deleted") ? "reinserted" : "updated";
  let properties: string[] | null = null;
  let checksums: NetChange["checksums"];
  if (op === "updated") {
    const names = new Set<string>();
    for (const h of history) for (const p of h.properties ?? []) names.add(p);
    properties = [...names].sort();
    checksums = foldChecksums(history, properties);
  }
  // Where it was at the start: the model before the first change (an update that moved it says so).
  const startModel = existedBefore
    ? first.op === "updated"
      ? (first.previousModelId ?? first.modelId)
      : first.modelId
    : null;
  const endModel = last.modelId;
  return {
    id: first.id,
    op,
    classFullName: last.classFullName,
    ...(last.classId !== undefined ? { classId: last.classId } : {}),
    modelId: endModel,
    previousModelId:
      op !== "deleted" && op !== "inserted" && startModel !== null && startModel !== endModel ? startModel : null,
    parentId: last.parentId,
    ...(last.parentId !== null && last.parentClassId !== undefined ? { parentClassId: last.parentClassId } : {}),
    label: last.label,
    properties,
    ...(checksums ? { checksums } : {}),
    changesets: history.map((h) => h.changesetIndex),
  };
}

/** Each property's checksum before its first change and after its last, or undefined if an update lacks them. */
function foldChecksums(history: readonly ChangedElementRow[], properties: string[]): NetChange["checksums"] {
  const before = new Map<string, number>();
  const after = new Map<string, number>();
  for (const h of history) {
    if (!h.properties) continue;
    if (!h.checksums) return undefined;
    h.properties.forEach((p, k) => {
      if (!before.has(p)) before.set(p, h.checksums!.old[k]!);
      after.set(p, h.checksums!.new[k]!);
    });
  }
  return { old: properties.map((p) => before.get(p)!), new: properties.map((p) => after.get(p)!) };
}

export interface NetCounts {
  inserted: number;
  updated: number;
  deleted: number;
  reinserted: number;
}

export interface NetCountByModelAndClass extends NetCounts {
  modelId: string;
  classFullName: string;
}

export function totals(changes: readonly NetChange[]): NetCounts {
  const t: NetCounts = { inserted: 0, updated: 0, deleted: 0, reinserted: 0 };
  for (const c of changes) t[c.op]++;
  return t;
}

/** Counts per (model, class), ordered by model id then class name. */
export function countsByModelAndClass(changes: readonly NetChange[]): NetCountByModelAndClass[] {
  const counts = new Map<string, NetCountByModelAndClass>();
  for (const c of changes) {
    const key = `${c.modelId}\u0000${c.classFullName}`;
    let e = counts.get(key);
    if (!e)
      counts.set(
        key,
        (e = {
          modelId: c.modelId,
          classFullName: c.classFullName,
          inserted: 0,
          updated: 0,
          deleted: 0,
          reinserted: 0,
        }),
      );
    e[c.op]++;
  }
  return [...counts.values()].sort((a, b) =>
    a.modelId === b.modelId ? a.classFullName.localeCompare(b.classFullName) : a.modelId < b.modelId ? -1 : 1,
  );
}

/** A changeset's own counts in the shape of a compare's (a single changeset has no net folding to do). */
export function countsOfChangeset(counts: readonly ChangeCount[]): NetCountByModelAndClass[] {
  return counts.map((c) => ({ ...c, reinserted: 0 }));
}
