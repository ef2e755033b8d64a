// The worker operation that reads changesets element by element (issue 20), in the iTwin.js worker process.
// It keeps a briefcase of the iModel at the changeset it summarizes: iTwin.js's changeset reader maps table rows to
// EC classes and properties with the schemas of the file it is given, so the file must be at that changeset.
import { copyFile, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreBentley from "@itwin/core-bentley";
import type { ChangeOp, RawChangesetSummary, SummarizeArgs, SummaryChangeset } from "../ports/change-summary-store.js";

const require = createRequire(import.meta.url);
const backend = require("@itwin/core-backend") as typeof CoreBackend;
const bentley = require("@itwin/core-bentley") as typeof CoreBentley;

type IModelDb = CoreBackend.IModelDb;
type ChangedECInstance = CoreBackend.ChangedECInstance;

/** Properties that change with every edit of an element and say nothing about what was edited. */
const IGNORED_PROPERTIES = new Set(["ECInstanceId", "ECClassId", "$meta", "LastMod"]);

const OPS: Record<string, ChangeOp> = { Inserted: "inserted", Updated: "updated", Deleted: "deleted" };

function isSchemaChangeset(changesType: number): boolean {
  // ChangesetType.Schema = 1, SchemaSync = 65 (both have bit 0).
  return (changesType & 1) === 1;
}

function navId(value: unknown): string | null {
  if (value && typeof value === "object" && "Id" in value) {
    const id = (value as { Id?: unknown }).Id;
    return typeof id === "string" && id !== "0" ? id : null;
  }
  return null;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** Schemas inserted, updated or deleted by the changeset (rows of ec_Schema). */
function readSchemaChanges(db: IModelDb, pathname: string): { name: string; op: ChangeOp }[] {
  const schemas: { name: string; op: ChangeOp }[] = [];
  const reader = backend.SqliteChangesetReader.openFile({ fileName: pathname, db, disableSchemaCheck: true });
  try {
    while (reader.step()) {
      if (reader.tableName !== "ec_Schema") continue;
      const op = OPS[reader.op]!;
      const values = reader.getChangeValuesObject(op === "deleted" ? "Old" : "New", { includePrimaryKeyInUpdateNew: true }) ?? {};
      let name = text(values.Name);
      if (!name) {
        const id = reader.primaryKeyValues[0];
        name = db.withSqliteStatement("SELECT Name FROM ec_Schema WHERE Id = ?", (stmt) => {
          stmt.bindValue(1, id as number);
          return stmt.step() === bentley.DbResult.BE_SQLITE_ROW ? stmt.getValueString(0) : `schema ${String(id)}`;
        });
      }
      schemas.push({ name, op });
    }
  } finally {
    reader.close();
  }
  return schemas;
}

/** Model, parent, label and class of elements as they are in the file now (after the changeset). */
function currentElements(db: IModelDb, ids: string[]): Map<string, { modelId: string; parentId: string | null; label: string | null; classFullName: string }> {
  const found = new Map<string, { modelId: string; parentId: string | null; label: string | null; classFullName: string }>();
  if (ids.length === 0) return found;
  db.withSqliteStatement(
    `SELECT e.ModelId, e.ParentId, e.UserLabel, e.CodeValue, s.Name || ':' || c.Name
       FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId JOIN ec_Schema s ON s.Id = c.SchemaId WHERE e.Id = ?`,
    (stmt) => {
      for (const id of ids) {
        stmt.reset();
        stmt.clearBindings();
        stmt.bindId(1, id);
        if (stmt.step() !== bentley.DbResult.BE_SQLITE_ROW) continue;
        found.set(id, {
          modelId: stmt.getValueId(0),
          parentId: stmt.isValueNull(1) ? null : stmt.getValueId(1),
          label: (stmt.isValueNull(2) ? null : text(stmt.getValueString(2))) ?? (stmt.isValueNull(3) ? null : text(stmt.getValueString(3))),
          classFullName: stmt.getValueString(4),
        });
      }
    },
  );
  return found;
}

/** Reads one changeset against `db` (which must be at that changeset): one entry per changed element. */
export function summarizeChangeset(db: IModelDb, cs: SummaryChangeset, spillAboveBytes: number, fileSize: number): RawChangesetSummary {
  const schemaChanged = isSchemaChangeset(cs.changesType);
  const schemas = schemaChanged ? readSchemaChanges(db, cs.pathname) : [];

  const byId = new Map<string, { op: ChangeOp; old?: ChangedECInstance; new?: ChangedECInstance; classFullName?: string }>();
  const reader = backend.SqliteChangesetReader.openFile({ fileName: cs.pathname, db, disableSchemaCheck: true });
  const adaptor = new backend.ChangesetECAdaptor(reader);
  const cache = fileSize > spillAboveBytes ? backend.ECChangeUnifierCache.createSqliteBackedCache(db) : backend.ECChangeUnifierCache.createInMemoryCache();
  const unifier = new backend.PartialECChangeUnifier(db, cache);
  try {
    adaptor.acceptClass("BisCore.Element");
    while (adaptor.step()) unifier.appendFrom(adaptor);
    for (const instance of unifier.instances) {
      const meta = instance.$meta;
      if (!meta) continue;
      const id = instance.ECInstanceId;
      const entry = byId.get(id) ?? { op: OPS[meta.op]! };
      if (meta.stage === "New") entry.new = instance;
      else entry.old = instance;
      entry.classFullName ??= meta.classFullName;
      byId.set(id, entry);
    }
  } finally {
    unifier[Symbol.dispose]();
    adaptor.close();
    reader.close();
  }

  const present = currentElements(
    db,
    [...byId].filter(([, e]) => e.op !== "deleted").map(([id]) => id),
  );
  const elements: RawChangesetSummary["elements"] = [];
  for (const [id, entry] of byId) {
    if (entry.op === "deleted") {
      const old: Record<string, unknown> = entry.old ?? {};
      elements.push({
        id,
        op: "deleted",
        classFullName: entry.classFullName ?? "",
        modelId: navId(old.Model) ?? "",
        previousModelId: null,
        parentId: navId(old.Parent),
        label: text(old.UserLabel) ?? text(old.CodeValue),
        properties: null,
      });
      continue;
    }
    const now = present.get(id);
    const fromChange: Record<string, unknown> = entry.new ?? {};
    const modelId = now?.modelId ?? navId(fromChange.Model) ?? "";
    const element: RawChangesetSummary["elements"][number] = {
      id,
      op: entry.op,
      classFullName: now?.classFullName ?? entry.classFullName ?? "",
      modelId,
      previousModelId: null,
      parentId: now ? now.parentId : navId(fromChange.Parent),
      label: now ? now.label : (text(fromChange.UserLabel) ?? text(fromChange.CodeValue)),
      properties: null,
    };
    if (entry.op === "updated") {
      element.properties = Object.keys(fromChange)
        .filter((name) => !IGNORED_PROPERTIES.has(name))
        .sort();
      const before = navId(entry.old?.Model);
      if ("Model" in fromChange && before && before !== modelId) element.previousModelId = before;
    }
    elements.push(element);
  }
  elements.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { index: cs.index, id: cs.id, schemaChanged, schemas, elements };
}

type NativeDb = { applyChangeset(cs: unknown, fastForward: boolean): void; getCurrentChangeset(): { id: string }; hasPendingTxns(): boolean; deleteAllTxns(): void; getBriefcaseId(): number; resetBriefcaseId(id: number): void };

function nativeDbOf(db: object): NativeDb {
  for (const sym of Object.getOwnPropertySymbols(db)) {
    const value = (db as Record<symbol, unknown>)[sym] as { applyChangeset?: unknown } | undefined;
    if (value && typeof value.applyChangeset === "function") return value as unknown as NativeDb;
  }
  throw new Error("Cannot reach the native database of a SnapshotDb in this iTwin.js version.");
}

/**
 * Brings the summary briefcase forward changeset by changeset and summarizes the ones asked for. `rejected` makes
 * the error the worker reports as bad input (a changeset that does not apply or cannot be read).
 */
export async function summarizeChangesets(args: SummarizeArgs, rejected: (message: string) => Error): Promise<{ summaries: RawChangesetSummary[]; changesetId: string }> {
  if (args.basePath) {
    const temp = `${args.briefcasePath}.${process.pid}.tmp`;
    await copyFile(args.basePath, temp);
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${args.briefcasePath}${suffix}`, { force: true });
    await rename(temp, args.briefcasePath);
  }
  const spill = args.spillAboveBytes ?? 16 * 1024 * 1024;
  const db = backend.SnapshotDb.openForApplyChangesets(args.briefcasePath);
  try {
    const nativeDb = nativeDbOf(db);
    if (nativeDb.hasPendingTxns()) nativeDb.deleteAllTxns();
    if (nativeDb.getBriefcaseId() !== 0) nativeDb.resetBriefcaseId(0);
    const summaries: RawChangesetSummary[] = [];
    const read = async (cs: SummaryChangeset) => {
      try {
        summaries.push(summarizeChangeset(db, cs, spill, (await stat(cs.pathname)).size));
      } catch (err) {
        throw rejected(`Changeset ${cs.index} ('${cs.id}') could not be read: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    if (args.current) {
      const at = nativeDb.getCurrentChangeset().id;
      if (at !== args.current.id) throw new Error(`The summary briefcase is at '${at}', not at changeset ${args.current.index} ('${args.current.id}').`);
      await read(args.current);
    }
    for (const cs of args.changesets) {
      const at = nativeDb.getCurrentChangeset().id;
      if (cs.parentId !== at) throw new Error(`Changeset ${cs.index} ('${cs.id}') does not follow the summary briefcase's changeset '${at}'.`);
      if (isSchemaChangeset(cs.changesType)) db.clearCaches();
      try {
        nativeDb.applyChangeset({ ...cs }, true);
      } catch (err) {
        throw rejected(`Changeset ${cs.index} ('${cs.id}') could not be applied: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (isSchemaChangeset(cs.changesType)) db.clearCaches();
      if (cs.index >= args.summarizeFromIndex) await read(cs);
    }
    db.saveChanges();
    return { summaries, changesetId: nativeDb.getCurrentChangeset().id };
  } finally {
    db.close();
  }
}
