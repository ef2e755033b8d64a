// Briefcases: queries of the metadata port (see ../sql-metadata-tx.ts), written once for SQLite and PostgreSQL.
import type { BriefcaseRecord, Page, SortDirection } from "../../../ports/metadata-store.js";
import type { Row, SqlContext } from "./common.js";
import { dir, limitOf, offsetOf, applicationOf } from "./common.js";

export async function getBriefcase(
  q: SqlContext,
  iModelId: string,
  briefcaseId: number,
): Promise<BriefcaseRecord | undefined> {
  const row = await q.s.get<Row>(
    "SELECT * FROM briefcases WHERE imodel_id = ? AND briefcase_id = ?",
    iModelId,
    briefcaseId,
  );
  return row ? toBriefcase(row) : undefined;
}

export async function listBriefcases(
  q: SqlContext,
  iModelId: string,
  filter: { ownerId?: string; direction: SortDirection },
  page: Page,
): Promise<BriefcaseRecord[]> {
  const d = dir(filter.direction);
  const byOwner = filter.ownerId !== undefined;
  const sql = `SELECT * FROM briefcases WHERE imodel_id = ?${byOwner ? " AND owner_id = ?" : ""}
    ORDER BY acquired_at ${d}, briefcase_id ${d} LIMIT ? OFFSET ?`;
  const params: unknown[] = byOwner ? [iModelId, filter.ownerId] : [iModelId];
  return (await q.s.all<Row>(sql, ...params, limitOf(page), offsetOf(page))).map(toBriefcase);
}

export async function countBriefcases(q: SqlContext, iModelId: string, ownerId?: string): Promise<number> {
  const row =
    ownerId === undefined
      ? await q.s.get<{ n: number }>("SELECT COUNT(*) AS n FROM briefcases WHERE imodel_id = ?", iModelId)
      : await q.s.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM briefcases WHERE imodel_id = ? AND owner_id = ?",
          iModelId,
          ownerId,
        );
  return row?.n ?? 0;
}

export async function insertBriefcase(q: SqlContext, r: BriefcaseRecord): Promise<void> {
  await q.s.run(
    "INSERT INTO briefcases (imodel_id, briefcase_id, owner_id, acquired_at, device_name, application_id, application_name) VALUES (?,?,?,?,?,?,?)",
    r.iModelId,
    r.briefcaseId,
    r.ownerId,
    r.acquiredAt,
    r.deviceName,
    r.application?.id ?? null,
    r.application?.name ?? null,
  );
  await q.s.run(
    "INSERT INTO imodel_users (imodel_id, user_id, first_seen_at) VALUES (?, ?, ?) ON CONFLICT (imodel_id, user_id) DO NOTHING",
    r.iModelId,
    r.ownerId,
    r.acquiredAt,
  );
}

export async function deleteBriefcase(q: SqlContext, iModelId: string, briefcaseId: number): Promise<void> {
  await q.s.run("DELETE FROM briefcases WHERE imodel_id = ? AND briefcase_id = ?", iModelId, briefcaseId);
}

function toBriefcase(r: Row): BriefcaseRecord {
  return {
    iModelId: r.imodel_id as string,
    briefcaseId: r.briefcase_id as number,
    ownerId: r.owner_id as string,
    acquiredAt: r.acquired_at as string,
    deviceName: (r.device_name as string | null) ?? null,
    ...applicationOf(r),
  };
}
