// Changesets (primary key (imodel_id, idx): every lookup and page is an index range): queries of the metadata port (see
// ../sql-metadata-tx.ts), written once for SQLite and PostgreSQL.
import type { ChangesetFilter, ChangesetRecord, Page } from "../../../ports/metadata-store.js";
import type { Row, SqlContext } from "./common.js";
import { json, parseJson, dir, limitOf, offsetOf, applicationOf } from "./common.js";

export async function getChangesetByIndex(
  q: SqlContext,
  iModelId: string,
  index: number,
): Promise<ChangesetRecord | undefined> {
  const row = await q.s.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND idx = ?", iModelId, index);
  return row ? toChangeset(row) : undefined;
}

export async function getChangesetById(
  q: SqlContext,
  iModelId: string,
  id: string,
): Promise<ChangesetRecord | undefined> {
  const row = await q.s.get<Row>("SELECT * FROM changesets WHERE imodel_id = ? AND id = ?", iModelId, id);
  return row ? toChangeset(row) : undefined;
}

export async function getLatestChangeset(q: SqlContext, iModelId: string): Promise<ChangesetRecord | undefined> {
  const row = await q.s.get<Row>(
    "SELECT * FROM changesets WHERE imodel_id = ? AND state = 'fileUploaded' ORDER BY idx DESC LIMIT 1",
    iModelId,
  );
  return row ? toChangeset(row) : undefined;
}

export async function getPendingChangeset(q: SqlContext, iModelId: string): Promise<ChangesetRecord | undefined> {
  const row = await q.s.get<Row>(
    "SELECT * FROM changesets WHERE imodel_id = ? AND state = 'waitingForFile' ORDER BY idx DESC LIMIT 1",
    iModelId,
  );
  return row ? toChangeset(row) : undefined;
}

/** One statement for three lookups: each branch is the query of its own function above, tagged by `push_role`. */
const FOR_PUSH = `SELECT 'byId' AS push_role, c.* FROM changesets c WHERE c.imodel_id = ? AND c.id = ?
  UNION ALL SELECT 'pending', p.* FROM (SELECT * FROM changesets WHERE imodel_id = ? AND state = 'waitingForFile' ORDER BY idx DESC LIMIT 1) p
  UNION ALL SELECT 'latest', l.* FROM (SELECT * FROM changesets WHERE imodel_id = ? AND state = 'fileUploaded' ORDER BY idx DESC LIMIT 1) l`;

export async function getChangesetsForPush(
  q: SqlContext,
  iModelId: string,
  id: string,
): Promise<{ byId?: ChangesetRecord; pending?: ChangesetRecord; latest?: ChangesetRecord }> {
  const found: { byId?: ChangesetRecord; pending?: ChangesetRecord; latest?: ChangesetRecord } = {};
  for (const row of await q.s.all<Row>(FOR_PUSH, iModelId, id, iModelId, iModelId))
    found[row.push_role as "byId" | "pending" | "latest"] = toChangeset(row);
  return found;
}

export async function getChangesetLinks(
  q: SqlContext,
  iModelId: string,
  changesetIndex: number,
): Promise<{ namedVersionId?: string; precedingCheckpointIndex?: number }> {
  const row = await q.s.get<Row>(
    `SELECT (SELECT id FROM named_versions WHERE imodel_id = ? AND changeset_index = ?) AS named_version_id,
      (SELECT changeset_index FROM checkpoints WHERE imodel_id = ? AND changeset_index <= ? AND state = 'successful'
        ORDER BY changeset_index DESC LIMIT 1) AS checkpoint_index`,
    iModelId,
    changesetIndex,
    iModelId,
    changesetIndex,
  );
  return {
    ...(row?.named_version_id != null ? { namedVersionId: row.named_version_id as string } : {}),
    ...(row?.checkpoint_index != null ? { precedingCheckpointIndex: row.checkpoint_index as number } : {}),
  };
}

export async function listChangesets(
  q: SqlContext,
  iModelId: string,
  filter: ChangesetFilter,
  page: Page,
): Promise<ChangesetRecord[]> {
  const sql = `SELECT * FROM changesets WHERE imodel_id = ? AND idx > ? AND idx <= ?${filter.onlyUploaded ? " AND state = 'fileUploaded'" : ""}
    ORDER BY idx ${dir(filter.direction)} LIMIT ? OFFSET ?`;
  return (
    await q.s.all<Row>(
      sql,
      iModelId,
      filter.afterIndex ?? Number.MIN_SAFE_INTEGER,
      filter.lastIndex ?? Number.MAX_SAFE_INTEGER,
      limitOf(page),
      offsetOf(page),
    )
  ).map(toChangeset);
}

export async function insertChangeset(q: SqlContext, r: ChangesetRecord): Promise<void> {
  await q.s.run(
    `INSERT INTO changesets (imodel_id, idx, id, parent_id, description, briefcase_id, containing_changes, file_size, creator_id, pushed_at,
      state, group_id, synchronization_info, application_id, application_name, uncompressed_size) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    r.iModelId,
    r.index,
    r.id,
    r.parentId,
    r.description,
    r.briefcaseId,
    r.containingChanges,
    r.fileSize,
    r.creatorId,
    r.pushedAt,
    r.state,
    r.groupId,
    json(r.synchronizationInfo),
    r.application?.id ?? null,
    r.application?.name ?? null,
    r.uncompressedSize ?? null,
  );
}

export async function updateChangeset(q: SqlContext, r: ChangesetRecord): Promise<void> {
  await q.s.run(
    `UPDATE changesets SET id = ?, parent_id = ?, description = ?, briefcase_id = ?, containing_changes = ?, file_size = ?, creator_id = ?,
      pushed_at = ?, state = ?, group_id = ?, synchronization_info = ?, application_id = ?, application_name = ?, uncompressed_size = ?
      WHERE imodel_id = ? AND idx = ?`,
    r.id,
    r.parentId,
    r.description,
    r.briefcaseId,
    r.containingChanges,
    r.fileSize,
    r.creatorId,
    r.pushedAt,
    r.state,
    r.groupId,
    json(r.synchronizationInfo),
    r.application?.id ?? null,
    r.application?.name ?? null,
    r.uncompressedSize ?? null,
    r.iModelId,
    r.index,
  );
}

export async function deleteChangeset(q: SqlContext, iModelId: string, index: number): Promise<void> {
  await q.s.run("DELETE FROM changesets WHERE imodel_id = ? AND idx = ?", iModelId, index);
}

function toChangeset(r: Row): ChangesetRecord {
  return {
    iModelId: r.imodel_id as string,
    index: r.idx as number,
    id: r.id as string,
    parentId: r.parent_id as string,
    description: (r.description as string | null) ?? null,
    briefcaseId: r.briefcase_id as number,
    containingChanges: r.containing_changes as number,
    fileSize: r.file_size as number,
    creatorId: r.creator_id as string,
    pushedAt: r.pushed_at as string,
    state: r.state as ChangesetRecord["state"],
    groupId: (r.group_id as string | null) ?? null,
    synchronizationInfo: parseJson(r.synchronization_info),
    ...applicationOf(r),
    ...(r.uncompressed_size != null ? { uncompressedSize: r.uncompressed_size as number } : {}),
  };
}
