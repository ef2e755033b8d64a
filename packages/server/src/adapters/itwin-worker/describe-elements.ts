// The worker operation that names locked elements for the web UI's lock list: label, class and model, read from a
// checkpoint.
import { backend, common } from "./worker-itwin.js";

interface ElementDescription {
  id: string;
  className: string;
  label: string | null;
  model: { id: string; className: string | null; label: string | null } | null;
}

/** Elements by id with their class, label (user label, else code) and their model's (its modeled element's). */
const DESCRIBE_ECSQL = `SELECT e.ECInstanceId, ec_classname(e.ECClassId, 's:c'), e.CodeValue, e.UserLabel, e.Model.Id,
  ec_classname(m.ECClassId, 's:c'), m.CodeValue, m.UserLabel
  FROM bis.Element e LEFT JOIN bis.Element m ON m.ECInstanceId = e.Model.Id
  WHERE InVirtualSet(?, e.ECInstanceId)`;

/**
 * What people call the elements (or models) of `ids` in the file at `path` (a checkpoint): label, class and model,
 * for the web UI's lock list. Ids the file does not have (created later, or never pushed) are not in the answer.
 */
export async function describeElements(args: { path: string; ids: string[] }) {
  const db = backend.SnapshotDb.openFile(args.path);
  try {
    const reader = db.createQueryReader(DESCRIBE_ECSQL, new common.QueryBinder().bindIdSet(1, args.ids), {
      rowFormat: common.QueryRowFormat.UseECSqlPropertyIndexes,
    });
    const elements: ElementDescription[] = [];
    for await (const row of reader) {
      const [id, className, code, label, modelId, modelClass, modelCode, modelLabel] = row.toArray() as (
        string | undefined
      )[];
      elements.push({
        id: String(id),
        className: String(className ?? ""),
        label: label || code || null,
        model: modelId
          ? { id: String(modelId), className: modelClass ?? null, label: modelLabel || modelCode || null }
          : null,
      });
    }
    return { elements, changesetId: db.changeset.id };
  } finally {
    db.close();
  }
}
