// The prefetcher's work for one iModel: follow its change feed and fetch what the open briefcases will pull.
import { readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { BriefcaseDb } from "@itwin/core-backend";
import type { Changeset, ChangesetEventData } from "@modelhub/protocol";
import { createParser } from "eventsource-parser";
import type { AuthorizationSource } from "@modelhub/client";
import type { PrefetchOptions, PrefetchSource, PrefetchStats } from "./prefetch-options.js";
import { hubCall } from "./hub-calls.js";
import { changesetIdRule, hasChangesetId } from "./host.js";
import { downloadFile, runLimited, TransferAborted } from "./transfers.js";

/** Suffix of the prefetcher's files while they are not yet checked; iTwin.js only opens `<id>.cs`. */
const UNCHECKED_SUFFIX = ".prefetching";
const MAX_RECONNECT_DELAY_MS = 30_000;
/** Largest feed message taken (the hub's are a few hundred bytes): a peer that sends more is cut off. */
const MAX_EVENT_BYTES = 64 * 1024;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** A counting semaphore: the prefetcher's downloads, all iModels together, stay at `limit` at once. */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(limit: number) {
    this.#free = limit;
  }
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** The feed and the downloads of one iModel. */
export class IModelFollower {
  readonly briefcases = new Set<BriefcaseDb>();
  readonly #abort = new AbortController();
  #lastEventId: string | undefined;
  #loop: Promise<void> | undefined;
  #sync: Promise<void> | undefined;
  #again = false;
  #cleaned = false;
  #connected = false;
  #onConnected: (() => void)[] = [];
  /** Files this prefetcher wrote, by changeset index: the ones nobody will apply any more are removed. */
  readonly #written = new Map<number, string>();
  /** Changesets whose downloaded bytes did not match their id: left to the pull, which fails loudly if they still do not. */
  readonly #refused = new Set<string>();

  constructor(
    readonly iModelId: string,
    readonly folder: string,
    readonly source: PrefetchSource,
    readonly options: Required<PrefetchOptions>,
    readonly stats: PrefetchStats,
    readonly slots: Slots,
  ) {}

  start(): void {
    this.#loop = this.#follow();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    for (const resolve of this.#onConnected.splice(0)) resolve();
    await this.#loop;
    await this.#sync;
    await this.#removeUnchecked();
  }

  async settled(): Promise<void> {
    if (!this.#connected && !this.#abort.signal.aborted)
      await new Promise<void>((resolve) => this.#onConnected.push(resolve));
    while (this.#sync) await this.#sync;
  }

  /** Look at the hub's list again (now, or right after the look under way). */
  kick(): void {
    if (this.#abort.signal.aborted) return;
    if (this.#sync) {
      this.#again = true;
      return;
    }
    this.#sync = (async () => {
      do {
        this.#again = false;
        try {
          await this.#fetchMissing();
        } catch (err) {
          if (!this.#abort.signal.aborted)
            this.source.logger.warn(`prefetch of iModel ${this.iModelId}: ${(err as Error).message}`);
        }
      } while (this.#again && !this.#abort.signal.aborted);
      this.#sync = undefined;
    })();
  }

  // ---- the feed

  async #follow(): Promise<void> {
    try {
      await this.#followUntilStopped();
    } finally {
      this.#connected = false;
      for (const resolve of this.#onConnected.splice(0)) resolve(); // nobody waits for a feed that is gone
    }
  }

  async #followUntilStopped(): Promise<void> {
    let delay = this.options.reconnectDelayMs;
    while (!this.#abort.signal.aborted) {
      let wait = delay;
      try {
        const outcome = await this.#readFeed();
        if (outcome === "gone") {
          this.source.logger.warn(
            `prefetch: the hub has no change feed for iModel ${this.iModelId} (or no access to it); not following it`,
          );
          return;
        }
        if (outcome === "streamed")
          delay = this.options.reconnectDelayMs; // it worked for a while: start over from the short delay
        else if (typeof outcome === "number") wait = outcome;
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        this.source.logger.warn(`prefetch: change feed of iModel ${this.iModelId}: ${(err as Error).message}`);
      }
      this.#connected = false;
      await sleep(wait * (0.75 + Math.random() / 2), this.#abort.signal);
      delay = Math.min(MAX_RECONNECT_DELAY_MS, delay * 2);
    }
  }

  /**
   * One connection: "streamed" once it was answered with a stream that later ended, "gone" for 404, the hub's
   * `retry-after` in ms for 429/503, else throws.
   */
  async #readFeed(): Promise<"streamed" | "gone" | number | undefined> {
    // One connection of its own: the silence timer and an over-long message cut it without stopping the follower.
    const connection = new AbortController();
    const signal = AbortSignal.any([this.#abort.signal, connection.signal]);
    const hub = this.source.client.with({ authorization: await this.source.authorization() });
    // Sent once: the reconnection rules are this follower's (backoff, the hub's retry-after).
    const response = await hub.openEventStream(this.iModelId, {
      ...(this.#lastEventId ? { lastEventId: this.#lastEventId } : {}),
      signal,
      once: true,
    });
    const status = response.status;
    if (status !== 200) {
      connection.abort();
      if (status === 404) return "gone";
      const retryAfter = Number(response.header("retry-after") ?? NaN);
      if ((status === 429 || status === 503) && Number.isFinite(retryAfter))
        return Math.min(retryAfter * 1000, MAX_RECONNECT_DELAY_MS);
      throw new Error(`HTTP ${status}`);
    }
    if (!/^text\/event-stream\b/i.test(response.header("content-type") ?? "")) {
      connection.abort();
      throw new Error(`the feed answered ${String(response.header("content-type"))}, not text/event-stream`);
    }
    this.stats.connections++;
    this.#connected = true;
    // Whatever happened while it was not connected is in the list: look once now (a reconnect replays too, but
    // only the last 1,000 events, and a restarted hub replays nothing).
    this.kick();
    for (const resolve of this.#onConnected.splice(0)) resolve();

    const parser = createParser({
      onEvent: (message) => {
        // Ids are echoed back in a header: only the hub's form (<epoch>-<seq>) is kept.
        if (message.id !== undefined && /^[0-9a-z]{1,40}-\d{1,15}$/i.test(message.id)) this.#lastEventId = message.id;
        this.#onEvent(message.event, message.data);
      },
      onError: (error) => {
        this.stats.malformed++;
        // The parser takes nothing more after an over-long message: this connection is not worth keeping.
        if (error.type === "max-buffer-size-exceeded") connection.abort();
      },
      maxBufferSize: MAX_EVENT_BYTES,
    });
    const decoder = new TextDecoder();
    let silence = setTimeout(() => connection.abort(), this.options.silenceTimeoutMs);
    try {
      for await (const chunk of response.stream()) {
        clearTimeout(silence);
        silence = setTimeout(() => connection.abort(), this.options.silenceTimeoutMs);
        try {
          parser.feed(decoder.decode(chunk, { stream: true }));
        } catch {
          connection.abort(); // the parser was terminated by an over-long message (counted in onError)
        }
        if (signal.aborted) break;
      }
    } catch {
      // a cut connection (also our own abort): the stream ended
    } finally {
      clearTimeout(silence);
      connection.abort();
    }
    return "streamed";
  }

  #onEvent(name: string | undefined, data: string): void {
    this.stats.events++;
    if (name === "reset") return this.kick();
    if (name !== "changeset") return;
    let pushed: Partial<Record<keyof ChangesetEventData, unknown>> | null;
    try {
      pushed = JSON.parse(data) as typeof pushed;
    } catch {
      pushed = null;
    }
    const { index, briefcaseId } = pushed ?? {};
    if (
      typeof index !== "number" ||
      !Number.isSafeInteger(index) ||
      index < 1 ||
      typeof briefcaseId !== "number" ||
      !Number.isSafeInteger(briefcaseId)
    ) {
      this.stats.malformed++;
      return;
    }
    // Nothing to do when every open briefcase has it, or it is the push of the only briefcase that lacks it.
    if (this.#needed(index, briefcaseId)) this.kick();
  }

  // ---- the downloads

  /** Whether some open briefcase other than the one that pushed it still has to apply this changeset. */
  #needed(index: number, pushedBy: number): boolean {
    for (const db of this.briefcases) {
      if (db.isOpen && db.briefcaseId !== pushedBy && (db.changeset.index ?? 0) < index) return true;
    }
    return false;
  }

  #lowestIndex(): number | undefined {
    let lowest: number | undefined;
    for (const db of this.briefcases) if (db.isOpen) lowest = Math.min(lowest ?? Infinity, db.changeset.index ?? 0);
    return lowest;
  }

  async #fetchMissing(): Promise<void> {
    const lowest = this.#lowestIndex();
    if (lowest === undefined) return;
    if (!this.#cleaned) {
      await this.#removeUnchecked(); // what a previous process left half done
      this.#cleaned = true;
    }
    await this.#pruneApplied(lowest);
    const auth = await this.source.authorization();
    const hub = this.source.client.with({ authorization: auth });
    const listed: Changeset[] = [];
    const aborted = await hubCall("prefetchChangesets", async () => {
      for await (const c of hub.changesets(this.iModelId, { afterIndex: lowest, pageSize: 1000 })) {
        listed.push(c);
        if (this.#abort.signal.aborted) return true;
      }
      return false;
    });
    if (aborted) return;
    let used = await this.#bytesInFolder();
    const wanted: Changeset[] = [];
    for (const c of listed.sort((a, b) => a.index - b.index)) {
      if (!this.#needed(c.index, c.briefcaseId) || this.#refused.has(c.id)) continue;
      const target = join(this.folder, `${c.id}.cs`);
      if ((await stat(target).catch(() => undefined))?.size === c.fileSize) continue;
      if (used + c.fileSize > this.options.maxCacheBytes) {
        this.source.logger.info(
          `prefetch of iModel ${this.iModelId}: the cache folder is full (${used} bytes); the rest waits for a pull`,
        );
        break;
      }
      used += c.fileSize;
      wanted.push(c);
    }
    // In index order, so that what a pull needs first is there first.
    await runLimited(this.options.concurrency, wanted, (c) => this.slots.run(() => this.#fetchOne(c, auth)));
  }

  async #fetchOne(c: Changeset, auth: AuthorizationSource): Promise<void> {
    const target = join(this.folder, `${c.id}.cs`);
    // A pull may be fetching it right now, or have applied it since the list was read.
    if (this.#abort.signal.aborted || this.source.cache.isBusy(target) || !this.#needed(c.index, c.briefcaseId)) return;
    await this.source.cache.exclusive(target, async () => {
      if ((await stat(target).catch(() => undefined))?.size === c.fileSize || !this.#needed(c.index, c.briefcaseId))
        return;
      const unchecked = `${target}${UNCHECKED_SUFFIX}`;
      const fresh = async (): Promise<string> => {
        const changeset = await hubCall("prefetchChangeset", () =>
          this.source.client.with({ authorization: auth }).getChangeset(this.iModelId, c.index),
        );
        if (!changeset._links.download) throw new Error(`changeset ${c.index} has no file to download`);
        return changeset._links.download.href;
      };
      try {
        // downloadFile writes `<unchecked>.part`, checks the size, renames to <unchecked>; the id is checked here.
        await downloadFile(
          c._links.download?.href ?? (await fresh()),
          unchecked,
          c.fileSize,
          this.source.retry,
          () => this.#abort.signal.aborted,
          fresh,
          this.source.wholeFileLimit,
        );
        const computeId = this.source.verifyIds ? changesetIdRule() : undefined;
        if (computeId && !hasChangesetId(computeId, c.parentId, unchecked, c.id)) {
          this.stats.rejected++;
          this.#refused.add(c.id);
          this.source.logger.warn(
            `prefetch: changeset ${c.index} of iModel ${this.iModelId} does not have its id ${c.id}; not kept`,
          );
          return;
        }
        await rename(unchecked, target);
        const written = await stat(target);
        if (computeId) this.source.cache.markVerified(target, written);
        this.#written.set(c.index, target);
        this.stats.downloaded++;
        this.stats.downloadedBytes += written.size;
      } catch (err) {
        if (err instanceof TransferAborted || this.#abort.signal.aborted) return;
        const sizeMismatch = /downloaded \d+ bytes, expected/.test((err as Error).message);
        if (sizeMismatch) this.stats.rejected++;
        else this.stats.failed++;
        this.source.logger.warn(`prefetch: changeset ${c.index} of iModel ${this.iModelId}: ${(err as Error).message}`);
      } finally {
        await rm(unchecked, { force: true });
        await rm(`${unchecked}.part`, { force: true });
      }
    });
  }

  /** Files this prefetcher wrote for changesets every open briefcase has now (iTwin.js deletes the ones it applied). */
  async #pruneApplied(lowest: number): Promise<void> {
    for (const [index, path] of this.#written) {
      if (index > lowest) continue;
      this.#written.delete(index);
      if (this.source.cache.isBusy(path)) continue;
      this.source.cache.forget(path);
      await rm(path, { force: true });
    }
  }

  async #bytesInFolder(): Promise<number> {
    const names = await readdir(this.folder).catch(() => [] as string[]);
    let total = 0;
    for (const name of names) total += (await stat(join(this.folder, name)).catch(() => undefined))?.size ?? 0;
    return total;
  }

  async #removeUnchecked(): Promise<void> {
    const names = await readdir(this.folder).catch(() => [] as string[]);
    for (const name of names) {
      if (name.endsWith(UNCHECKED_SUFFIX) || name.endsWith(`${UNCHECKED_SUFFIX}.part`))
        await rm(join(this.folder, name), { force: true });
    }
  }
}
