// Element-level changes (a modelhub extension, docs/changes.md): what one changeset did, and the net effect between
// two points of history. Functions over a ModelHubClient, so the client class stays the iModels API's.
import type { ModelHubClient } from "./client.js";

export type ElementOp = "inserted" | "updated" | "deleted" | "reinserted";

export interface ChangedElement {
  id: string;
  op: ElementOp;
  classFullName: string;
  modelId: string;
  previousModelId?: string;
  parentId: string | null;
  label: string | null;
  properties?: string[];
  /** Compares: the changesets that changed it, and who pushed them. */
  changesets?: number[];
  changedBy?: string[];
}

export interface CountByModelAndClass {
  modelId: string;
  classFullName: string;
  inserted: number;
  updated: number;
  deleted: number;
  reinserted?: number;
}

export interface ChangesetChanges {
  changesetIndex: number;
  changesetId: string;
  /** `pending` until the hub has summarized the changeset; `failed` when it could not read it (`failureReason`). */
  state: "ready" | "pending" | "failed";
  failureReason?: string;
  inserted: number;
  updated: number;
  deleted: number;
  schemaChanged: boolean;
  schemas: { name: string; op: "inserted" | "updated" | "deleted" }[];
  countsByModelAndClass: CountByModelAndClass[];
  matchingElements: number;
  elements: ChangedElement[];
}

export interface HistoryPointInfo {
  changesetIndex: number;
  changesetId: string;
  namedVersion: { id: string; name: string } | null;
}

export interface Comparison {
  from: HistoryPointInfo;
  to: HistoryPointInfo;
  /** `partial`: none pending, but the changesets in `failedChangesets` could not be summarized (left out). */
  state: "ready" | "pending" | "partial";
  pendingChangesets: number[];
  failedChangesets: { changesetIndex: number; failureReason: string }[];
  inserted: number;
  updated: number;
  deleted: number;
  reinserted: number;
  countsByModelAndClass: CountByModelAndClass[];
  schemaChanges: { changesetIndex: number; schemas: { name: string; op: string }[] }[];
  matchingElements: number;
  elements: ChangedElement[];
}

export interface ElementQuery {
  op?: ElementOp;
  modelId?: string;
  classFullName?: string;
  /** Elements per request (1–1000, default 1000). */
  pageSize?: number;
}

type Paged<K extends string, T> = { [key in K]: T } & { _links?: { next?: { href: string } | null } };

function queryString(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

function filterParams(q: ElementQuery): Record<string, string | number | undefined> {
  return { op: q.op, modelId: q.modelId, classFullName: q.classFullName, $top: q.pageSize ?? 1000 };
}

/** A changeset's changes with every element (all pages); `pending` answers carry no elements. */
export async function getChangesetChanges(
  client: ModelHubClient,
  iModelId: string,
  changeset: number | string,
  q: ElementQuery = {},
): Promise<ChangesetChanges> {
  let page = await client.request<Paged<"changes", ChangesetChanges>>(
    "GET",
    `/${encodeURIComponent(iModelId)}/changesets/${encodeURIComponent(String(changeset))}/changes${queryString(filterParams(q))}`,
  );
  const result = page.changes;
  const elements = [...result.elements];
  while (page._links?.next?.href) {
    page = await client.request<Paged<"changes", ChangesetChanges>>("GET", page._links.next.href);
    elements.push(...page.changes.elements);
  }
  return { ...result, elements };
}

/**
 * The net effect between two points of history (a changeset index, or a named version's name), with every element
 * (all pages); a `pending` answer (some summary not made yet) carries no elements.
 */
export async function compareVersions(
  client: ModelHubClient,
  iModelId: string,
  from: number | string,
  to: number | string,
  q: ElementQuery = {},
): Promise<Comparison> {
  let page = await client.request<Paged<"comparison", Comparison>>(
    "GET",
    `/${encodeURIComponent(iModelId)}/changes${queryString({ from: String(from), to: String(to), ...filterParams(q) })}`,
  );
  const result = page.comparison;
  const elements = [...result.elements];
  while (page._links?.next?.href) {
    page = await client.request<Paged<"comparison", Comparison>>("GET", page._links.next.href);
    elements.push(...page.comparison.elements);
  }
  return { ...result, elements };
}
