// The worker operation that reads changesets element by element (issue 20), in the iTwin.js worker process.
// It keeps a briefcase of the iModel at the changeset it summarizes: iTwin.js's changeset reader maps table rows to
// EC classes and properties with the schemas of the file it is given, so the file must be at that changeset.
import { copyFile, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import type * as CoreBackend from "@itwin/core-backend";
import type * as CoreBentley from "@itwin/core-bentley";
import type {
  ChangeOp,
  RawChangesetSummary,
  SummarizeArgs,
  SummaryChangeset,
} from "../../ports/change-summary-store.js";
import { KeptOpen } from "./kept-open.js";

// The same iTwin.js as the worker's (worker-itwin.ts): MODELHUB_ITWIN_ROOT may name another installed one, and
// one process cannot load two iTwin.js natives.
const itwinRoot = process.env.MODELHUB_ITWIN_ROOT ? resolve(process.env.MODELHUB_ITWIN_ROOT) : undefined;
const require = createRequire(itwinRoot ? join(itwinRoot, "package.json") : import.meta.url);
// Loaded on first use, not when the worker starts: the worker checks MODELHUB_ITWIN_ROOT first and says why it is
// unusable, which a failed require here would pre-empt.
let loaded: { backend: typeof CoreBackend; bentley: typeof CoreBentley } | undefined;
function itwin(): { backend: typeof CoreBackend; bentley: typeof CoreBentley } {
  loaded ??= {
    backend: require("@itwin/core-backend") as typeof CoreBackend,
    bentley: require("@itwin/core-bentley") as typeof CoreBentley,
  };
  return loaded;
}

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
  const reader = itwin().backend.SqliteChangesetReader.openFile({ fileName: pathname, db, disableSchemaCheck: true });
  try {
    while (reader.step()) {
      if (reader.tableName !== "ec_Schema") continue;
      const op = OPS[reader.op]!;
      const values =
        reader.getChangeValuesObject(op === "deleted" ? "Old" : "New", { includePrimaryKeyInUpdateNew: true }) ?? {};
      let name = text(values.Name);
      if (!name) {
        const id = reader.primaryKeyValues[0];
        name = db.withSqliteStatement("SELECT Name FROM ec_Schema WHERE Id = ?", (stmt) => {
          stmt.bindValue(1, id as number);
          return stmt.step() === itwin().bentley.DbResult.BE_SQLITE_ROW
            ? stmt.getValueString(0)
            : `schema ${String(id)}`;
        });
      }
      schemas.push({ name, op });
    }
  } finally {
    reader.close();
  }
  return schemas;
}

interface ElementState {
  modelId: string;
  parentId: string | null;
  userLabel: string | null;
  codeValue: string | null;
  classFullName: string;
  classId: string;
}

/** Model, parent, label and class of elements as they are in the file now. */
function currentElements(db: IModelDb, ids: string[]): Map<string, ElementState> {
  const found = new Map<string, ElementState>();
  if (ids.length === 0) return found;
  db.withSqliteStatement(
    `SELECT e.ModelId, e.ParentId, e.UserLabel, e.CodeValue, s.Name || ':' || c.Name, e.ECClassId
       FROM bis_Element e JOIN ec_Class c ON c.Id = e.ECClassId JOIN ec_Schema s ON s.Id = c.SchemaId WHERE e.Id = ?`,
    (stmt) => {
      for (const id of ids) {
        stmt.reset();
        stmt.clearBindings();
        stmt.bindId(1, id);
        if (stmt.step() !== itwin().bentley.DbResult.BE_SQLITE_ROW) continue;
        found.set(id, {
          modelId: stmt.getValueId(0),
          parentId: stmt.isValueNull(1) ? null : stmt.getValueId(1),
          userLabel: stmt.isValueNull(2) ? null : text(stmt.getValueString(2)),
          codeValue: stmt.isValueNull(3) ? null : text(stmt.getValueString(3)),
          classFullName: stmt.getValueString(4),
          classId: stmt.getValueId(5),
        });
      }
    },
  );
  return found;
}

/** `Schema:Class` of class ids, looked up once each. */
function classNames(db: IModelDb): (classId: string) => string {
  const cache = new Map<string, string>();
  return (classId) => {
    let name = cache.get(classId);
    if (name === undefined) {
      name = db.withSqliteStatement(
        "SELECT s.Name || ':' || c.Name FROM ec_Class c JOIN ec_Schema s ON s.Id = c.SchemaId WHERE c.Id = ?",
        (stmt) => {
          stmt.bindId(1, classId);
          return stmt.step() === itwin().bentley.DbResult.BE_SQLITE_ROW ? stmt.getValueString(0) : "";
        },
      );
      cache.set(classId, name);
    }
    return name;
  };
}

type Element = RawChangesetSummary["elements"][number];

/**
 * Inserted and deleted elements straight from the changeset's `bis_Element` rows (every element has one, with its
 * class, model, parent, code value and user label): a native pass, far faster than mapping every table's rows to EC
 * instances, and the bulk of large changesets.
 */
function insertsAndDeletes(db: IModelDb, pathname: string): Element[] {
  const className = classNames(db);
  const elements: Element[] = [];
  const reader = itwin().backend.SqliteChangesetReader.openFile({ fileName: pathname, db, disableSchemaCheck: true });
  let columns: Record<string, number> | undefined;
  try {
    while (reader.step()) {
      if (reader.tableName !== "bis_Element" || reader.op === "Updated") continue;
      if (!columns) {
        const names = reader.getColumnNames("bis_Element");
        columns = Object.fromEntries(
          ["Id", "ECClassId", "ModelId", "ParentId", "UserLabel", "CodeValue"].map((n) => [n, names.indexOf(n)]),
        );
        for (const [n, i] of Object.entries(columns))
          if (i < 0) throw new Error(`bis_Element has no column ${n} in this changeset.`);
      }
      const stage = reader.op === "Inserted" ? "New" : "Old";
      const id = (n: string) =>
        reader.isColumnValueNull(columns![n]!, stage) ? null : (reader.getChangeValueId(columns![n]!, stage) ?? null);
      const str = (n: string) =>
        reader.isColumnValueNull(columns![n]!, stage) ? null : text(reader.getChangeValueText(columns![n]!, stage));
      elements.push({
        id: id("Id")!,
        op: reader.op === "Inserted" ? "inserted" : "deleted",
        classFullName: className(id("ECClassId") ?? ""),
        ...(id("ECClassId") ? { classId: id("ECClassId")! } : {}),
        modelId: id("ModelId") ?? "",
        previousModelId: null,
        parentId: id("ParentId"),
        label: str("UserLabel") ?? str("CodeValue"),
        properties: null,
      });
    }
  } finally {
    reader.close();
  }
  return elements;
}

/**
 * Updated elements through iTwin.js's EC mapping (`ChangesetECAdaptor` → `PartialECChangeUnifier`), which turns
 * changed columns of every table an element spans into property names. Read against the changeset's parent or the
 * changeset itself: the values after the change are the changed ones, else the file's.
 */
function updates(db: IModelDb, pathname: string, spill: boolean): Element[] {
  const byId = new Map<string, { old?: ChangedECInstance; new?: ChangedECInstance }>();
  const { backend } = itwin();
  const reader = backend.SqliteChangesetReader.openFile({ fileName: pathname, db, disableSchemaCheck: true });
  const adaptor = new backend.ChangesetECAdaptor(reader);
  const cache = spill
    ? backend.ECChangeUnifierCache.createSqliteBackedCache(db)
    : backend.ECChangeUnifierCache.createInMemoryCache();
  const unifier = new backend.PartialECChangeUnifier(db, cache);
  try {
    adaptor.acceptOp("Updated").acceptClass("BisCore.Element");
    while (adaptor.step()) unifier.appendFrom(adaptor);
    for (const instance of unifier.instances) {
      if (!instance.$meta) continue;
      const entry = byId.get(instance.ECInstanceId) ?? {};
      if (instance.$meta.stage === "New") entry.new = instance;
      else entry.old = instance;
      byId.set(instance.ECInstanceId, entry);
    }
  } finally {
    unifier[Symbol.dispose]();
    adaptor.close();
    reader.close();
  }
  const present = currentElements(db, [...byId.keys()]);
  const elements: Element[] = [];
  for (const [id, entry] of byId) {
    const now: Record<string, unknown> = entry.new ?? {};
    const before: Record<string, unknown> = entry.old ?? {};
    const file = present.get(id);
    // A property the update changed has its new value in `now`, or was set to null (only in `before`).
    const after = <T>(name: string, fromFile: T | null | undefined, convert: (v: unknown) => T | null): T | null =>
      name in now ? convert(now[name]) : name in before ? null : (fromFile ?? null);
    const modelId = after("Model", file?.modelId, navId) ?? "";
    const previous = navId(before.Model);
    const properties = [...new Set([...Object.keys(now), ...Object.keys(before)])]
      .filter((name) => !IGNORED_PROPERTIES.has(name))
      .sort();
    elements.push({
      id,
      op: "updated",
      classFullName: file?.classFullName ?? "",
      ...(file ? { classId: file.classId } : {}),
      modelId,
      previousModelId: "Model" in now && previous && previous !== modelId ? previous : null,
      parentId: after("Parent", file?.parentId, navId),
      label: after("UserLabel", file?.userLabel, text) ?? after("CodeValue", file?.codeValue, text),
      properties,
      // A property absent from one side is null there (set to, or from, null).
      checksums: { old: properties.map((p) => checksum(before[p])), new: properties.map((p) => checksum(now[p])) },
    });
  }
  return elements;
}

/**
 * A property value's checksum, as the Changed Elements API's `oldChecksums`/`newChecksums` (equal checksums: the same
 * value): CRC-32 of its JSON, binary values (geometry streams) as base64, null for a missing value.
 */
function checksum(value: unknown): number {
  const json = JSON.stringify(value ?? null, (_key, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") : v,
  );
  return crc32(json);
}

/**
 * Sets `parentClassId` on elements with a parent: the parent's class from the changeset's own rows when it changed
 * too (inserted beside its child, or deleted with it), else from the file.
 */
function addParentClasses(db: IModelDb, elements: Element[]): void {
  const classes = new Map<string, string>();
  for (const e of elements) if (e.classId) classes.set(e.id, e.classId);
  const missing = [...new Set(elements.map((e) => e.parentId).filter((p): p is string => !!p && !classes.has(p)))];
  if (missing.length > 0)
    db.withSqliteStatement("SELECT ECClassId FROM bis_Element WHERE Id = ?", (stmt) => {
      for (const id of missing) {
        stmt.reset();
        stmt.clearBindings();
        stmt.bindId(1, id);
        if (stmt.step() === itwin().bentley.DbResult.BE_SQLITE_ROW) classes.set(id, stmt.getValueId(0));
      }
    });
  for (const e of elements) {
    const parentClassId = e.parentId ? classes.get(e.parentId) : undefined;
    if (parentClassId) e.parentClassId = parentClassId;
  }
}

/** Reads one changeset against `db` (at the changeset's parent, or at the changeset): one entry per changed element. */
export function summarizeChangeset(
  db: IModelDb,
  cs: SummaryChangeset,
  spillAboveBytes: number,
  fileSize: number,
): RawChangesetSummary {
  const schemaChanged = isSchemaChangeset(cs.changesType);
  const schemas = schemaChanged ? readSchemaChanges(db, cs.pathname) : [];
  const elements = [...insertsAndDeletes(db, cs.pathname), ...updates(db, cs.pathname, fileSize > spillAboveBytes)];
  addParentClasses(db, elements);
  elements.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { index: cs.index, id: cs.id, schemaChanged, schemas, elements };
}

type NativeDb = {
  applyChangeset(cs: unknown, fastForward: boolean): void;
  getCurrentChangeset(): { id: string };
  hasPendingTxns(): boolean;
  deleteAllTxns(): void;
  getBriefcaseId(): number;
  resetBriefcaseId(id: number): void;
};

function nativeDbOf(db: object): NativeDb {
  for (const sym of Object.getOwnPropertySymbols(db)) {
    const value = (db as Record<symbol, unknown>)[sym] as { applyChangeset?: unknown } | undefined;
    if (value && typeof value.applyChangeset === "function") return value as unknown as NativeDb;
  }
  throw new Error("Cannot reach the native database of a SnapshotDb in this iTwin.js version.");
}

/**
 * Brings the summary briefcase forward changeset by changeset and summarizes the ones asked for. `rejected` makes
 * the error the worker reports as bad input (a changeset that does not apply or cannot be read). `changesetIdOf`
 * (iTwin.js's id of a changeset file) checks each file before it is read: iTwin.js's reader takes a file that is not
 * a changeset for an empty one, which would be summarized as "no element changed".
 */
export async function summarizeChangesets(
  args: SummarizeArgs,
  rejected: (message: string) => Error,
  changesetIdOf?: (args: { parentId: string; pathname: string }) => string,
): Promise<{ summaries: RawChangesetSummary[]; changesetId: string }> {
  if (args.basePath) {
    keptOpen.close(args.briefcasePath);
    const temp = `${args.briefcasePath}.${process.pid}.tmp`;
    await copyFile(args.basePath, temp);
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${args.briefcasePath}${suffix}`, { force: true });
    await rename(temp, args.briefcasePath);
  }
  const spill = args.spillAboveBytes ?? 16 * 1024 * 1024;
  const db = keptOpen.take(args.briefcasePath) ?? itwin().backend.SnapshotDb.openForApplyChangesets(args.briefcasePath);
  let ok = false;
  try {
    const nativeDb = nativeDbOf(db);
    if (nativeDb.hasPendingTxns()) nativeDb.deleteAllTxns();
    if (nativeDb.getBriefcaseId() !== 0) nativeDb.resetBriefcaseId(0);
    const summaries: RawChangesetSummary[] = [];
    const read = async (cs: SummaryChangeset) => {
      try {
        const id = changesetIdOf?.({ parentId: cs.parentId, pathname: cs.pathname });
        if (id !== undefined && id !== cs.id)
          throw new Error(`its file is not that changeset (iTwin.js computes the id '${id}' for it).`);
        summaries.push(summarizeChangeset(db, cs, spill, (await stat(cs.pathname)).size));
      } catch (err) {
        throw rejected(
          `Changeset ${cs.index} ('${cs.id}') could not be read: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    };
    if (args.current) {
      const at = nativeDb.getCurrentChangeset().id;
      if (at !== args.current.id)
        throw new Error(
          `The summary briefcase is at '${at}', not at changeset ${args.current.index} ('${args.current.id}').`,
        );
      await read(args.current);
    }
    const last = args.changesets.at(-1);
    for (const cs of args.changesets) {
      const schema = isSchemaChangeset(cs.changesType);
      // A data changeset is read against its parent, before it is applied: its summary does not wait for the apply.
      if (cs.summarize && !schema) await read(cs);
      if (cs === last && args.applyLast === false) break;
      const at = nativeDb.getCurrentChangeset().id;
      if (cs.parentId !== at)
        throw new Error(
          `Changeset ${cs.index} ('${cs.id}') does not follow the summary briefcase's changeset '${at}'.`,
        );
      if (schema) db.clearCaches();
      try {
        const { summarize: _summarize, ...props } = cs;
        nativeDb.applyChangeset(props, true);
      } catch (err) {
        throw rejected(
          `Changeset ${cs.index} ('${cs.id}') could not be applied: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      if (schema) db.clearCaches();
      if (cs.summarize && schema) await read(cs);
    }
    db.saveChanges();
    ok = true;
    return { summaries, changesetId: nativeDb.getCurrentChangeset().id };
  } finally {
    // A call that failed may have left the briefcase half way: closed, and opened afresh by the next call.
    if (ok) keptOpen.keep(args.briefcasePath, db);
    else db.close();
  }
}

/** Summary briefcases kept open between calls (see KeptOpen). */
const keptOpen = new KeptOpen<CoreBackend.SnapshotDb>(30_000, 4);
