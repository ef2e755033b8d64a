// Users of an iModel and their statistics: queries of the metadata port (see ../sql-metadata-tx.ts), written once for
// SQLite and PostgreSQL.
import type { MetadataReader, UserApplicationStatistics } from "../../../ports/metadata-store.js";
import type { SqlContext } from "./common.js";

export async function listUserIds(q: SqlContext, iModelId: string): Promise<string[]> {
  return (
    await q.s.all<{ id: string }>(
      `SELECT creator_id AS id FROM imodels WHERE id = ?
      UNION SELECT creator_id FROM changesets WHERE imodel_id = ? AND state = 'fileUploaded'
      UNION SELECT user_id FROM imodel_users WHERE imodel_id = ?
      UNION SELECT creator_id FROM named_versions WHERE imodel_id = ?
      ORDER BY 1`,
      iModelId,
      iModelId,
      iModelId,
      iModelId,
    )
  ).map((r) => r.id);
}

export async function userStatistics(
  q: SqlContext,
  iModelId: string,
  userId: string,
): ReturnType<MetadataReader["userStatistics"]> {
  const row = (await q.s.get<{ pushed: number; last: string | null; versions: number; briefcases: number }>(
    `SELECT
      (SELECT COUNT(*) FROM changesets WHERE imodel_id = ? AND creator_id = ? AND state = 'fileUploaded') AS pushed,
      (SELECT MAX(pushed_at) FROM changesets WHERE imodel_id = ? AND creator_id = ? AND state = 'fileUploaded') AS last,
      (SELECT COUNT(*) FROM named_versions WHERE imodel_id = ? AND creator_id = ?) AS versions,
      (SELECT COUNT(*) FROM briefcases WHERE imodel_id = ? AND owner_id = ?) AS briefcases`,
    iModelId,
    userId,
    iModelId,
    userId,
    iModelId,
    userId,
    iModelId,
    userId,
  ))!;
  return {
    pushedChangesetsCount: row.pushed,
    lastChangesetPushDate: row.last,
    createdVersionsCount: row.versions,
    briefcasesCount: row.briefcases,
  };
}

export async function userApplications(
  q: SqlContext,
  iModelId: string,
  userId: string,
): Promise<UserApplicationStatistics[]> {
  // One row per briefcase of the user (index briefcases_by_owner); each lock test is one index probe.
  const rows = await q.s.all<{ id: string | null; name: string | null; owns: number; root: number }>(
    `SELECT b.application_id AS id, b.application_name AS name,
        CASE WHEN EXISTS (SELECT 1 FROM locks WHERE imodel_id = b.imodel_id AND exclusive_briefcase_id = b.briefcase_id)
          OR EXISTS (SELECT 1 FROM shared_locks WHERE imodel_id = b.imodel_id AND briefcase_id = b.briefcase_id) THEN 1 ELSE 0 END AS owns,
        CASE WHEN EXISTS (SELECT 1 FROM locks WHERE imodel_id = b.imodel_id AND object_id = '0x1' AND exclusive_briefcase_id = b.briefcase_id) THEN 1 ELSE 0 END AS root
      FROM briefcases b WHERE b.imodel_id = ? AND b.owner_id = ?
      ORDER BY b.application_id, b.briefcase_id`,
    iModelId,
    userId,
  );
  const byApplication = new Map<string | null, UserApplicationStatistics>();
  for (const row of rows) {
    const entry = byApplication.get(row.id) ?? {
      id: row.id,
      name: row.id === null ? null : (row.name ?? row.id),
      ownsLocks: false,
      ownsExclusiveRootElementLock: false,
    };
    entry.ownsLocks ||= row.owns === 1;
    entry.ownsExclusiveRootElementLock ||= row.root === 1;
    byApplication.set(row.id, entry);
  }
  return [...byApplication.values()];
}
