// Named versions: queries of the metadata port (see ../sql-metadata-tx.ts), written once for SQLite and PostgreSQL.
import type { NamedVersionFilter, NamedVersionRecord, Page } from "../../../ports/metadata-store.js";
import type { Row, SqlContext } from "./common.js";
import { dir, limitOf, offsetOf, addNameSearchState, applicationOf } from "./common.js";

export async function getNamedVersion(
  q: SqlContext,
  iModelId: string,
  id: string,
): Promise<NamedVersionRecord | undefined> {
  const row = await q.s.get<Row>("SELECT * FROM named_versions WHERE imodel_id = ? AND id = ?", iModelId, id);
  return row ? toNamedVersion(row) : undefined;
}

export async function getNamedVersionByName(
  q: SqlContext,
  iModelId: string,
  name: string,
): Promise<NamedVersionRecord | undefined> {
  const row = await q.s.get<Row>("SELECT * FROM named_versions WHERE imodel_id = ? AND name = ?", iModelId, name);
  return row ? toNamedVersion(row) : undefined;
}

export async function getNamedVersionByChangeset(
  q: SqlContext,
  iModelId: string,
  changesetIndex: number,
): Promise<NamedVersionRecord | undefined> {
  const row = await q.s.get<Row>(
    "SELECT * FROM named_versions WHERE imodel_id = ? AND changeset_index = ?",
    iModelId,
    changesetIndex,
  );
  return row ? toNamedVersion(row) : undefined;
}

export async function listNamedVersions(
  q: SqlContext,
  iModelId: string,
  filter: NamedVersionFilter,
  page: Page,
): Promise<NamedVersionRecord[]> {
  const where = ["imodel_id = ?"];
  const params: unknown[] = [iModelId];
  addNameSearchState(filter, where, params);
  const d = dir(filter.orderBy?.direction ?? "asc");
  const order =
    filter.orderBy?.field === "createdDateTime" ? `created_at ${d}, id ${d}` : `changeset_index ${d}, id ${d}`;
  return (
    await q.s.all<Row>(
      `SELECT * FROM named_versions WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ? OFFSET ?`,
      ...params,
      limitOf(page),
      offsetOf(page),
    )
  ).map(toNamedVersion);
}

export async function listNamedVersionsInRange(
  q: SqlContext,
  iModelId: string,
  fromIndex: number,
  toIndex: number,
): Promise<NamedVersionRecord[]> {
  return (
    await q.s.all<Row>(
      "SELECT * FROM named_versions WHERE imodel_id = ? AND changeset_index BETWEEN ? AND ? ORDER BY changeset_index",
      iModelId,
      fromIndex,
      toIndex,
    )
  ).map(toNamedVersion);
}

export async function insertNamedVersion(q: SqlContext, r: NamedVersionRecord): Promise<void> {
  await q.s.run(
    `INSERT INTO named_versions (imodel_id, id, name, description, changeset_index, changeset_id, state, creator_id, created_at,
      application_id, application_name) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
    r.iModelId,
    r.id,
    r.name,
    r.description,
    r.changesetIndex,
    r.changesetId,
    r.state,
    r.creatorId,
    r.createdAt,
    r.application?.id ?? null,
    r.application?.name ?? null,
  );
}

export async function updateNamedVersion(q: SqlContext, r: NamedVersionRecord): Promise<void> {
  await q.s.run(
    `UPDATE named_versions SET name = ?, description = ?, changeset_index = ?, changeset_id = ?, state = ?, creator_id = ?, created_at = ?
      WHERE imodel_id = ? AND id = ?`,
    r.name,
    r.description,
    r.changesetIndex,
    r.changesetId,
    r.state,
    r.creatorId,
    r.createdAt,
    r.iModelId,
    r.id,
  );
}

function toNamedVersion(r: Row): NamedVersionRecord {
  return {
    iModelId: r.imodel_id as string,
    id: r.id as string,
    name: r.name as string,
    description: (r.description as string | null) ?? null,
    changesetIndex: r.changeset_index as number,
    changesetId: (r.changeset_id as string | null) ?? null,
    state: r.state as NamedVersionRecord["state"],
    creatorId: r.creator_id as string,
    createdAt: r.created_at as string,
    ...applicationOf(r),
  };
}
