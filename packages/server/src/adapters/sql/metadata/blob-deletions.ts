// The blob deletion outbox and deletion holds (migration 2): queries of the metadata port (see ../sql-metadata-tx.ts),
// written once for SQLite and PostgreSQL.
import type { Row, SqlContext } from "./common.js";

export async function listBlobDeletions(q: SqlContext, limit: number): Promise<string[]> {
  return (
    await q.s.all<{ key: string }>(
      "SELECT key FROM blob_deletions ORDER BY requested_at, key LIMIT ?",
      Math.max(0, Math.floor(limit)),
    )
  ).map((r) => r.key);
}

export async function hasLiveDeletionHold(q: SqlContext, nowMs: number): Promise<boolean> {
  return (await q.s.get<Row>("SELECT 1 FROM blob_deletion_holds WHERE expires_at > ? LIMIT 1", nowMs)) !== undefined;
}

export async function requestBlobDeletion(q: SqlContext, keyOrPrefix: string, atMs: number): Promise<void> {
  await q.s.run(
    "INSERT INTO blob_deletions (key, requested_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
    keyOrPrefix,
    atMs,
  );
}

export async function forgetBlobDeletion(q: SqlContext, keyOrPrefix: string): Promise<void> {
  await q.s.run("DELETE FROM blob_deletions WHERE key = ?", keyOrPrefix);
}

export async function putDeletionHold(q: SqlContext, holder: string, expiresAtMs: number): Promise<void> {
  await q.s.run(
    "INSERT INTO blob_deletion_holds (holder, expires_at) VALUES (?, ?) ON CONFLICT (holder) DO UPDATE SET expires_at = excluded.expires_at",
    holder,
    expiresAtMs,
  );
}

export async function removeDeletionHold(q: SqlContext, holder: string): Promise<void> {
  await q.s.run("DELETE FROM blob_deletion_holds WHERE holder = ?", holder);
}
