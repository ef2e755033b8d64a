import type { BriefcaseDb } from "@itwin/core-backend";
import { backend } from "./host.js";
import { IModelFollower, Slots } from "./prefetch-follower.js";
import type { PrefetchOptions, PrefetchSource, PrefetchStats } from "./prefetch-options.js";

export type { PrefetchOptions, PrefetchSource, PrefetchStats } from "./prefetch-options.js";

/**
 * Downloads newly pushed changesets into iTwin.js's changeset cache (`BriefcaseManager.getChangeSetsPath`, files
 * named `<id>.cs` as the access's `downloadChangesets` names them) before anyone pulls, so that a later
 * `pullChanges` finds them there and only applies them.
 *
 * It follows the change feed (`GET /imodels/{id}/events`) of each iModel that has a `BriefcaseDb` open in this
 * process, from the moment the first one opens until the last one closes. A feed event only says "look again": what
 * to fetch is always read from the hub's changeset list (after the lowest changeset index of the open briefcases),
 * so a missed, repeated or forged event costs at most one list request, never a wrong file. Each file is written
 * under a temporary name, checked (size, and id where the host has iTwin.js's id rule), then renamed; changesets that
 * only the briefcase that pushed them lacks are skipped, and each iModel's folder is kept under `maxCacheBytes`.
 * A dropped feed reconnects with `Last-Event-ID`, and catches up by listing again. Stops on `IModelHost` shutdown.
 */
export class ChangesetPrefetcher {
  readonly stats: PrefetchStats = {
    downloaded: 0,
    downloadedBytes: 0,
    rejected: 0,
    failed: 0,
    connections: 0,
    events: 0,
    malformed: 0,
  };
  readonly #source: PrefetchSource;
  readonly #options: Required<PrefetchOptions>;
  readonly #followers = new Map<string, IModelFollower>();
  readonly #detach: (() => void)[] = [];
  readonly #downloadSlots: Slots;
  #stopped = false;

  constructor(source: PrefetchSource, options: PrefetchOptions = {}) {
    this.#source = source;
    this.#options = {
      maxCacheBytes: options.maxCacheBytes ?? 1024 ** 3,
      concurrency: Math.max(1, options.concurrency ?? 2),
      reconnectDelayMs: options.reconnectDelayMs ?? 500,
      silenceTimeoutMs: options.silenceTimeoutMs ?? 45_000,
    };
    this.#downloadSlots = new Slots(this.#options.concurrency);
    this.#detach.push(backend.BriefcaseDb.onOpened.addListener((db) => this.#opened(db)));
    // onBeforeShutdown does not wait for promises: the feeds are cut at once, downloads stop at their next chunk.
    this.#detach.push(backend.IModelHost.onBeforeShutdown.addListener(() => void this.stop()));
  }

  /** iModels whose feed is followed now. */
  get following(): string[] {
    return [...this.#followers.keys()];
  }

  /**
   * Resolves once the feed of `iModelId` (or of every followed iModel) is connected and nothing is left to fetch
   * for what it has announced so far. For tests and benchmarks; an application just pulls.
   */
  async settled(iModelId?: string): Promise<void> {
    const followers = iModelId
      ? [this.#followers.get(iModelId)].filter((f) => f !== undefined)
      : [...this.#followers.values()];
    await Promise.all(followers.map((f) => f.settled()));
  }

  /** Stops following every feed and waits for the downloads under way to end (their unfinished files are removed). */
  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      for (const detach of this.#detach.splice(0)) detach();
    }
    const followers = [...this.#followers.values()];
    this.#followers.clear();
    await Promise.all(followers.map((f) => f.stop()));
  }

  #opened(db: BriefcaseDb): void {
    if (this.#stopped) return;
    const iModelId = db.iModelId;
    let follower = this.#followers.get(iModelId);
    if (!follower) {
      follower = new IModelFollower(
        iModelId,
        backend.BriefcaseManager.getChangeSetsPath(iModelId),
        this.#source,
        this.#options,
        this.stats,
        this.#downloadSlots,
      );
      this.#followers.set(iModelId, follower);
      follower.start();
    }
    const current = follower;
    current.briefcases.add(db);
    // After a pull the cache has room again and the lowest index moved: look again. (Guarded: older hosts may lack it.)
    const applied = (db as Partial<Pick<BriefcaseDb, "onChangesetApplied">>).onChangesetApplied;
    const unsubscribe = applied ? applied.addListener(() => current.kick()) : () => undefined;
    db.onBeforeClose.addOnce(() => {
      unsubscribe();
      current.briefcases.delete(db);
      if (current.briefcases.size > 0 || this.#followers.get(iModelId) !== current) return;
      this.#followers.delete(iModelId);
      void current.stop();
    });
    current.kick();
  }
}
