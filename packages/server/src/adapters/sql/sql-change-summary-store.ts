import { yieldIfBusy } from "../../util/event-loop.js";
import type { SideDatabase } from "./side-database.js";
import type { SqlSession } from "./sql-session.js";
import { decodeChangedElements, decodeCounts, encodeChangedElements, encodeCounts } from "./changed-elements-codec.js";
import { queueWebhookEvent } from "./webhook-outbox.js";
import type { WebhookEvent } from "../../ports/webhook-store.js";
import type {
  ChangeSummaryStore,
  ChangedElementRow,
  ChangesetSummary,
  ElementFilter,
} from "../../ports/change-summary-store.js";

type Row = Record<string, unknown>;

/**
 * What the change-summary queries need of a database: statements with `?` placeholders and a write transaction.
 * The SQLite and PostgreSQL adapters implement it; every query below is written once for both.
 */
export interface SummaryDb {
  all<T>(sql: string, params: unknown[]): Promise<T[]>;
  run(sql: string, params: unknown[]): Promise<number>;
  /** Runs `fn` in one write transaction; statements of `fn` go through the `SummaryDb` it is given. */
  transaction<T>(fn: (db: SummaryDb) => Promise<T>): Promise<T>;
  /** Queues a webhook event in the outbox (webhook-outbox.ts), in this `SummaryDb`'s transaction. */
  queueWebhook(event: WebhookEvent): Promise<number>;
  close(): Promise<void>;
}

/** The summary store's statements on the database it shares with the metadata store (see SideDatabase). */
export class SideSummaryDb implements SummaryDb {
  constructor(
    private readonly side: SideDatabase,
    private readonly tx?: SqlSession,
  ) {}

  all<T>(sql: string, params: unknown[]): Promise<T[]> {
    return (this.tx ?? this.side.session).all<T>(sql, ...params);
  }

  run(sql: string, params: unknown[]): Promise<number> {
    return (this.tx ?? this.side.session).run(sql, ...params);
  }

  transaction<T>(fn: (db: SummaryDb) => Promise<T>): Promise<T> {
    return this.side.transaction((tx) => fn(new SideSummaryDb(this.side, tx)));
  }

  queueWebhook(event: WebhookEvent): Promise<number> {
    return queueWebhookEvent(this.tx ?? this.side.session, event);
  }

  async close(): Promise<void> {
    this.side.close();
  }
}

/** The columns of a summary but its elements (read without decompressing them). */
const SUMMARY_COLUMNS =
  "imodel_id, changeset_index, changeset_id, inserted, updated, deleted, schema_changed, schemas, counts, created_at, failure";

/**
 * The change-summary store on either SQL database (see {@link ChangeSummaryStore}). A summary is one row: its counts
 * in columns and JSON (read as they are), its elements as one compressed blob (changed-elements-codec.ts) decoded when
 * a page of the changeset or a compare needs them.
 */
export class SqlChangeSummaryStore implements ChangeSummaryStore {
  constructor(private readonly db: SummaryDb) {}

  async putSummary(
    s: ChangesetSummary,
    elements: readonly ChangedElementRow[],
    event?: WebhookEvent,
  ): Promise<boolean> {
    // Compressed before the write transaction, so the write lock is held for one row only.
    const blob = await encodeChangedElements(elements);
    return this.db.transaction(async (db) => {
      const alive = await db.all("SELECT 1 AS one FROM changesets WHERE imodel_id = ? AND idx = ? AND id = ?", [
        s.iModelId,
        s.changesetIndex,
        s.changesetId,
      ]);
      // The iModel was deleted (or the changeset is not this one any more) while the summary was being made.
      if (alive.length === 0) return false;
      const inserted = await db.run(
        `INSERT INTO change_summaries (${SUMMARY_COLUMNS}, elements) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
        [
          s.iModelId,
          s.changesetIndex,
          s.changesetId,
          s.inserted,
          s.updated,
          s.deleted,
          s.schemaChanged ? 1 : 0,
          JSON.stringify(s.schemas),
          encodeCounts(s.counts),
          s.createdAt,
          s.failure,
          blob,
        ],
      );
      if (inserted > 0 && event) await db.queueWebhook(event);
      return inserted > 0;
    });
  }

  async getSummary(iModelId: string, changesetIndex: number): Promise<ChangesetSummary | undefined> {
    const rows = await this.db.all<Row>(
      `SELECT ${SUMMARY_COLUMNS} FROM change_summaries WHERE imodel_id = ? AND changeset_index = ?`,
      [iModelId, changesetIndex],
    );
    return rows[0] ? toSummary(rows[0]) : undefined;
  }

  async listSummaries(iModelId: string, afterIndex: number, lastIndex: number): Promise<ChangesetSummary[]> {
    const rows = await this.db.all<Row>(
      `SELECT ${SUMMARY_COLUMNS} FROM change_summaries WHERE imodel_id = ? AND changeset_index > ? AND changeset_index <= ? ORDER BY changeset_index`,
      [iModelId, afterIndex, lastIndex],
    );
    return rows.map(toSummary);
  }

  async listElements(
    iModelId: string,
    changesetIndex: number,
    filter: ElementFilter,
    page: { limit: number; offset: number },
  ): Promise<ChangedElementRow[]> {
    const rows = await this.db.all<{ elements: Uint8Array }>(
      "SELECT elements FROM change_summaries WHERE imodel_id = ? AND changeset_index = ?",
      [iModelId, changesetIndex],
    );
    if (!rows[0]) return [];
    const elements = await decodeChangedElements(rows[0].elements, changesetIndex);
    return elements
      .filter(
        (e) =>
          (filter.op === undefined || e.op === filter.op) &&
          (filter.modelId === undefined || e.modelId === filter.modelId) &&
          (filter.classFullName === undefined || e.classFullName === filter.classFullName),
      )
      .slice(page.offset, page.offset + page.limit);
  }

  async rangeRows(iModelId: string, afterIndex: number, lastIndex: number): Promise<ChangedElementRow[]> {
    const rows = await this.db.all<{ changeset_index: number; elements: Uint8Array }>(
      // A failed summary has no elements (its blob is of none; not read).
      "SELECT changeset_index, elements FROM change_summaries WHERE imodel_id = ? AND changeset_index > ? AND changeset_index <= ? AND failure IS NULL ORDER BY changeset_index",
      [iModelId, afterIndex, lastIndex],
    );
    const all: ChangedElementRow[] = [];
    for (const r of rows) {
      for (const e of await decodeChangedElements(r.elements, Number(r.changeset_index))) all.push(e);
      // A compare of a long range decodes many blobs: other requests get their turn between them.
      await yieldIfBusy();
    }
    // By element id (as strings compare), then changeset index: the blobs were read in changeset order and the sort
    // is stable.
    return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async missingIndexes(iModelId: string, afterIndex: number, lastIndex: number): Promise<number[]> {
    const rows = await this.db.all<{ idx: number }>(
      `SELECT c.idx AS idx FROM changesets c WHERE c.imodel_id = ? AND c.idx > ? AND c.idx <= ? AND c.state = 'fileUploaded'
        AND NOT EXISTS (SELECT 1 FROM change_summaries s WHERE s.imodel_id = c.imodel_id AND s.changeset_index = c.idx) ORDER BY c.idx`,
      [iModelId, afterIndex, lastIndex],
    );
    return rows.map((r) => Number(r.idx));
  }

  async iModelsLackingSummaries(limit: number): Promise<{ iModelId: string; lastIndex: number }[]> {
    const rows = await this.db.all<{ imodel_id: string; last_index: number }>(
      `SELECT c.imodel_id AS imodel_id, MAX(c.idx) AS last_index FROM changesets c WHERE c.state = 'fileUploaded'
        AND NOT EXISTS (SELECT 1 FROM change_summaries s WHERE s.imodel_id = c.imodel_id AND s.changeset_index = c.idx)
        GROUP BY c.imodel_id ORDER BY c.imodel_id LIMIT ?`,
      [limit],
    );
    return rows.map((r) => ({ iModelId: r.imodel_id, lastIndex: Number(r.last_index) }));
  }

  async copySummaries(sourceIModelId: string, targetIModelId: string, upToIndex: number): Promise<number> {
    // Summaries of the source whose changeset the target has under the same index and id, and the target lacks.
    return this.db.run(
      `INSERT INTO change_summaries (${SUMMARY_COLUMNS}, elements)
        SELECT ?, s.changeset_index, s.changeset_id, s.inserted, s.updated, s.deleted, s.schema_changed, s.schemas, s.counts, s.created_at, s.failure, s.elements
        FROM change_summaries s JOIN changesets t ON t.imodel_id = ? AND t.idx = s.changeset_index AND t.id = s.changeset_id
        WHERE s.imodel_id = ? AND s.changeset_index <= ?
          AND NOT EXISTS (SELECT 1 FROM change_summaries x WHERE x.imodel_id = ? AND x.changeset_index = s.changeset_index)
        ON CONFLICT DO NOTHING`,
      [targetIModelId, targetIModelId, sourceIModelId, upToIndex, targetIModelId],
    );
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

function toSummary(r: Row): ChangesetSummary {
  return {
    iModelId: String(r.imodel_id),
    changesetIndex: Number(r.changeset_index),
    changesetId: String(r.changeset_id),
    inserted: Number(r.inserted),
    updated: Number(r.updated),
    deleted: Number(r.deleted),
    schemaChanged: Number(r.schema_changed) === 1,
    schemas: JSON.parse(String(r.schemas)) as ChangesetSummary["schemas"],
    counts: decodeCounts(String(r.counts)),
    createdAt: String(r.created_at),
    failure: r.failure === null || r.failure === undefined ? null : String(r.failure),
  };
}
