import { yieldIfBusy } from "../../util/event-loop.js";
import type { SideDatabase } from "./side-database.js";
import type { SqlSession } from "./sql-session.js";
import type {
  ChangeOp,
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
  /** Inserts element rows (multi-row inserts, yielding to other requests between batches). */
  insertElements(db: SummaryDb, iModelId: string, rows: readonly ChangedElementRow[]): Promise<void>;
  close(): Promise<void>;
}

/** Element rows per INSERT statement: 10 parameters each, far below SQLite's 32,766 and PostgreSQL's 65,535. */
const ROWS_PER_INSERT = 500;

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

  async insertElements(db: SummaryDb, iModelId: string, rows: readonly ChangedElementRow[]): Promise<void> {
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const batch = rows.slice(start, start + ROWS_PER_INSERT);
      const values = batch.map(() => "(?,?,?,?,?,?,?,?,?,?)").join(",");
      await db.run(
        `INSERT INTO changed_elements (${ELEMENT_COLUMNS}) VALUES ${values}`,
        batch.flatMap((r) => elementParams(iModelId, r)),
      );
      // Other requests get their turn during a large summary.
      await yieldIfBusy();
    }
  }

  async close(): Promise<void> {
    this.side.close();
  }
}

export const ELEMENT_COLUMNS =
  "imodel_id, changeset_index, element_id, op, class_name, model_id, previous_model_id, parent_id, label, properties";

export function elementParams(iModelId: string, r: ChangedElementRow): unknown[] {
  return [
    iModelId,
    r.changesetIndex,
    r.id,
    r.op,
    r.classFullName,
    r.modelId,
    r.previousModelId,
    r.parentId,
    r.label,
    r.properties ? JSON.stringify(r.properties) : null,
  ];
}

/** The change-summary store on either SQL database (see {@link ChangeSummaryStore}). */
export class SqlChangeSummaryStore implements ChangeSummaryStore {
  constructor(private readonly db: SummaryDb) {}

  async putSummary(s: ChangesetSummary, elements: readonly ChangedElementRow[]): Promise<boolean> {
    return this.db.transaction(async (db) => {
      const alive = await db.all("SELECT 1 AS one FROM changesets WHERE imodel_id = ? AND idx = ? AND id = ?", [
        s.iModelId,
        s.changesetIndex,
        s.changesetId,
      ]);
      // The iModel was deleted (or the changeset is not this one any more) while the summary was being made.
      if (alive.length === 0) return false;
      const inserted = await db.run(
        `INSERT INTO change_summaries (imodel_id, changeset_index, changeset_id, inserted, updated, deleted, schema_changed, schemas, counts, created_at)
          VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`,
        [
          s.iModelId,
          s.changesetIndex,
          s.changesetId,
          s.inserted,
          s.updated,
          s.deleted,
          s.schemaChanged ? 1 : 0,
          JSON.stringify(s.schemas),
          JSON.stringify(s.counts),
          s.createdAt,
        ],
      );
      if (inserted === 0) return false;
      await db.insertElements(db, s.iModelId, elements);
      return true;
    });
  }

  async getSummary(iModelId: string, changesetIndex: number): Promise<ChangesetSummary | undefined> {
    const rows = await this.db.all<Row>("SELECT * FROM change_summaries WHERE imodel_id = ? AND changeset_index = ?", [
      iModelId,
      changesetIndex,
    ]);
    return rows[0] ? toSummary(rows[0]) : undefined;
  }

  async listSummaries(iModelId: string, afterIndex: number, lastIndex: number): Promise<ChangesetSummary[]> {
    const rows = await this.db.all<Row>(
      "SELECT * FROM change_summaries WHERE imodel_id = ? AND changeset_index > ? AND changeset_index <= ? ORDER BY changeset_index",
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
    const where: string[] = ["imodel_id = ?", "changeset_index = ?"];
    const params: unknown[] = [iModelId, changesetIndex];
    for (const [column, value] of [
      ["op", filter.op],
      ["model_id", filter.modelId],
      ["class_name", filter.classFullName],
    ] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const rows = await this.db.all<Row>(
      `SELECT * FROM changed_elements WHERE ${where.join(" AND ")} ORDER BY element_id LIMIT ? OFFSET ?`,
      [...params, page.limit, page.offset],
    );
    return rows.map(toElement);
  }

  async rangeRows(iModelId: string, afterIndex: number, lastIndex: number): Promise<ChangedElementRow[]> {
    const rows = await this.db.all<Row>(
      "SELECT * FROM changed_elements WHERE imodel_id = ? AND changeset_index > ? AND changeset_index <= ? ORDER BY element_id, changeset_index",
      [iModelId, afterIndex, lastIndex],
    );
    return rows.map(toElement);
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
    return this.db.transaction(async (db) => {
      // Summaries of the source whose changeset the target has under the same index and id, and the target lacks.
      const copyable = `FROM change_summaries s JOIN changesets t ON t.imodel_id = ? AND t.idx = s.changeset_index AND t.id = s.changeset_id
        WHERE s.imodel_id = ? AND s.changeset_index <= ?
          AND NOT EXISTS (SELECT 1 FROM change_summaries x WHERE x.imodel_id = ? AND x.changeset_index = s.changeset_index)`;
      const params = [targetIModelId, sourceIModelId, upToIndex, targetIModelId];
      const indexes = (await db.all<{ idx: number }>(`SELECT s.changeset_index AS idx ${copyable}`, params)).map((r) =>
        Number(r.idx),
      );
      if (indexes.length === 0) return 0;
      await db.run(
        `INSERT INTO change_summaries (imodel_id, changeset_index, changeset_id, inserted, updated, deleted, schema_changed, schemas, counts, created_at)
          SELECT ?, s.changeset_index, s.changeset_id, s.inserted, s.updated, s.deleted, s.schema_changed, s.schemas, s.counts, s.created_at ${copyable}`,
        [targetIModelId, ...params],
      );
      const first = Math.min(...indexes);
      const last = Math.max(...indexes);
      await db.run(
        `INSERT INTO changed_elements (${ELEMENT_COLUMNS})
          SELECT ?, e.changeset_index, e.element_id, e.op, e.class_name, e.model_id, e.previous_model_id, e.parent_id, e.label, e.properties
          FROM changed_elements e WHERE e.imodel_id = ? AND e.changeset_index >= ? AND e.changeset_index <= ?
            AND NOT EXISTS (SELECT 1 FROM changed_elements x WHERE x.imodel_id = ? AND x.changeset_index = e.changeset_index AND x.element_id = e.element_id)
            AND EXISTS (SELECT 1 FROM change_summaries y WHERE y.imodel_id = ? AND y.changeset_index = e.changeset_index)`,
        [targetIModelId, sourceIModelId, first, last, targetIModelId, targetIModelId],
      );
      return indexes.length;
    });
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
    counts: JSON.parse(String(r.counts)) as ChangesetSummary["counts"],
    createdAt: String(r.created_at),
  };
}

function toElement(r: Row): ChangedElementRow {
  return {
    changesetIndex: Number(r.changeset_index),
    id: String(r.element_id),
    op: r.op as ChangeOp,
    classFullName: String(r.class_name),
    modelId: String(r.model_id),
    previousModelId: (r.previous_model_id as string | null) ?? null,
    parentId: (r.parent_id as string | null) ?? null,
    label: (r.label as string | null) ?? null,
    properties:
      r.properties === null || r.properties === undefined ? null : (JSON.parse(String(r.properties)) as string[]),
  };
}
