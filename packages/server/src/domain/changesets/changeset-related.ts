// What a changeset's links point at: its named version and the nearest earlier checkpoint.
import type { ChangesetRecord, MetadataReader } from "../../ports/metadata-store.js";

/** What a changeset's links point at. */
export interface ChangesetRelated {
  namedVersionId?: string;
  precedingCheckpointIndex?: number;
}

/** One changeset's (one query). */
export async function relatedOf(tx: MetadataReader, record: ChangesetRecord): Promise<ChangesetRelated> {
  return tx.getChangesetLinks(record.iModelId, record.index);
}

/** A page of one iModel's changesets, each with what its links point at: two queries per page, not per changeset. */
export async function relatedOfPage(
  tx: MetadataReader,
  iModelId: string,
  records: ChangesetRecord[],
): Promise<{ record: ChangesetRecord; related: ChangesetRelated }[]> {
  if (records.length === 0) return [];
  const indexes = records.map((r) => r.index);
  const versions = new Map(
    (await tx.listNamedVersionsInRange(iModelId, Math.min(...indexes), Math.max(...indexes))).map((v) => [
      v.changesetIndex,
      v.id,
    ]),
  );
  const checkpoints = (await tx.listCheckpoints(iModelId))
    .filter((c) => c.state === "successful")
    .map((c) => c.changesetIndex);
  return records.map((record) => {
    const related: ChangesetRelated = {};
    const version = versions.get(record.index);
    if (version) related.namedVersionId = version;
    const preceding = precedingIndex(checkpoints, record.index);
    if (preceding !== undefined) related.precedingCheckpointIndex = preceding;
    return { record, related };
  });
}

/** The largest of the sorted `indexes` that is ≤ `index`. */
function precedingIndex(sorted: number[], index: number): number | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let found: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= index) {
      found = sorted[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
