// iModels: queries of the metadata port (see ../sql-metadata-tx.ts), written once for SQLite and PostgreSQL.
import type { CreationSource, IModelFilter, IModelRecord, Page } from "../../../ports/metadata-store.js";
import type { Row, SqlContext } from "./common.js";
import { json, parseJson, dir, limitOf, offsetOf, addNameSearchState } from "./common.js";

export async function getIModel(q: SqlContext, id: string): Promise<IModelRecord | undefined> {
  const row = await q.s.get<Row>("SELECT * FROM imodels WHERE id = ?", id);
  return row ? toIModel(row) : undefined;
}

export async function listIModels(q: SqlContext, filter: IModelFilter, page: Page): Promise<IModelRecord[]> {
  const where = ["itwin_id = ?"];
  if (filter.includeFailed !== true) where.push("baseline_state <> 'initializationFailed'");
  const params: unknown[] = [filter.iTwinId];
  addNameSearchState(filter, where, params);
  const d = dir(filter.orderBy?.direction ?? "asc");
  const order = filter.orderBy?.field === "name" ? `name ${d}, id ${d}` : `created_at ${d}, id ${d}`;
  return (
    await q.s.all<Row>(
      `SELECT * FROM imodels WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT ? OFFSET ?`,
      ...params,
      limitOf(page),
      offsetOf(page),
    )
  ).map(toIModel);
}

export async function findIModelByName(
  q: SqlContext,
  iTwinId: string,
  name: string,
): Promise<IModelRecord | undefined> {
  const row = await q.s.get<Row>(
    "SELECT * FROM imodels WHERE itwin_id = ? AND name = ? AND baseline_state <> 'initializationFailed' ORDER BY created_at, id LIMIT 1",
    iTwinId,
    name,
  );
  return row ? toIModel(row) : undefined;
}

export async function iTwinDeleted(q: SqlContext, iTwinId: string): Promise<boolean> {
  return (
    (await q.s.get("SELECT 1 AS deleted FROM itwins WHERE id = ? AND deleted_at IS NOT NULL", iTwinId)) !== undefined
  );
}

export async function insertIModel(q: SqlContext, r: IModelRecord): Promise<void> {
  await q.s.run(
    `INSERT INTO imodels (id, itwin_id, name, description, extent, containers_enabled, creator_id, created_at, state, creation_mode,
      baseline_state, baseline_size, baseline_failure, next_briefcase_id, creation_source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    r.id,
    r.iTwinId,
    r.name,
    r.description,
    json(r.extent),
    r.containersEnabled,
    r.creatorId,
    r.createdAt,
    r.state,
    r.creationMode,
    r.baselineState,
    r.baselineSize,
    r.baselineFailure,
    r.nextBriefcaseId,
    json(r.creationSource ?? null),
  );
}

export async function updateIModel(q: SqlContext, r: IModelRecord): Promise<void> {
  await q.s.run(
    `UPDATE imodels SET itwin_id = ?, name = ?, description = ?, extent = ?, containers_enabled = ?, creator_id = ?, created_at = ?,
      state = ?, creation_mode = ?, baseline_state = ?, baseline_size = ?, baseline_failure = ?, next_briefcase_id = ?, creation_source = ? WHERE id = ?`,
    r.iTwinId,
    r.name,
    r.description,
    json(r.extent),
    r.containersEnabled,
    r.creatorId,
    r.createdAt,
    r.state,
    r.creationMode,
    r.baselineState,
    r.baselineSize,
    r.baselineFailure,
    r.nextBriefcaseId,
    json(r.creationSource ?? null),
    r.id,
  );
}

export async function deleteIModel(q: SqlContext, id: string): Promise<void> {
  // Every other table references imodels(id) ON DELETE CASCADE (foreign_keys is on for every connection).
  await q.s.run("DELETE FROM imodels WHERE id = ?", id);
}

function toIModel(r: Row): IModelRecord {
  return {
    id: r.id as string,
    iTwinId: r.itwin_id as string,
    name: r.name as string,
    description: (r.description as string | null) ?? null,
    extent: parseJson(r.extent),
    containersEnabled: r.containers_enabled as number,
    creatorId: r.creator_id as string,
    createdAt: r.created_at as string,
    state: r.state as IModelRecord["state"],
    creationMode: r.creation_mode as IModelRecord["creationMode"],
    baselineState: r.baseline_state as IModelRecord["baselineState"],
    baselineSize: (r.baseline_size as number | null) ?? null,
    baselineFailure: (r.baseline_failure as string | null) ?? null,
    nextBriefcaseId: r.next_briefcase_id as number,
    // Only clones, forks and templates have one: other records read back as they were written.
    ...(r.creation_source ? { creationSource: parseJson<CreationSource>(r.creation_source) } : {}),
  };
}
