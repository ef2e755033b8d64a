import { stat } from "node:fs/promises";
import type {
  BaselineFile,
  Briefcase,
  Changeset,
  Checkpoint,
  CreateITwinInput,
  CreateIModelOperationDetails,
  ITwin,
  IModel,
  IModelExtent,
  Lock,
  NamedVersion,
  PagingLinks,
  SequencedIModelEvent,
  User,
} from "@modelhub/protocol";
import { IMODELS_API_MEDIA_TYPE, MAX_PAGE_SIZE } from "@modelhub/protocol";
import { ModelHubError, errorOfResponse } from "./errors.js";
import { iModelEventsOf } from "./events.js";
import type { FetchLike, RetryOptions } from "./http.js";
import { fetchWithRetry, sleep } from "./http.js";
import type { ProgressCallback } from "./transfers.js";
import { downloadFile, uploadFile } from "./transfers.js";

export interface ModelHubClientOptions {
  /** The hub, e.g. `http://127.0.0.1:3000` (its iModels API is under `/imodels`), or the API base itself. */
  url: string;
  /** A bearer token, or a function giving one per request (refreshed tokens). `Bearer ` is added when missing. */
  accessToken: string | (() => string | Promise<string>);
  retry?: RetryOptions;
  /** Another fetch (tests, proxies). */
  fetch?: FetchLike;
  /** Told the text of an answer's `Warning` header (e.g. that roles are recorded but not enforced in open mode). */
  onWarning?: (warning: string) => void;
}

/** A baseline file as the hub describes it, with why its initialization failed when it did. */
export type BaselineFileInfo = BaselineFile & { failureReason?: string };

/** A checkpoint list as the hub's own `GET /imodels/{id}/checkpoints` answers it. */
export interface CheckpointList {
  checkpoints: Checkpoint[];
  /** Bytes the successful checkpoints use on disk. */
  totalSize: number;
}

export interface ChangesetQuery {
  /** Only changesets after this index. */
  afterIndex?: number;
  /** Only changesets up to this index (inclusive). */
  lastIndex?: number;
  /** Newest first. */
  descending?: boolean;
  /** Changesets per request (default 100, at most 1000); pages are followed through `_links.next`. */
  pageSize?: number;
}

/** A changeset by its index (a number) or id (40 hex characters). */
export type ChangesetRef = number | string;

/** Which iTwins {@link ModelHubClient.iTwins} lists. */
export interface ITwinQuery {
  /** Part of the display name or number (any case). */
  search?: string;
  /** Exactly this display name (any case). */
  displayName?: string;
  /** e.g. `Project`, `Asset`; several comma-separated. */
  subClass?: string;
  /** Inactive iTwins too. */
  includeInactive?: boolean;
  /** Every iTwin of the hub, not only the caller's (administrators; others get their own). */
  all?: boolean;
  pageSize?: number;
}

export interface CreateIModelInput {
  iTwinId: string;
  name: string;
  description?: string;
  extent?: IModelExtent;
}

const ref = (changeset: ChangesetRef) => encodeURIComponent(String(changeset));
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A query string with `%20` for spaces: the API reads `+` literally (`$orderBy=index+desc` is refused). */
function query(params: Record<string, string | number | undefined>): string {
  return Object.entries(params)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k).replace("%24", "$")}=${encodeURIComponent(String(v))}`)
    .join("&");
}

/**
 * A typed client of the iModels API v2 as modelhub serves it, without iTwin.js. Collections are async iterables
 * that follow `_links.next`; refused requests throw a {@link ModelHubError} with the API's error code; 429 and 503
 * answers are tried again after their `retry-after`.
 */
export class ModelHubClient {
  /** `…/imodels`, the base the official clients take. */
  readonly apiBase: string;
  /** `…/itwins`, the iTwins API. */
  readonly iTwinsBase: string;
  private readonly fetchImpl: FetchLike;

  constructor(private readonly options: ModelHubClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new ModelHubError(0, "InvalidUrl", `'${options.url}' is not a URL such as http://127.0.0.1:3000`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new ModelHubError(0, "InvalidUrl", `'${options.url}' is not an http(s) URL`);
    const path = url.pathname.replace(/\/+$/, "");
    this.apiBase = `${url.origin}${path.endsWith("/imodels") ? path : `${path}/imodels`}`;
    this.iTwinsBase = `${this.apiBase.slice(0, -"/imodels".length)}/itwins`;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** One API call. `path` is relative to the API base (`/{id}/changesets`) or an absolute link from the hub. */
  async request<T>(method: string, path: string, body?: unknown, expected: readonly number[] = [200], headers: Record<string, string> = {}): Promise<T> {
    const url = /^https?:\/\//.test(path) ? path : `${this.apiBase}${path}`;
    const token = await this.token();
    const response = await fetchWithRetry(
      this.fetchImpl,
      url,
      () => ({
        method,
        headers: {
          accept: IMODELS_API_MEDIA_TYPE,
          authorization: token,
          prefer: "return=representation",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      }),
      this.options.retry,
    );
    const warning = response.headers.get("warning");
    if (warning && this.options.onWarning) this.options.onWarning(warning.replace(/^\d{3} \S+ "(.*)"$/, "$1"));
    const text = await response.text();
    if (!expected.includes(response.status)) throw errorOfResponse(response.status, text, `${method} ${new URL(url).pathname} answered ${response.status}.`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Every item of a collection, page after page (`_links.next`). */
  async *paged<T>(path: string, key: string, headers: Record<string, string> = {}): AsyncGenerator<T> {
    let next: string | null = path;
    while (next) {
      const page: Record<string, unknown> & { _links?: PagingLinks } = await this.request("GET", next, undefined, [200], headers);
      const items = page[key];
      if (!Array.isArray(items)) throw new ModelHubError(200, "UnexpectedResponse", `The answer has no '${key}' list.`);
      for (const item of items as T[]) yield item;
      next = page._links?.next?.href ?? null;
    }
  }

  // iTwins

  /** The caller's iTwins (with `all`, every iTwin for administrators), by display name, all pages. */
  iTwins(filter: ITwinQuery = {}): AsyncGenerator<ITwin> {
    const q = query({
      $top: pageSize(filter.pageSize),
      $search: filter.search,
      displayName: filter.displayName,
      subClass: filter.subClass,
      includeInactive: filter.includeInactive ? "true" : undefined,
    });
    return this.paged<ITwin>(`${this.iTwinsBase}?${q}`, "iTwins", filter.all ? { "x-itwin-query-scope": "all" } : {});
  }

  async getITwin(iTwinId: string): Promise<ITwin> {
    return (await this.request<{ iTwin: ITwin }>("GET", `${this.iTwinsBase}/${encodeURIComponent(iTwinId)}`)).iTwin;
  }

  /** A new iTwin; the caller becomes its Owner. */
  async createITwin(input: CreateITwinInput): Promise<ITwin> {
    return (await this.request<{ iTwin: ITwin }>("POST", this.iTwinsBase, input, [201])).iTwin;
  }

  async updateITwin(iTwinId: string, input: Partial<CreateITwinInput>): Promise<ITwin> {
    return (await this.request<{ iTwin: ITwin }>("PATCH", `${this.iTwinsBase}/${encodeURIComponent(iTwinId)}`, input)).iTwin;
  }

  /** Deletes an iTwin that holds no iModels (its Owners, or an administrator). */
  async deleteITwin(iTwinId: string): Promise<void> {
    await this.request("DELETE", `${this.iTwinsBase}/${encodeURIComponent(iTwinId)}`, undefined, [204]);
  }

  /**
   * One of the caller's iTwins named by its id (a GUID) or its display name (any case; names are unique on the
   * hub). An unknown name throws `iTwinNotFound` (404) like an unknown id.
   */
  async findITwin(idOrName: string): Promise<ITwin> {
    if (GUID.test(idOrName.trim())) return this.getITwin(idOrName.trim());
    for await (const iTwin of this.iTwins({ displayName: idOrName.trim(), includeInactive: true, pageSize: 2 })) return iTwin;
    throw new ModelHubError(404, "iTwinNotFound", `You are a member of no iTwin named '${idOrName.trim()}' (modelhub itwin list shows yours).`);
  }

  // iModels

  iModels(iTwinId: string, filter: { name?: string; search?: string; pageSize?: number } = {}): AsyncGenerator<IModel> {
    const q = query({ iTwinId, $top: pageSize(filter.pageSize), name: filter.name, $search: filter.search });
    return this.paged<IModel>(`?${q}`, "iModels");
  }

  async getIModel(iModelId: string): Promise<IModel> {
    return (await this.request<{ iModel: IModel }>("GET", `/${encodeURIComponent(iModelId)}`)).iModel;
  }

  /** An empty iModel (the hub makes its baseline); see {@link createIModelFromFile} for one from a .bim file. */
  async createIModel(input: CreateIModelInput, baselineFileSize?: number): Promise<IModel> {
    const body = { ...input, ...(baselineFileSize !== undefined ? { baselineFile: { size: baselineFileSize } } : {}) };
    return (await this.request<{ iModel: IModel }>("POST", "", body, [201])).iModel;
  }

  async deleteIModel(iModelId: string): Promise<void> {
    await this.request("DELETE", `/${encodeURIComponent(iModelId)}`, undefined, [204]);
  }

  async getBaselineFile(iModelId: string): Promise<BaselineFileInfo> {
    return (await this.request<{ baselineFile: BaselineFileInfo }>("GET", `/${encodeURIComponent(iModelId)}/baselinefile`)).baselineFile;
  }

  async getCreateOperation(iModelId: string): Promise<CreateIModelOperationDetails & { failureReason?: string }> {
    return (await this.request<{ createOperation: CreateIModelOperationDetails & { failureReason?: string } }>("GET", `/${encodeURIComponent(iModelId)}/operations/create`)).createOperation;
  }

  /**
   * create → Put Blob of the file → complete → wait until the hub initialized it. A failed initialization throws a
   * ModelHubError `iModelInitializationFailed` with the hub's reason; the iModel stays (delete it or try again).
   */
  async createIModelFromFile(input: CreateIModelInput & { path: string; onProgress?: ProgressCallback; timeoutMs?: number; onCreated?: (iModel: IModel) => void }): Promise<IModel> {
    const { path, onProgress, timeoutMs, onCreated, ...fields } = input;
    const size = (await stat(path)).size;
    const created = await this.createIModel(fields, size);
    onCreated?.(created);
    const upload = created._links.upload;
    if (!upload) throw new ModelHubError(201, "UnexpectedResponse", "The hub gave no upload link for the baseline file.");
    await uploadFile(upload.href, path, { ...(onProgress ? { onProgress } : {}), ...(this.options.retry ? { retry: this.options.retry } : {}), fetch: this.fetchImpl });
    await this.request("POST", created._links.complete?.href ?? `/${encodeURIComponent(created.id)}/baselinefile`, {}, [200]);
    await this.waitForInitialization(created.id, timeoutMs);
    return this.getIModel(created.id);
  }

  /** Polls until the iModel is initialized; a failed initialization throws with the hub's reason. */
  async waitForInitialization(iModelId: string, timeoutMs = 10 * 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (let wait = 100; ; wait = Math.min(2000, wait * 2)) {
      const operation = await this.getCreateOperation(iModelId);
      if (operation.state === "successful") return;
      if (operation.state === "failed") {
        throw new ModelHubError(200, "iModelInitializationFailed", `The hub could not initialize iModel ${iModelId}: ${operation.failureReason ?? "no reason given"} (the iModel stays until deleted)`);
      }
      if (Date.now() > end) throw new ModelHubError(0, "Timeout", `iModel ${iModelId} is still '${operation.state}' after ${Math.round(timeoutMs / 1000)} s.`);
      await sleep(wait);
    }
  }

  // Changesets

  changesets(iModelId: string, filter: ChangesetQuery = {}): AsyncGenerator<Changeset> {
    const q = query({ $top: pageSize(filter.pageSize), afterIndex: filter.afterIndex, lastIndex: filter.lastIndex, $orderBy: filter.descending ? "index desc" : undefined });
    return this.paged<Changeset>(`/${encodeURIComponent(iModelId)}/changesets?${q}`, "changesets");
  }

  async getChangeset(iModelId: string, changeset: ChangesetRef): Promise<Changeset> {
    return (await this.request<{ changeset: Changeset }>("GET", `/${encodeURIComponent(iModelId)}/changesets/${ref(changeset)}`)).changeset;
  }

  /** The newest changeset, or undefined when only the baseline exists. */
  async latestChangeset(iModelId: string): Promise<Changeset | undefined> {
    const page = await this.request<{ changesets: Changeset[] }>("GET", `/${encodeURIComponent(iModelId)}/changesets?$top=1&$orderBy=index%20desc`);
    return page.changesets[0];
  }

  /** Downloads a changeset's file to `path`; returns the changeset. */
  async downloadChangeset(iModelId: string, changeset: ChangesetRef, path: string, onProgress?: ProgressCallback): Promise<Changeset> {
    const record = await this.getChangeset(iModelId, changeset);
    const link = record._links.download;
    if (!link) throw new ModelHubError(200, "InsufficientPermissions", `No download link for changeset ${record.index}: reading files needs imodels_read.`);
    await downloadFile(link.href, path, { expectedSize: record.fileSize, ...this.transferOptions(onProgress) });
    return record;
  }

  // Named versions

  namedVersions(iModelId: string, query: { pageSize?: number } = {}): AsyncGenerator<NamedVersion> {
    return this.paged<NamedVersion>(`/${encodeURIComponent(iModelId)}/namedversions?$top=${pageSize(query.pageSize)}&$orderBy=changesetIndex`, "namedVersions");
  }

  /** Names a changeset (by index or id; index 0 is the baseline). */
  async createNamedVersion(iModelId: string, input: { name: string; description?: string; changeset: ChangesetRef }): Promise<NamedVersion> {
    const body = {
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(typeof input.changeset === "number" ? { changesetIndex: input.changeset } : { changesetId: input.changeset }),
    };
    return (await this.request<{ namedVersion: NamedVersion }>("POST", `/${encodeURIComponent(iModelId)}/namedversions`, body, [201])).namedVersion;
  }

  // Briefcases and locks

  briefcases(iModelId: string, filter: { ownerId?: string; pageSize?: number } = {}): AsyncGenerator<Briefcase> {
    const q = query({ $top: pageSize(filter.pageSize), ownerId: filter.ownerId });
    return this.paged<Briefcase>(`/${encodeURIComponent(iModelId)}/briefcases?${q}`, "briefcases");
  }

  async getBriefcase(iModelId: string, briefcaseId: number): Promise<Briefcase> {
    return (await this.request<{ briefcase: Briefcase }>("GET", `/${encodeURIComponent(iModelId)}/briefcases/${briefcaseId}`)).briefcase;
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
      for (const group of lock.lockedObjects) levels.set(group.lockLevel, [...(levels.get(group.lockLevel) ?? []), ...group.objectIds]);
    }
    return [...merged].map(([briefcaseId, levels]) => ({
      briefcaseId,
      lockedObjects: [...levels].map(([lockLevel, objectIds]) => ({ lockLevel: lockLevel as Lock["lockedObjects"][number]["lockLevel"], objectIds })),
    }));
  }

  /**
   * Releases all of a briefcase's locks, keeping the briefcase (`release-chunk` until the last chunk). They are
   * released as of the newest changeset: the briefcase may have pushed up to it, so others must be there to lock
   * the same objects.
   */
  async releaseLocks(iModelId: string, briefcaseId: number): Promise<void> {
    const changesetId = (await this.latestChangeset(iModelId))?.id ?? "";
    for (;;) {
      const { isLastChunk } = await this.request<{ isLastChunk: boolean }>("POST", `/${encodeURIComponent(iModelId)}/locks/release-chunk`, { briefcaseId, changesetId });
      if (isLastChunk) return;
    }
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
  async *events(iModelId: string, options: { lastEventId?: string; signal?: AbortSignal; onOpen?: () => void } = {}): AsyncGenerator<SequencedIModelEvent> {
    const url = `${this.apiBase}/${encodeURIComponent(iModelId)}/events`;
    const headers: Record<string, string> = { accept: "text/event-stream", authorization: await this.token() };
    if (options.lastEventId) headers["last-event-id"] = options.lastEventId;
    const response = await fetchWithRetry(this.fetchImpl, url, () => ({ method: "GET", headers, ...(options.signal ? { signal: options.signal } : {}) }), this.options.retry);
    if (response.status !== 200 || !response.body) throw errorOfResponse(response.status, await response.text(), `GET ${new URL(url).pathname} answered ${response.status}.`);
    options.onOpen?.();
    yield* iModelEventsOf(response.body);
  }

  // Checkpoints

  async checkpoints(iModelId: string): Promise<CheckpointList> {
    return this.request<CheckpointList>("GET", `/${encodeURIComponent(iModelId)}/checkpoints`);
  }

  /** The checkpoint made at exactly this changeset (index 0: the baseline's). */
  async checkpointOfChangeset(iModelId: string, changeset: ChangesetRef): Promise<Checkpoint> {
    return (await this.request<{ checkpoint: Checkpoint }>("GET", `/${encodeURIComponent(iModelId)}/changesets/${ref(changeset)}/checkpoint`)).checkpoint;
  }

  /** The checkpoint at the changeset or the nearest before it (the changeset's `currentOrPrecedingCheckpoint`). */
  async nearestCheckpoint(iModelId: string, changeset: ChangesetRef): Promise<Checkpoint> {
    if (changeset === 0) return this.checkpointOfChangeset(iModelId, 0);
    const link = (await this.getChangeset(iModelId, changeset))._links.currentOrPrecedingCheckpoint;
    if (!link) throw new ModelHubError(404, "CheckpointNotFound", `No checkpoint at or before changeset ${changeset}.`);
    return (await this.request<{ checkpoint: Checkpoint }>("GET", link.href)).checkpoint;
  }

  async checkpointOfNamedVersion(iModelId: string, namedVersionId: string): Promise<Checkpoint> {
    return (await this.request<{ checkpoint: Checkpoint }>("GET", `/${encodeURIComponent(iModelId)}/namedversions/${encodeURIComponent(namedVersionId)}/checkpoint`)).checkpoint;
  }

  /** Downloads a successful checkpoint's .bim to `path`; returns its size. */
  async downloadCheckpoint(checkpoint: Checkpoint, path: string, onProgress?: ProgressCallback): Promise<number> {
    const link = checkpoint._links.download;
    if (checkpoint.state !== "successful" || !link) {
      const why = checkpoint.state === "successful" ? "reading files needs imodels_read" : `it is '${checkpoint.state}'${checkpoint.failureReason ? `: ${checkpoint.failureReason}` : ""}`;
      throw new ModelHubError(200, "CheckpointNotAvailable", `The checkpoint of changeset ${checkpoint.changesetIndex} cannot be downloaded: ${why}.`);
    }
    return downloadFile(link.href, path, { ...(checkpoint.size > 0 ? { expectedSize: checkpoint.size } : {}), ...this.transferOptions(onProgress) });
  }

  private transferOptions(onProgress: ProgressCallback | undefined) {
    return { ...(onProgress ? { onProgress } : {}), ...(this.options.retry ? { retry: this.options.retry } : {}), fetch: this.fetchImpl };
  }

  private async token(): Promise<string> {
    const raw = typeof this.options.accessToken === "function" ? await this.options.accessToken() : this.options.accessToken;
    return /^bearer /i.test(raw) ? raw : `Bearer ${raw}`;
  }
}

function pageSize(size: number | undefined): number {
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(size ?? 100)));
}
