import type { ChangeOp, ChangeSummaryStore, ChangesetSummary } from "../../ports/change-summary-store.js";
import type { MetadataReader, MetadataStore, Page } from "../../ports/metadata-store.js";
import { invalidValue, notFound } from "../errors.js";
import type { NetChange, NetCountByModelAndClass, NetCounts, NetOp } from "./net-effect.js";
import { countsByModelAndClass, countsOfChangeset, netChanges, totals } from "./net-effect.js";

/** A point of history: a changeset index (0 = version 0) or a named version's name. */
export type HistoryPoint = { index: number } | { versionName: string };

export interface ResolvedPoint {
  changesetIndex: number;
  changesetId: string;
  /** The named version asked for (or the one on that changeset), if any. */
  namedVersion: { id: string; name: string } | null;
}

export interface ChangeElementFilter {
  op?: NetOp;
  modelId?: string;
  classFullName?: string;
}

/**
 * `ready`: every changeset in range is summarized; `pending`: some are not yet (see `pendingChangesets`); `failed` (one
 * changeset) it could not be read; `partial` (a compare): none pending, but some failed (`failedChangesets`): the net
 * effect is of the others only.
 */
export type SummaryState = "ready" | "pending" | "failed" | "partial";

export interface FailedChangeset {
  changesetIndex: number;
  failureReason: string;
}

export interface ChangesetChanges {
  changesetIndex: number;
  changesetId: string;
  state: Exclude<SummaryState, "partial">;
  summary: ChangesetSummary | null;
  /** `failed`: why. */
  failureReason: string | null;
  counts: NetCounts;
  countsByModelAndClass: NetCountByModelAndClass[];
  /** The page of elements asked for (ordered by id). */
  elements: NetChange[];
  /** How many elements match the filter (all pages). */
  matching: number;
}

export interface Comparison {
  from: ResolvedPoint;
  to: ResolvedPoint;
  state: Exclude<SummaryState, "failed">;
  pendingChangesets: number[];
  failedChangesets: FailedChangeset[];
  counts: NetCounts;
  countsByModelAndClass: NetCountByModelAndClass[];
  schemaChanges: { changesetIndex: number; schemas: ChangesetSummary["schemas"] }[];
  elements: (NetChange & { changedBy: string[] })[];
  matching: number;
}

/** Compares kept ready for paging through them (summaries never change once stored, so a ready compare stays true). */
const CACHE_ENTRIES = 8;

/**
 * The changes of one changeset and the net effect between two points of history, from the stored summaries
 * (issue 20). Bad input is refused before anything is read: unknown iModel, changeset or version; `from` after `to`.
 */
export class ChangeService {
  readonly #cache = new Map<string, { net: NetChange[]; creators: Map<number, string> }>();

  constructor(
    private readonly store: MetadataStore,
    private readonly summaries: ChangeSummaryStore,
  ) {}

  async changeset(
    iModelId: string,
    ref: { index: number } | { id: string },
    filter: ChangeElementFilter,
    page: Page,
  ): Promise<ChangesetChanges> {
    const record = await this.store.read(async (tx) => {
      if (!(await tx.getIModel(iModelId))) throw notFound.iModel();
      const found =
        "index" in ref
          ? await tx.getChangesetByIndex(iModelId, ref.index)
          : await tx.getChangesetById(iModelId, ref.id);
      if (!found || found.state !== "fileUploaded") throw notFound.changeset();
      return found;
    });
    const summary = (await this.summaries.getSummary(iModelId, record.index)) ?? null;
    const base = { changesetIndex: record.index, changesetId: record.id };
    if (!summary || summary.failure !== null) {
      return {
        ...base,
        state: summary ? "failed" : "pending",
        summary,
        failureReason: summary?.failure ?? null,
        counts: { inserted: 0, updated: 0, deleted: 0, reinserted: 0 },
        countsByModelAndClass: [],
        elements: [],
        matching: 0,
      };
    }
    const storeFilter = {
      ...(filter.op && filter.op !== "reinserted" ? { op: filter.op as ChangeOp } : {}),
      ...(filter.modelId ? { modelId: filter.modelId } : {}),
      ...(filter.classFullName ? { classFullName: filter.classFullName } : {}),
    };
    const counts = { inserted: summary.inserted, updated: summary.updated, deleted: summary.deleted, reinserted: 0 };
    if (filter.op === "reinserted") {
      return {
        ...base,
        state: "ready",
        summary,
        failureReason: null,
        counts,
        countsByModelAndClass: countsOfChangeset(summary.counts),
        elements: [],
        matching: 0,
      };
    }
    const rows = await this.summaries.listElements(iModelId, record.index, storeFilter, page);
    const matching = countsOfChangeset(summary.counts)
      .filter(
        (c) =>
          (!filter.modelId || c.modelId === filter.modelId) &&
          (!filter.classFullName || c.classFullName === filter.classFullName),
      )
      .reduce((n, c) => n + (filter.op ? c[filter.op] : c.inserted + c.updated + c.deleted), 0);
    return {
      ...base,
      state: "ready",
      summary,
      failureReason: null,
      counts,
      countsByModelAndClass: countsOfChangeset(summary.counts),
      elements: rows.map((r) => ({
        id: r.id,
        op: r.op,
        classFullName: r.classFullName,
        modelId: r.modelId,
        previousModelId: r.previousModelId,
        parentId: r.parentId,
        label: r.label,
        properties: r.properties,
        changesets: [r.changesetIndex],
      })),
      matching,
    };
  }

  /** Resolves both points, checks `from <= to`, and folds every summary in between into net changes. */
  async compare(
    iModelId: string,
    fromPoint: HistoryPoint,
    toPoint: HistoryPoint,
    filter: ChangeElementFilter,
    page: Page,
  ): Promise<Comparison> {
    const operation = "Cannot compare versions.";
    const { from, to } = await this.store.read(async (tx) => {
      if (!(await tx.getIModel(iModelId))) throw notFound.iModel();
      return { from: await resolve(tx, iModelId, fromPoint), to: await resolve(tx, iModelId, toPoint) };
    });
    if (from.changesetIndex > to.changesetIndex) {
      throw invalidValue(
        operation,
        "from",
        `Provided 'from' value is not valid: it is changeset ${from.changesetIndex}, after 'to' (changeset ${to.changesetIndex}).`,
      );
    }
    const pending = await this.summaries.missingIndexes(iModelId, from.changesetIndex, to.changesetIndex);
    const summaries = await this.summaries.listSummaries(iModelId, from.changesetIndex, to.changesetIndex);
    const schemaChanges = summaries
      .filter((s) => s.schemaChanged)
      .map((s) => ({ changesetIndex: s.changesetIndex, schemas: s.schemas }));
    const failedChangesets = summaries
      .filter((s) => s.failure !== null)
      .map((s) => ({ changesetIndex: s.changesetIndex, failureReason: s.failure! }));
    if (pending.length > 0) {
      return {
        from,
        to,
        state: "pending",
        pendingChangesets: pending,
        failedChangesets,
        counts: { inserted: 0, updated: 0, deleted: 0, reinserted: 0 },
        countsByModelAndClass: [],
        schemaChanges,
        elements: [],
        matching: 0,
      };
    }
    const { net, creators } = await this.netBetween(iModelId, from.changesetIndex, to.changesetIndex);
    const matches = net.filter(
      (c) =>
        (!filter.op || c.op === filter.op) &&
        (!filter.modelId || c.modelId === filter.modelId) &&
        (!filter.classFullName || c.classFullName === filter.classFullName),
    );
    const elements = matches.slice(page.offset, page.offset + page.limit).map((c) => ({
      ...c,
      changedBy: [...new Set(c.changesets.map((i) => creators.get(i) ?? ""))].filter((u) => u !== ""),
    }));
    return {
      from,
      to,
      state: failedChangesets.length > 0 ? "partial" : "ready",
      pendingChangesets: [],
      failedChangesets,
      counts: totals(net),
      countsByModelAndClass: countsByModelAndClass(net),
      schemaChanges,
      elements,
      matching: matches.length,
    };
  }

  private async netBetween(
    iModelId: string,
    afterIndex: number,
    lastIndex: number,
  ): Promise<{ net: NetChange[]; creators: Map<number, string> }> {
    const key = `${iModelId}:${afterIndex}:${lastIndex}`;
    const cached = this.#cache.get(key);
    if (cached) {
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached;
    }
    const rows = await this.summaries.rangeRows(iModelId, afterIndex, lastIndex);
    const changesets = await this.store.read((tx) =>
      tx.listChangesets(
        iModelId,
        { afterIndex, lastIndex, direction: "asc", onlyUploaded: true },
        { limit: lastIndex - afterIndex, offset: 0 },
      ),
    );
    const entry = { net: netChanges(rows), creators: new Map(changesets.map((c) => [c.index, c.creatorId])) };
    this.#cache.set(key, entry);
    while (this.#cache.size > CACHE_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
    return entry;
  }

  /** Forgets cached compares of an iModel (it was deleted). */
  forget(iModelId: string): void {
    for (const key of [...this.#cache.keys()]) if (key.startsWith(`${iModelId}:`)) this.#cache.delete(key);
  }
}

async function resolve(tx: MetadataReader, iModelId: string, point: HistoryPoint): Promise<ResolvedPoint> {
  if ("versionName" in point) {
    const version = await tx.getNamedVersionByName(iModelId, point.versionName);
    if (!version) throw notFound.namedVersion();
    const changeset =
      version.changesetIndex > 0 ? await tx.getChangesetByIndex(iModelId, version.changesetIndex) : undefined;
    return {
      changesetIndex: version.changesetIndex,
      changesetId: changeset?.id ?? version.changesetId ?? "",
      namedVersion: { id: version.id, name: version.name },
    };
  }
  if (point.index === 0) {
    const version = await tx.getNamedVersionByChangeset(iModelId, 0);
    return {
      changesetIndex: 0,
      changesetId: "",
      namedVersion: version ? { id: version.id, name: version.name } : null,
    };
  }
  const changeset = await tx.getChangesetByIndex(iModelId, point.index);
  if (!changeset || changeset.state !== "fileUploaded") throw notFound.changeset();
  const version = await tx.getNamedVersionByChangeset(iModelId, point.index);
  return {
    changesetIndex: changeset.index,
    changesetId: changeset.id,
    namedVersion: version ? { id: version.id, name: version.name } : null,
  };
}
