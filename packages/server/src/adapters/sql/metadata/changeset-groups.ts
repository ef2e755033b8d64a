// Changeset groups and extended data: queries of the metadata port (see ../sql-metadata-tx.ts), written once for SQLite
// and PostgreSQL.
import type { ChangesetGroupRecord, Page } from "../../../ports/metadata-store.js";
import type { Row, SqlContext } from "./common.js";
import { limitOf, offsetOf } from "./common.js";

export async function getChangesetGroup(
  q: SqlContext,
  iModelId: string,
  id: string,
): Promise<ChangesetGroupRecord | undefined> {
  const row = await q.s.get<Row>("SELECT * FROM changeset_groups WHERE imodel_id = ? AND id = ?", iModelId, id);
  return row ? toGroup(row) : undefined;
}

export async function listChangesetGroups(
  q: SqlContext,
  iModelId: string,
  page: Page,
): Promise<ChangesetGroupRecord[]> {
  return (
    await q.s.all<Row>(
      "SELECT * FROM changeset_groups WHERE imodel_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
      iModelId,
      limitOf(page),
      offsetOf(page),
    )
  ).map(toGroup);
}

export async function insertChangesetGroup(q: SqlContext, r: ChangesetGroupRecord): Promise<void> {
  await q.s.run(
    "INSERT INTO changeset_groups (imodel_id, id, description, state, creator_id, created_at) VALUES (?,?,?,?,?,?)",
    r.iModelId,
    r.id,
    r.description,
    r.state,
    r.creatorId,
    r.createdAt,
  );
}

export async function updateChangesetGroup(q: SqlContext, r: ChangesetGroupRecord): Promise<void> {
  await q.s.run(
    "UPDATE changeset_groups SET description = ?, state = ?, creator_id = ?, created_at = ? WHERE imodel_id = ? AND id = ?",
    r.description,
    r.state,
    r.creatorId,
    r.createdAt,
    r.iModelId,
    r.id,
  );
}

export async function getExtendedData(
  q: SqlContext,
  iModelId: string,
  changesetIndex: number,
): Promise<string | undefined> {
  return (
    await q.s.get<{ data: string }>(
      "SELECT data FROM extended_data WHERE imodel_id = ? AND changeset_index = ?",
      iModelId,
      changesetIndex,
    )
  )?.data;
}

export async function listExtendedData(
  q: SqlContext,
  iModelId: string,
  page: Page,
): Promise<{ changesetIndex: number; data: string }[]> {
  return (
    await q.s.all<{ changeset_index: number; data: string }>(
      "SELECT changeset_index, data FROM extended_data WHERE imodel_id = ? ORDER BY changeset_index LIMIT ? OFFSET ?",
      iModelId,
      limitOf(page),
      offsetOf(page),
    )
  ).map((r) => ({ changesetIndex: r.changeset_index, data: r.data }));
}

export async function putExtendedData(
  q: SqlContext,
  iModelId: string,
  changesetIndex: number,
  data: string,
): Promise<void> {
  await q.s.run(
    "INSERT INTO extended_data (imodel_id, changeset_index, data) VALUES (?,?,?) ON CONFLICT (imodel_id, changeset_index) DO UPDATE SET data = excluded.data",
    iModelId,
    changesetIndex,
    data,
  );
}

function toGroup(r: Row): ChangesetGroupRecord {
  return {
    iModelId: r.imodel_id as string,
    id: r.id as string,
    description: (r.description as string | null) ?? null,
    state: r.state as ChangesetGroupRecord["state"],
    creatorId: r.creator_id as string,
    createdAt: r.created_at as string,
  };
}
