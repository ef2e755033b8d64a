import type { Briefcase, Checkpoint, Lock, SequencedIModelEvent, User } from "@modelhub/protocol";
import { LOCK_ANSWER_HEADER } from "@modelhub/protocol";
import { ModelHubError, errorOfResponse } from "./errors.js";
import { iModelEventsOf } from "./events.js";
import type { TransportResponse } from "./http.js";
import type { ProgressCallback } from "./transfers.js";
import { downloadFile } from "./transfers.js";
import type { CheckpointList, ChangesetRef, CallOptions, ClientScope, LockRequest } from "./client-types.js";
import { query, pageSize, pathOf, ref } from "./client-base.js";
import { IModelsClient } from "./imodels-client.js";

export * from "./client-types.js";

/**
 * A typed client of the iModels API v2 as modelhub serves it, without iTwin.js. Collections are async iterables
 * that follow `_links.next`; refused requests throw a {@link ModelHubError} with the API's error code; 429 and 503
 * answers are tried again after their `retry-after`.
 */
export class ModelHubClient extends IModelsClient {
  /**
   * A client of the same hub, transport and retry policy whose requests carry `scope.authorization` (one operation
   * on behalf of one caller's token, e.g. backend-access's per-call `accessToken`).
   */
  with(scope: ClientScope): ModelHubClient {
    const derived = Object.create(ModelHubClient.prototype) as ModelHubClient;
    Object.assign(derived, this, { scope: { ...this.scope, ...scope } });
    return derived;
  }

  // Briefcases and locks

  briefcases(iModelId: string, filter: { ownerId?: string; pageSize?: number } = {}): AsyncGenerator<Briefcase> {
    const q = query({ $top: pageSize(filter.pageSize), ownerId: filter.ownerId });
    return this.paged<Briefcase>(`/${encodeURIComponent(iModelId)}/briefcases?${q}`, "briefcases");
  }

  /** A new briefcase id for the caller (`deviceName` shows in lists; at most 255 characters). */
  async acquireBriefcase(
    iModelId: string,
    input: { deviceName?: string } = {},
    call: CallOptions = {},
  ): Promise<Briefcase> {
    return (
      await this.send<{ briefcase: Briefcase }>("POST", `/${encodeURIComponent(iModelId)}/briefcases`, {
        body: input,
        expected: [201],
        ...call,
      })
    ).briefcase;
  }

  async getBriefcase(iModelId: string, briefcaseId: number): Promise<Briefcase> {
    return (
      await this.request<{ briefcase: Briefcase }>("GET", `/${encodeURIComponent(iModelId)}/briefcases/${briefcaseId}`)
    ).briefcase;
  }

  /** Releases the briefcase and all its locks (yours, or anyone's with imodels_manage). */
  async releaseBriefcase(iModelId: string, briefcaseId: number): Promise<void> {
    await this.request("DELETE", `/${encodeURIComponent(iModelId)}/briefcases/${briefcaseId}`, undefined, [204]);
  }

  /**
   * The iModel's locks, one entry per briefcase. The API pages by object id, so a briefcase's locks may span
   * pages: they are merged here.
   */
  async locks(iModelId: string, filter: { briefcaseId?: number; pageSize?: number } = {}): Promise<Lock[]> {
    const q = query({ $top: pageSize(filter.pageSize), briefcaseId: filter.briefcaseId });
    const merged = new Map<number, Map<string, string[]>>();
    for await (const lock of this.paged<Lock>(`/${encodeURIComponent(iModelId)}/locks?${q}`, "locks")) {
      const levels = merged.get(lock.briefcaseId) ?? new Map<string, string[]>();
      merged.set(lock.briefcaseId, levels);
      for (const group of lock.lockedObjects)
        levels.set(group.lockLevel, [...(levels.get(group.lockLevel) ?? []), ...group.objectIds]);
    }
    return [...merged].map(([briefcaseId, levels]) => ({
      briefcaseId,
      lockedObjects: [...levels].map(([lockLevel, objectIds]) => ({
        lockLevel: lockLevel as Lock["lockedObjects"][number]["lockLevel"],
        objectIds,
      })),
    }));
  }

  /**
   * Sets the briefcase's lock levels on these objects in one all-or-nothing request (`none` releases); a conflict
   * throws `ConflictWithAnotherUser` whose `body.conflictingLocks` names the holders. Setting levels twice is the
   * same as once, so it is retried like an idempotent request.
   */
  async updateLocks(iModelId: string, request: LockRequest): Promise<Lock> {
    return (
      await this.send<{ lock: Lock }>("PATCH", `/${encodeURIComponent(iModelId)}/locks`, {
        body: request,
        expected: [200],
        idempotent: true,
      })
    ).lock;
  }

  /**
   * Acquires or releases locks without reading the answer: the hub is asked for none (`x-modelhub-lock-answer: none`,
   * a modelhub extension; a hub that ignores it answers the lock set, which is then dropped).
   */
  async changeLocks(iModelId: string, request: LockRequest): Promise<void> {
    await this.send<unknown>("PATCH", `/${encodeURIComponent(iModelId)}/locks`, {
      body: request,
      expected: [200, 204],
      idempotent: true,
      headers: { [LOCK_ANSWER_HEADER]: "none" },
    });
  }

  /**
   * Releases one chunk of the briefcase's locks as of `changesetId`; `true` once none is left. Releasing again what
   * is released changes nothing, so it is retried like an idempotent request.
   */
  async releaseLocksChunk(iModelId: string, briefcaseId: number, changesetId: string): Promise<boolean> {
    const body = { briefcaseId, changesetId };
    return (
      await this.send<{ isLastChunk: boolean }>("POST", `/${encodeURIComponent(iModelId)}/locks/release-chunk`, {
        body,
        expected: [200],
        idempotent: true,
      })
    ).isLastChunk;
  }

  /**
   * Releases all of a briefcase's locks, keeping the briefcase (`release-chunk` until the last chunk). They are
   * released as of the newest changeset: the briefcase may have pushed up to it, so others must be there to lock
   * the same objects.
   */
  async releaseLocks(iModelId: string, briefcaseId: number): Promise<void> {
    const changesetId = (await this.latestChangeset(iModelId))?.id ?? "";
    while (!(await this.releaseLocksChunk(iModelId, briefcaseId, changesetId)));
  }

  // Users and the change feed

  /** The users who did something in the iModel (pushed, named a version, hold a briefcase), with their names. */
  users(iModelId: string, query: { pageSize?: number } = {}): AsyncGenerator<User> {
    return this.paged<User>(`/${encodeURIComponent(iModelId)}/users?$top=${pageSize(query.pageSize)}`, "users");
  }

  /**
   * Follows the iModel's change feed (`GET /imodels/{id}/events`, docs/events.md) until the stream ends or `signal`
   * aborts. Read through fetch so that the token travels in the Authorization header; pass the last event's `id`
   * as `lastEventId` to resume after a disconnection (the hub answers `reset` when it cannot). `onOpen` is called
   * once the hub accepted the stream: from then on no change is missed (reload what you show then).
   */
  async *events(
    iModelId: string,
    options: { lastEventId?: string; signal?: AbortSignal; onOpen?: () => void } = {},
  ): AsyncGenerator<SequencedIModelEvent> {
    const response = await this.openEventStream(iModelId, options);
    if (response.status !== 200)
      throw errorOfResponse(
        response.status,
        await response.text(),
        `GET ${pathOf(this.eventsUrl(iModelId))} answered ${response.status}.`,
      );
    options.onOpen?.();
    yield* iModelEventsOf(response.stream());
  }

  /**
   * Opens the change feed and hands back the answer as it came, whatever its status (the body is the caller's to
   * read): for callers with their own reading and reconnection rules (backend-access's prefetch). `once` sends it a
   * single time, without the retry policy.
   */
  async openEventStream(
    iModelId: string,
    options: { lastEventId?: string; signal?: AbortSignal; once?: boolean } = {},
  ): Promise<TransportResponse> {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (options.lastEventId) headers["last-event-id"] = options.lastEventId;
    return this.exchange("GET", this.eventsUrl(iModelId), {
      headers,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.once ? { once: true } : {}),
    });
  }

  private eventsUrl(iModelId: string): string {
    return `${this.apiBase}/${encodeURIComponent(iModelId)}/events`;
  }

  // Checkpoints

  async checkpoints(iModelId: string): Promise<CheckpointList> {
    return this.request<CheckpointList>("GET", `/${encodeURIComponent(iModelId)}/checkpoints`);
  }

  /** The checkpoint made at exactly this changeset (index 0: the baseline's). */
  async checkpointOfChangeset(iModelId: string, changeset: ChangesetRef): Promise<Checkpoint> {
    return (
      await this.request<{ checkpoint: Checkpoint }>(
        "GET",
        `/${encodeURIComponent(iModelId)}/changesets/${ref(changeset)}/checkpoint`,
      )
    ).checkpoint;
  }

  /** The checkpoint at the changeset or the nearest before it (the changeset's `currentOrPrecedingCheckpoint`). */
  async nearestCheckpoint(iModelId: string, changeset: ChangesetRef): Promise<Checkpoint> {
    if (changeset === 0) return this.checkpointOfChangeset(iModelId, 0);
    const link = (await this.getChangeset(iModelId, changeset))._links.currentOrPrecedingCheckpoint;
    if (!link) throw new ModelHubError(404, "CheckpointNotFound", `No checkpoint at or before changeset ${changeset}.`);
    return this.checkpointAt(link.href);
  }

  /** A checkpoint by a link the hub gave (`currentOrPrecedingCheckpoint`, a checkpoint's `self`). */
  async checkpointAt(href: string): Promise<Checkpoint> {
    return (await this.request<{ checkpoint: Checkpoint }>("GET", href)).checkpoint;
  }

  async checkpointOfNamedVersion(iModelId: string, namedVersionId: string): Promise<Checkpoint> {
    return (
      await this.request<{ checkpoint: Checkpoint }>(
        "GET",
        `/${encodeURIComponent(iModelId)}/namedversions/${encodeURIComponent(namedVersionId)}/checkpoint`,
      )
    ).checkpoint;
  }

  /** Downloads a successful checkpoint's .bim to `path`; returns its size. */
  async downloadCheckpoint(checkpoint: Checkpoint, path: string, onProgress?: ProgressCallback): Promise<number> {
    const link = checkpoint._links.download;
    if (checkpoint.state !== "successful" || !link) {
      const why =
        checkpoint.state === "successful"
          ? "reading files needs imodels_read"
          : `it is '${checkpoint.state}'${checkpoint.failureReason ? `: ${checkpoint.failureReason}` : ""}`;
      throw new ModelHubError(
        200,
        "CheckpointNotAvailable",
        `The checkpoint of changeset ${checkpoint.changesetIndex} cannot be downloaded: ${why}.`,
      );
    }
    return downloadFile(link.href, path, {
      ...(checkpoint.size > 0 ? { expectedSize: checkpoint.size } : {}),
      ...this.transferOptions(onProgress),
    });
  }
}
