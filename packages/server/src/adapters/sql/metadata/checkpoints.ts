// Checkpoints: queries of the metadata port (see ../sql-metadata-tx.ts), written once for SQLite and PostgreSQL.
import type { CheckpointRecord } from "../../../ports/metadata-store.js";
import type { Row, SqlContext } from "./common.js";

export async function getCheckpoint(
  q: SqlContext,
  iModelId: string,
  changesetIndex: number,
): Promise<CheckpointRecord | undefined> {
  const row = await q.s.get<Row>(
    "SELECT * FROM checkpoints WHERE imodel_id = ? AND changeset_index = ?",
    iModelId,
    changesetIndex,
  );
  return row ? toCheckpoint(row) : undefined;
}

export async function getPrecedingCheckpoint(
  q: SqlContext,
  iModelId: string,
  changesetIndex: number,
): Promise<CheckpointRecord | undefined> {
  const row = await q.s.get<Row>(
    "SELECT * FROM checkpoints WHERE imodel_id = ? AND changeset_index <= ? AND state = 'successful' ORDER BY changeset_index DESC LIMIT 1",
    iModelId,
    changesetIndex,
  );
  return row ? toCheckpoint(row) : undefined;
}

export async function getLatestCheckpoint(q: SqlContext, iModelId: string): Promise<CheckpointRecord | undefined> {
  const row = await q.s.get<Row>(
    "SELECT * FROM checkpoints WHERE imodel_id = ? AND state = 'successful' ORDER BY changeset_index DESC LIMIT 1",
    iModelId,
  );
  return row ? toCheckpoint(row) : undefined;
}

export async function listCheckpoints(q: SqlContext, iModelId: string): Promise<CheckpointRecord[]> {
  return (await q.s.all<Row>("SELECT * FROM checkpoints WHERE imodel_id = ? ORDER BY changeset_index", iModelId)).map(
    toCheckpoint,
  );
}

export async function getCheckpointProgress(
  q: SqlContext,
  iModelId: string,
  changesetIndex: number,
): Promise<{ lastIndex: number; bytesSince: number }> {
  const row = await q.s.get<Row>(
    `SELECT l.idx AS last_index,
      (SELECT COALESCE(SUM(c.file_size), 0) FROM changesets c
        WHERE c.imodel_id = ? AND c.idx > l.idx AND c.idx <= ? AND c.state = 'fileUploaded') AS bytes
      FROM (SELECT COALESCE(MAX(changeset_index), 0) AS idx FROM checkpoints WHERE imodel_id = ? AND state <> 'failed') l`,
    iModelId,
    changesetIndex,
    iModelId,
  );
  return { lastIndex: Number(row?.last_index ?? 0), bytesSince: Number(row?.bytes ?? 0) };
}

export async function upsertCheckpoint(q: SqlContext, r: CheckpointRecord): Promise<void> {
  await q.s.run(
    `INSERT INTO checkpoints (imodel_id, changeset_index, changeset_id, state, blob_key, size, failure_reason, updated_at) VALUES (?,?,?,?,?,?,?,?)
      ON CONFLICT (imodel_id, changeset_index) DO UPDATE SET changeset_id = excluded.changeset_id, state = excluded.state,
      blob_key = excluded.blob_key, size = excluded.size, failure_reason = excluded.failure_reason, updated_at = excluded.updated_at`,
    r.iModelId,
    r.changesetIndex,
    r.changesetId,
    r.state,
    r.blobKey,
    r.size,
    r.failureReason,
    r.updatedAt,
  );
}

export async function deleteCheckpoint(q: SqlContext, iModelId: string, changesetIndex: number): Promise<void> {
  await q.s.run("DELETE FROM checkpoints WHERE imodel_id = ? AND changeset_index = ?", iModelId, changesetIndex);
}

function toCheckpoint(r: Row): CheckpointRecord {
  return {
    iModelId: r.imodel_id as string,
    changesetIndex: r.changeset_index as number,
    changesetId: r.changeset_id as string,
    state: r.state as CheckpointRecord["state"],
    blobKey: (r.blob_key as string | null) ?? null,
    size: r.size as number,
    failureReason: (r.failure_reason as string | null) ?? null,
    updatedAt: r.updated_at as string,
  };
}
