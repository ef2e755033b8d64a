import { access, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore } from "../../ports/blob-store.js";
import type {
  ChangeCount,
  ChangeSummaryStore,
  ChangeSummaryWorker,
  ChangesetSummary,
  RawChangesetSummary,
  SummarizeArgs,
  SummaryChangeset,
} from "../../ports/change-summary-store.js";
import { FileRejected } from "../../ports/imodel-file-worker.js";
import type { MetadataStore, OutboxJob } from "../../ports/metadata-store.js";
import type { ScratchSpace } from "../../ports/scratch-space.js";
import { blobKeys } from "../blob-keys.js";
import type { Clock } from "../context.js";
import type { EventPublisher } from "../../ports/event-bus.js";
import type { WebhookEvent } from "../../ports/webhook-store.js";
import type { WebhookEventType } from "@modelhub/protocol";
import { noEvents } from "../../ports/event-bus.js";

export const CHANGE_SUMMARY_JOB = "changes.summarize";

/**
 * The job that summarizes an iModel's changesets up to `changesetIndex` (those without a summary, oldest first).
 * Queued in the transaction that completes a push (one per changeset: the dedupe key names it), so a crash between
 * the commit and the job loses nothing; running it again does nothing more (summaries are stored once).
 */
export function changeSummaryJob(iModelId: string, changesetIndex: number): OutboxJob {
  return {
    kind: CHANGE_SUMMARY_JOB,
    payload: { iModelId, changesetIndex },
    dedupeKey: `${CHANGE_SUMMARY_JOB}:${iModelId}:${changesetIndex}`,
    maxAttempts: 5,
  };
}

/** Changesets read per worker call: bounds the worker's answer and the scratch space a call needs. */
const BATCH = 25;
/** A data changeset above this size is applied in a call of its own, after its summary is stored. */
const APPLY_LATER_ABOVE_BYTES = 1024 * 1024;

export interface ChangeSummaryJobOptions {
  /** Where this node keeps one briefcase per iModel at the changeset last summarized (rebuilt when missing). */
  cacheDir: string;
  /** Changeset files above this size are unified on disk instead of in memory. */
  spillAboveBytes?: number;
}

/** Counts per model and class of a changeset's elements. */
export function countByModelAndClass(
  elements: readonly { op: "inserted" | "updated" | "deleted"; modelId: string; classFullName: string }[],
): ChangeCount[] {
  const counts = new Map<string, ChangeCount>();
  for (const e of elements) {
    const key = `${e.modelId}\u0000${e.classFullName}`;
    let c = counts.get(key);
    if (!c)
      counts.set(
        key,
        (c = { modelId: e.modelId, classFullName: e.classFullName, inserted: 0, updated: 0, deleted: 0 }),
      );
    c[e.op]++;
  }
  return [...counts.values()].sort((a, b) =>
    a.modelId === b.modelId ? a.classFullName.localeCompare(b.classFullName) : a.modelId < b.modelId ? -1 : 1,
  );
}

/**
 * Reads changesets with iTwin.js (in the worker process) and stores what they did to each element. Any node may run
 * it: the briefcase it reads against is a local cache, started from the nearest checkpoint when missing.
 */
export class ChangeSummaryJob {
  constructor(
    private readonly store: MetadataStore,
    private readonly summaries: ChangeSummaryStore,
    private readonly blobs: BlobStore,
    private readonly worker: ChangeSummaryWorker,
    private readonly scratch: ScratchSpace,
    private readonly clock: Clock,
    private readonly options: ChangeSummaryJobOptions,
    private readonly events: EventPublisher = noEvents,
  ) {}

  /** The changeset each cached briefcase is at, as this node's worker last answered (only it writes them). */
  readonly #briefcaseAt = new Map<string, string>();

  async run(iModelId: string, upToIndex: number): Promise<void> {
    const iModel = await this.store.read((tx) => tx.getIModel(iModelId));
    if (!iModel) return this.dropBriefcase(this.briefcasePath(iModelId));
    // A clone or a fork with history has its source's changesets: their summaries are copied, not recomputed.
    const source = iModel.creationSource;
    if (source?.preserveHistory) {
      await this.summaries.copySummaries(source.iModelId, iModelId, Math.min(source.changesetIndex, upToIndex));
    }
    for (;;) {
      const missing = await this.summaries.missingIndexes(iModelId, 0, upToIndex);
      if (missing.length === 0) return;
      const first = missing[0]!;
      const last = Math.min(upToIndex, first + BATCH - 1);
      try {
        await this.summarizeBatch(iModel, first, last, new Set(missing));
      } catch (err) {
        // The worker says a changeset cannot be read or applied (its verdict on the file; a crash is not one). Which:
        // the first alone tells. The batch's summaries already made are made again by the next turn of the loop.
        if (!(err instanceof FileRejected)) throw err;
        let reason = err.message;
        if (last > first) {
          try {
            await this.summarizeBatch(iModel, first, first, new Set([first]));
            continue;
          } catch (alone) {
            if (!(alone instanceof FileRejected)) throw alone;
            reason = alone.message;
          }
        }
        // Stored failed with the reason: neither this loop nor the backfill asks for it again. Not stored (the iModel
        // or the changeset went meanwhile): nothing more to do here, and the loop must not ask for it again.
        if (!(await this.storeFailure(iModelId, first, reason))) return;
      }
    }
  }

  /** Whether the failed summary was stored. */
  private async storeFailure(iModelId: string, index: number, reason: string): Promise<boolean> {
    const record = await this.store.read((tx) => tx.getChangesetByIndex(iModelId, index));
    if (!record) return false;
    const summary: ChangesetSummary = {
      iModelId,
      changesetIndex: index,
      changesetId: record.id,
      inserted: 0,
      updated: 0,
      deleted: 0,
      schemaChanged: false,
      schemas: [],
      counts: [],
      createdAt: this.clock.now().toISOString(),
      failure: reason,
    };
    if (!(await this.summaries.putSummary(summary, []))) return false;
    this.events.publish(iModelId, {
      type: "changes",
      data: {
        changesetIndex: index,
        changesetId: record.id,
        inserted: 0,
        updated: 0,
        deleted: 0,
        schemaChanged: false,
        failureReason: reason,
      },
    });
    return true;
  }

  private briefcasePath(iModelId: string): string {
    return join(this.options.cacheDir, `${iModelId}.bim`);
  }

  /** Summarizes changesets `first..last` (those in `wanted`), bringing the cached briefcase there. */
  private async summarizeBatch(
    iModel: { id: string; iTwinId: string },
    first: number,
    last: number,
    wanted: Set<number>,
  ): Promise<void> {
    const iModelId = iModel.id;
    await mkdir(this.options.cacheDir, { recursive: true });
    const briefcasePath = this.briefcasePath(iModelId);
    const at = await this.cachedIndex(iModelId, briefcasePath);
    await this.scratch.withDirectory("changes", async (dir) => {
      let startIndex: number;
      let basePath: string | undefined;
      if (at !== undefined && at <= first) {
        startIndex = at;
      } else {
        const base = await this.store.read((tx) => tx.getPrecedingCheckpoint(iModelId, first));
        if (!base?.blobKey)
          throw new Error(`No checkpoint at or before changeset ${first} to start the summary briefcase from.`);
        basePath = join(dir, "base.bim");
        await this.blobs.downloadToFile(base.blobKey, basePath);
        startIndex = base.changesetIndex;
      }
      const records = await this.store.read((tx) =>
        tx.listChangesets(
          iModelId,
          { afterIndex: Math.max(0, startIndex - 1), lastIndex: last, direction: "asc", onlyUploaded: true },
          { limit: last - startIndex + 2, offset: 0 },
        ),
      );
      const files: (SummaryChangeset & { summarize: boolean })[] = [];
      for (const c of records) {
        const pathname = join(dir, `${c.index}.cs`);
        if (c.index < startIndex || (c.index === startIndex && !wanted.has(c.index))) continue;
        await this.blobs.downloadToFile(blobKeys.changeset(iModelId, c.id), pathname);
        files.push({
          id: c.id,
          index: c.index,
          parentId: c.parentId,
          pathname,
          changesType: c.containingChanges,
          summarize: wanted.has(c.index),
        });
      }
      const atStart = files[0]?.index === startIndex && startIndex > 0 ? files.shift() : undefined;
      const current = atStart
        ? {
            id: atStart.id,
            index: atStart.index,
            parentId: atStart.parentId,
            pathname: atStart.pathname,
            changesType: atStart.changesType,
          }
        : undefined;
      const final = files.at(-1);
      // A large data changeset is read before it is applied: its summary is stored first, the briefcase brought to it
      // after (applying it may take long). A small one is read and applied in one call: a second call cost the worker
      // another commit of the briefcase and the hub another round trip, at every push.
      const finalSize = records.find((r) => r.index === final?.index)?.fileSize ?? 0;
      const applyLater = final !== undefined && (final.changesType & 1) === 0 && finalSize > APPLY_LATER_ABOVE_BYTES;
      const call = async (args: Omit<SummarizeArgs, "briefcasePath">) => {
        // Unknown while a call runs: one that fails may have applied some of its changesets.
        this.#briefcaseAt.delete(briefcasePath);
        const answer = await this.worker.summarizeChangesets({
          briefcasePath,
          ...args,
          ...(this.options.spillAboveBytes !== undefined ? { spillAboveBytes: this.options.spillAboveBytes } : {}),
        });
        this.#briefcaseAt.set(briefcasePath, answer.changesetId);
        return answer;
      };
      let result: { summaries: RawChangesetSummary[] };
      try {
        result = await call({
          ...(basePath ? { basePath } : {}),
          ...(current ? { current } : {}),
          changesets: files,
          applyLast: !applyLater,
        });
      } catch (err) {
        // The briefcase may be half way (a crash, a kill): the next attempt starts it again from a checkpoint.
        if (!(err instanceof FileRejected)) await this.dropBriefcase(briefcasePath);
        throw err;
      }
      for (const raw of result.summaries) {
        if (!wanted.has(raw.index)) continue;
        await this.store_(iModel, raw);
      }
      if (final && applyLater) {
        await call({ changesets: [{ ...final, summarize: false }] }).catch(async (err: unknown) => {
          // Stored already; the next job starts the briefcase again from a checkpoint.
          await this.dropBriefcase(briefcasePath);
          if (!(err instanceof FileRejected)) throw err;
        });
      }
    });
  }

  /**
   * Stores one changeset's summary and, in the same transaction, the cloud's `iModels.changesReady.v1` for webhooks
   * (its content as the cloud's: the iModel, the changeset's id and index as a string); once committed, the change
   * feed's `changes` event. Deliverers find the event at their next poll (≤ 1 s).
   */
  private async store_(iModel: { id: string; iTwinId: string }, raw: RawChangesetSummary): Promise<void> {
    const iModelId = iModel.id;
    const elements = raw.elements.map((e) => ({ ...e, changesetIndex: raw.index }));
    const summary: ChangesetSummary = {
      iModelId,
      changesetIndex: raw.index,
      changesetId: raw.id,
      inserted: elements.filter((e) => e.op === "inserted").length,
      updated: elements.filter((e) => e.op === "updated").length,
      deleted: elements.filter((e) => e.op === "deleted").length,
      schemaChanged: raw.schemaChanged,
      schemas: raw.schemas,
      counts: countByModelAndClass(elements),
      createdAt: this.clock.now().toISOString(),
      failure: null,
    };
    const changesReady: WebhookEvent = {
      eventType: "iModels.changesReady.v1" satisfies WebhookEventType,
      iTwinId: iModel.iTwinId,
      iModelId,
      content: { imodelId: iModelId, changesetId: raw.id, changesetIndex: String(raw.index) },
    };
    if (await this.summaries.putSummary(summary, elements, changesReady)) {
      this.events.publish(iModelId, {
        type: "changes",
        data: {
          changesetIndex: raw.index,
          changesetId: raw.id,
          inserted: summary.inserted,
          updated: summary.updated,
          deleted: summary.deleted,
          schemaChanged: summary.schemaChanged,
        },
      });
    }
  }

  /** The changeset index the cached briefcase is at, or undefined when there is none (or it is not of this history). */
  private async cachedIndex(iModelId: string, path: string): Promise<number | undefined> {
    const known = this.#briefcaseAt.get(path);
    const present =
      known !== undefined ||
      (await access(path).then(
        () => true,
        () => false,
      ));
    if (!present) return undefined;
    try {
      // What the worker said after its last call, else the file itself (opening it costs the worker as much as a call).
      const changesetId = known ?? (await this.worker.inspect({ path })).changesetId;
      if (changesetId === "") return 0;
      const record = await this.store.read((tx) => tx.getChangesetById(iModelId, changesetId));
      return record?.state === "fileUploaded" ? record.index : undefined;
    } catch {
      await this.dropBriefcase(path);
      return undefined;
    }
  }

  private async dropBriefcase(path: string): Promise<void> {
    this.#briefcaseAt.delete(path);
    for (const suffix of ["", "-wal", "-shm", "-journal"]) await rm(`${path}${suffix}`, { force: true });
  }

  /** Removes this node's cached briefcases of iModels that no longer exist; returns how many. */
  async pruneBriefcases(): Promise<number> {
    const names = await readdir(this.options.cacheDir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const id = /^(.+)\.bim$/.exec(name)?.[1];
      if (!id || (await this.store.read((tx) => tx.getIModel(id)))) continue;
      await this.dropBriefcase(this.briefcasePath(id));
      removed++;
    }
    return removed;
  }
}
