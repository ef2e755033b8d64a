import { stat } from "node:fs/promises";
import type {
  BaselineFile,
  Briefcase,
  Changeset,
  AuditLogEntry,
  Checkpoint,
  CreateITwinInput,
  CreateIModelOperationDetails,
  ITwin,
  ITwinMember,
  ITwinRole,
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
import type {
  FetchLike,
  RetryEvent,
  RetryOptions,
  RetryPolicy,
  Transport,
  TransportRequest,
  TransportResponse,
} from "./http.js";
import { fetchTransport, retryPolicyOf, sendWithRetry, sleep } from "./http.js";
import type { ProgressCallback } from "./transfers.js";
import { downloadFile, uploadFile } from "./transfers.js";

export interface ModelHubClientOptions {
  /** The hub, e.g. `http://127.0.0.1:3000` (its iModels API is under `/imodels`), or the API base itself. */
  url: string;
  /**
   * A bearer token, or a function giving one for each try of each request (refreshed tokens). `Bearer ` is added
   * when missing.
   */
  accessToken: string | (() => string | Promise<string>);
  /** The numbers of the one retry policy (README, "Retries"). */
  retry?: RetryOptions;
  /** Told before each retry's wait (e.g. to log it). */
  onRetry?: (event: RetryEvent) => void;
  /** How requests are sent (default: fetch). backend-access plugs its keep-alive node:http transport here. */
  transport?: Transport;
  /** Another fetch for the default transport (tests, proxies); ignored when `transport` is given. */
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

/** Which audit log entries {@link ModelHubClient.auditLog} reads (all given filters apply). */
export interface AuditLogQuery {
  /** One iModel's log (`/imodels/{id}/auditlog`); else the hub's (`/auditlog`). */
  iModelId?: string;
  iTwinId?: string;
  userId?: string;
  action?: string;
  /** ISO times. */
  since?: string;
  until?: string;
  newestFirst?: boolean;
  pageSize?: number;
}

/** Whose own permissions on one iModel a grant sets: a user's, or a role's (by its id). */
export type IModelGrantee = { userId: string; roleId?: undefined } | { roleId: string; userId?: undefined };

export interface CreateIModelInput {
  iTwinId: string;
  name: string;
  description?: string;
  extent?: IModelExtent;
}

/**
 * The `Authorization` header of each try of one request (0 = the first), when it is not the client's own token:
 * asked anew for every try, so a retry after a token expired carries the token the caller has now.
 */
export type AuthorizationSource = string | ((attempt: number) => string | Promise<string>);

/** Per-call options of the methods a caller may need to tune (backend-access's create and acquire). */
export interface CallOptions {
  /** Send again after no answer or a 5xx as well (see README, "Retries"): the caller handles a repeated request. */
  idempotent?: boolean;
  /** Told before each retry of this call. */
  onRetry?: (event: RetryEvent) => void;
}

/** What a derived client ({@link ModelHubClient.with}) changes. */
export interface ClientScope {
  /** The authorization of every request of the derived client, instead of the client's token. */
  authorization?: AuthorizationSource;
}

/** A changeset's create request (`POST /imodels/{id}/changesets`): the file's facts, before its upload. */
export interface CreateChangesetInput {
  id: string;
  parentId: string;
  briefcaseId: number;
  description?: string;
  containingChanges?: number;
  fileSize: number;
  /** A modelhub extension: the changeset's size before compression (iTwin.js's changeset statistics). */
  uncompressedSize?: number;
}

/** A lock request (`PATCH /imodels/{id}/locks`): the levels the briefcase wants on these objects (`none` releases). */
export interface LockRequest {
  briefcaseId: number;
  changesetId: string;
  lockedObjects: { lockLevel: Lock["lockedObjects"][number]["lockLevel"]; objectIds: string[] }[];
}

/** Options of {@link ModelHubClient.send}. */
export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Statuses that are an answer (default 200, 201, 202, 204); others throw the API's error. */
  expected?: readonly number[];
  /** Added to (or replacing) the defaults: `accept`, `prefer: return=representation`, `content-type`. */
  headers?: Record<string, string>;
  /** This request's own authorization instead of the client's token. */
  authorization?: AuthorizationSource;
  /**
   * Safe to send again after no answer or a 5xx (default: by its method; GET, PUT, DELETE are). Set it for a POST or
   * PATCH the hub treats as the same request when repeated (a changeset's create or completion carries its id).
   */
  idempotent?: boolean;
  /** Told before each retry of this request. */
  onRetry?: (event: RetryEvent) => void;
  signal?: AbortSignal;
}

const pathOf = (url: string) => {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
};

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
  /** `…/accesscontrol`, the Access Control API. */
  readonly accessControlBase: string;
  /** The hub's root (`http://127.0.0.1:3000`), under which the hub's own routes (`/auditlog`) are. */
  readonly root: string;
  /** How this client sends requests. */
  readonly transport: Transport;
  /** The retry policy's numbers this client uses. */
  readonly retryPolicy: RetryPolicy;

  /**
   * A client of the same hub, transport and retry policy whose requests carry `scope.authorization` (one operation
   * on behalf of one caller's token, e.g. backend-access's per-call `accessToken`).
   */
  with(scope: ClientScope): ModelHubClient {
    const derived = Object.create(ModelHubClient.prototype) as ModelHubClient;
    Object.assign(derived, this, { scope: { ...this.scope, ...scope } });
    return derived;
  }

  private scope: ClientScope = {};

  constructor(private readonly options: ModelHubClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new ModelHubError(0, "InvalidUrl", `'${options.url}' is not a URL such as http://127.0.0.1:3000`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new ModelHubError(0, "InvalidUrl", `'${options.url}' is not an http(s) URL`);
    const path = url.pathname.replace(/\/+$/, "");
    this.apiBase = `${url.origin}${path.endsWith("/imodels") ? path : `${path}/imodels`}`;
    this.root = this.apiBase.slice(0, -"/imodels".length);
    this.iTwinsBase = `${this.root}/itwins`;
    this.accessControlBase = `${this.root}/accesscontrol`;
    this.transport = options.transport ?? fetchTransport(options.fetch);
    this.retryPolicy = retryPolicyOf(options.retry);
  }

  /** One API call. `path` is relative to the API base (`/{id}/changesets`) or an absolute link from the hub. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    expected: readonly number[] = [200],
    headers: Record<string, string> = {},
  ): Promise<T> {
    return this.send<T>(method, path, { ...(body !== undefined ? { body } : {}), expected, headers });
  }

  /**
   * One API call with every option: the JSON answer of an `expected` status, else a ModelHubError with the API's
   * error code (status 0 `NetworkError` when no answer came). Sent again under the retry policy.
   */
  async send<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = this.urlOf(path);
    const payload = options.body !== undefined ? JSON.stringify(options.body) : undefined;
    const response = await this.exchange(method, url, {
      ...options,
      headers: {
        accept: IMODELS_API_MEDIA_TYPE,
        prefer: "return=representation",
        ...(payload !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      ...(payload !== undefined ? { payload } : {}),
    });
    const warning = response.header("warning");
    if (warning && this.options.onWarning) this.options.onWarning(warning.replace(/^\d{3} \S+ "(.*)"$/, "$1"));
    const text = await response.text();
    if (!(options.expected ?? [200, 201, 202, 204]).includes(response.status)) {
      throw errorOfResponse(response.status, text, `${method} ${pathOf(url)} answered ${response.status}.`);
    }
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ModelHubError(
        response.status,
        "UnexpectedResponse",
        `${method} ${pathOf(url)} answered with invalid JSON.`,
      );
    }
  }

  /** Sends a request with this client's token, transport and retry policy; the answer's body is the caller's. */
  private async exchange(
    method: string,
    url: string,
    options: RequestOptions & { payload?: string; headers: Record<string, string>; once?: boolean },
  ): Promise<TransportResponse> {
    return sendWithRetry(
      this.transport,
      async (attempt): Promise<TransportRequest> => ({
        method,
        url,
        headers: {
          ...options.headers,
          authorization: await this.authorization(options.authorization ?? this.scope.authorization, attempt),
        },
        ...(options.payload !== undefined ? { body: options.payload } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
      {
        policy: options.once ? { ...this.retryPolicy, attempts: 1 } : this.retryPolicy,
        ...(options.idempotent !== undefined ? { idempotent: options.idempotent } : {}),
        onRetry: (event) => {
          options.onRetry?.(event);
          this.options.onRetry?.(event);
        },
      },
    );
  }

  private urlOf(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.apiBase}${path}`;
  }

  /** Every item of a collection, page after page (`_links.next`). */
  async *paged<T>(path: string, key: string, headers: Record<string, string> = {}): AsyncGenerator<T> {
    let next: string | null = path;
    while (next) {
      const page: Record<string, unknown> & { _links?: PagingLinks } = await this.request(
        "GET",
        next,
        undefined,
        [200],
        headers,
      );
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
    return (await this.request<{ iTwin: ITwin }>("PATCH", `${this.iTwinsBase}/${encodeURIComponent(iTwinId)}`, input))
      .iTwin;
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
    for await (const iTwin of this.iTwins({ displayName: idOrName.trim(), includeInactive: true, pageSize: 2 }))
      return iTwin;
    throw new ModelHubError(
      404,
      "iTwinNotFound",
      `You are a member of no iTwin named '${idOrName.trim()}' (modelhub itwin list shows yours).`,
    );
  }

  // Access control (roles and members of an iTwin; an iModel's own grants)

  private iTwinAccess(iTwinId: string): string {
    return `${this.accessControlBase}/itwins/${encodeURIComponent(iTwinId)}`;
  }

  async roles(iTwinId: string): Promise<ITwinRole[]> {
    return (await this.request<{ roles: ITwinRole[] }>("GET", `${this.iTwinAccess(iTwinId)}/roles`)).roles;
  }

  async createRole(
    iTwinId: string,
    input: { displayName: string; permissions: string[]; description?: string },
  ): Promise<ITwinRole> {
    return (await this.request<{ role: ITwinRole }>("POST", `${this.iTwinAccess(iTwinId)}/roles`, input, [201])).role;
  }

  /** Deletes a role; its members lose it. */
  async deleteRole(iTwinId: string, roleId: string): Promise<void> {
    await this.request("DELETE", `${this.iTwinAccess(iTwinId)}/roles/${encodeURIComponent(roleId)}`, undefined, [204]);
  }

  async members(iTwinId: string): Promise<ITwinMember[]> {
    return (await this.request<{ members: ITwinMember[] }>("GET", `${this.iTwinAccess(iTwinId)}/members/users`))
      .members;
  }

  async getMember(iTwinId: string, userId: string): Promise<ITwinMember> {
    return (
      await this.request<{ member: ITwinMember }>(
        "GET",
        `${this.iTwinAccess(iTwinId)}/members/users/${encodeURIComponent(userId)}`,
      )
    ).member;
  }

  /** Adds users with roles (or adds roles to members); returns them as they are now. */
  async addMembers(iTwinId: string, members: { userId: string; roleIds: string[] }[]): Promise<ITwinMember[]> {
    return (
      await this.request<{ members: ITwinMember[] }>(
        "POST",
        `${this.iTwinAccess(iTwinId)}/members/users`,
        { members },
        [201],
      )
    ).members;
  }

  /** A member's roles become exactly these. */
  async setMemberRoles(iTwinId: string, userId: string, roleIds: string[]): Promise<ITwinMember> {
    return (
      await this.request<{ member: ITwinMember }>(
        "PATCH",
        `${this.iTwinAccess(iTwinId)}/members/users/${encodeURIComponent(userId)}`,
        { roleIds },
      )
    ).member;
  }

  /** The user is no member of the iTwin any more. */
  async removeMember(iTwinId: string, userId: string): Promise<void> {
    await this.request(
      "DELETE",
      `${this.iTwinAccess(iTwinId)}/members/users/${encodeURIComponent(userId)}`,
      undefined,
      [204],
    );
  }

  /** The caller's permissions on an iTwin. */
  async iTwinPermissions(iTwinId: string): Promise<string[]> {
    return (await this.request<{ permissions: string[] }>("GET", `${this.iTwinAccess(iTwinId)}/permissions`))
      .permissions;
  }

  /** The caller's effective permissions on an iModel. */
  async iModelPermissions(iModelId: string): Promise<string[]> {
    return (await this.request<{ permissions: string[] }>("GET", `/${encodeURIComponent(iModelId)}/permissions`))
      .permissions;
  }

  private grantPath(iModelId: string, grantee: IModelGrantee): string {
    const base = `/${encodeURIComponent(iModelId)}/permissions`;
    return grantee.userId !== undefined
      ? `${base}/users/${encodeURIComponent(grantee.userId)}`
      : `${base}/roles/${encodeURIComponent(grantee.roleId)}`;
  }

  /** Gives a user or a role its own permissions on one iModel (from then on the iModel's grants replace the iTwin's); the hub's answer. */
  async grantIModelPermissions(
    iModelId: string,
    grantee: IModelGrantee,
    permissions: string[],
  ): Promise<Record<string, { permissions: string[] }>> {
    return this.request("PATCH", this.grantPath(iModelId, grantee), { permissions });
  }

  async revokeIModelPermissions(iModelId: string, grantee: IModelGrantee): Promise<void> {
    await this.request("DELETE", this.grantPath(iModelId, grantee), undefined, [204]);
  }

  // The audit log (a modelhub extension: managers see their iModels', administrators the whole hub's)

  /** Entries page after page, oldest first unless `newestFirst`; stop iterating to stop asking. */
  auditLog(filter: AuditLogQuery = {}): AsyncGenerator<AuditLogEntry> {
    const q = query({
      iTwinId: filter.iTwinId,
      userId: filter.userId,
      action: filter.action,
      since: filter.since,
      until: filter.until,
      $orderBy: filter.newestFirst ? "at desc" : undefined,
      $top: pageSize(filter.pageSize),
    });
    const path =
      filter.iModelId !== undefined
        ? `${this.apiBase}/${encodeURIComponent(filter.iModelId)}/auditlog`
        : `${this.root}/auditlog`;
    return this.paged<AuditLogEntry>(`${path}?${q}`, "auditEntries");
  }

  // iModels

  /** An iTwin's iModels; `includeFailed` (a modelhub extension) adds those whose baseline failed (state notInitialized). */
  iModels(
    iTwinId: string,
    filter: { name?: string; search?: string; includeFailed?: boolean; pageSize?: number } = {},
  ): AsyncGenerator<IModel> {
    const q = query({
      iTwinId,
      $top: pageSize(filter.pageSize),
      name: filter.name,
      $search: filter.search,
      $includeFailed: filter.includeFailed ? "true" : undefined,
    });
    return this.paged<IModel>(`?${q}`, "iModels");
  }

  async getIModel(iModelId: string): Promise<IModel> {
    return (await this.request<{ iModel: IModel }>("GET", `/${encodeURIComponent(iModelId)}`)).iModel;
  }

  /** An empty iModel (the hub makes its baseline); see {@link createIModelFromFile} for one from a .bim file. */
  async createIModel(input: CreateIModelInput, baselineFileSize?: number, call: CallOptions = {}): Promise<IModel> {
    const body = { ...input, ...(baselineFileSize !== undefined ? { baselineFile: { size: baselineFileSize } } : {}) };
    return (await this.send<{ iModel: IModel }>("POST", "", { body, expected: [201], ...call })).iModel;
  }

  /**
   * Tells the hub the baseline file is uploaded (`_links.complete` of a created iModel); it then initializes the
   * iModel. A repeated completion is answered like the first, so it is retried like an idempotent request.
   */
  async completeBaselineFile(iModel: IModel): Promise<void> {
    await this.send("POST", iModel._links.complete?.href ?? `/${encodeURIComponent(iModel.id)}/baselinefile`, {
      body: {},
      expected: [200],
      idempotent: true,
    });
  }

  async deleteIModel(iModelId: string): Promise<void> {
    await this.request("DELETE", `/${encodeURIComponent(iModelId)}`, undefined, [204]);
  }

  async getBaselineFile(iModelId: string): Promise<BaselineFileInfo> {
    return (
      await this.request<{ baselineFile: BaselineFileInfo }>("GET", `/${encodeURIComponent(iModelId)}/baselinefile`)
    ).baselineFile;
  }

  async getCreateOperation(iModelId: string): Promise<CreateIModelOperationDetails & { failureReason?: string }> {
    return (
      await this.request<{ createOperation: CreateIModelOperationDetails & { failureReason?: string } }>(
        "GET",
        `/${encodeURIComponent(iModelId)}/operations/create`,
      )
    ).createOperation;
  }

  /**
   * create → Put Blob of the file → complete → wait until the hub initialized it. A failed initialization throws a
   * ModelHubError `iModelInitializationFailed` with the hub's reason; the iModel stays (delete it or try again).
   */
  async createIModelFromFile(
    input: CreateIModelInput & {
      path: string;
      onProgress?: ProgressCallback;
      timeoutMs?: number;
      onCreated?: (iModel: IModel) => void;
    },
  ): Promise<IModel> {
    const { path, onProgress, timeoutMs, onCreated, ...fields } = input;
    const size = (await stat(path)).size;
    const created = await this.createIModel(fields, size);
    onCreated?.(created);
    const upload = created._links.upload;
    if (!upload)
      throw new ModelHubError(201, "UnexpectedResponse", "The hub gave no upload link for the baseline file.");
    await uploadFile(upload.href, path, this.transferOptions(onProgress));
    await this.completeBaselineFile(created);
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
        throw new ModelHubError(
          200,
          "iModelInitializationFailed",
          `The hub could not initialize iModel ${iModelId}: ${operation.failureReason ?? "no reason given"} (the iModel stays until deleted)`,
        );
      }
      if (Date.now() > end)
        throw new ModelHubError(
          0,
          "Timeout",
          `iModel ${iModelId} is still '${operation.state}' after ${Math.round(timeoutMs / 1000)} s.`,
        );
      await sleep(wait);
    }
  }

  // Changesets

  changesets(iModelId: string, filter: ChangesetQuery = {}): AsyncGenerator<Changeset> {
    const q = query({
      $top: pageSize(filter.pageSize),
      afterIndex: filter.afterIndex,
      lastIndex: filter.lastIndex,
      $orderBy: filter.descending ? "index desc" : undefined,
    });
    return this.paged<Changeset>(`/${encodeURIComponent(iModelId)}/changesets?${q}`, "changesets");
  }

  async getChangeset(iModelId: string, changeset: ChangesetRef): Promise<Changeset> {
    return (
      await this.request<{ changeset: Changeset }>(
        "GET",
        `/${encodeURIComponent(iModelId)}/changesets/${ref(changeset)}`,
      )
    ).changeset;
  }

  /** The newest changeset, or undefined when only the baseline exists. */
  async latestChangeset(iModelId: string): Promise<Changeset | undefined> {
    const page = await this.request<{ changesets: Changeset[] }>(
      "GET",
      `/${encodeURIComponent(iModelId)}/changesets?$top=1&$orderBy=index%20desc`,
    );
    return page.changesets[0];
  }

  /**
   * Starts a push: the hub records the changeset (state `waitingForFile`) and answers its upload and completion
   * links. The changeset's id makes a repeat the same request (the hub answers the same changeset, or
   * `ChangesetExists` once it is complete), so it is retried like an idempotent request.
   */
  async createChangeset(iModelId: string, input: CreateChangesetInput): Promise<Changeset> {
    return (
      await this.send<{ changeset: Changeset }>("POST", `/${encodeURIComponent(iModelId)}/changesets`, {
        body: input,
        expected: [200, 201],
        idempotent: true,
      })
    ).changeset;
  }

  /**
   * Ends a push once its file is uploaded (`PATCH` of the changeset's `_links.complete`). The hub answers a repeated
   * completion like the first, so it is retried like an idempotent request; after the last try a
   * `NetworkError` or 5xx means the outcome is not known (backend-access asks again, see its README).
   */
  async completeChangeset(
    iModelId: string,
    changeset: Changeset,
    briefcaseId: number,
    call: CallOptions = {},
  ): Promise<Changeset> {
    const link =
      changeset._links.complete?.href ??
      `/${encodeURIComponent(iModelId)}/changesets/${encodeURIComponent(changeset.id)}`;
    return (
      await this.send<{ changeset: Changeset }>("PATCH", link, {
        body: { state: "fileUploaded", briefcaseId },
        expected: [200],
        idempotent: true,
        ...call,
      })
    ).changeset;
  }

  /** Downloads a changeset's file to `path`; returns the changeset. */
  async downloadChangeset(
    iModelId: string,
    changeset: ChangesetRef,
    path: string,
    onProgress?: ProgressCallback,
  ): Promise<Changeset> {
    const record = await this.getChangeset(iModelId, changeset);
    const link = record._links.download;
    if (!link)
      throw new ModelHubError(
        200,
        "InsufficientPermissions",
        `No download link for changeset ${record.index}: reading files needs imodels_read.`,
      );
    await downloadFile(link.href, path, { expectedSize: record.fileSize, ...this.transferOptions(onProgress) });
    return record;
  }

  // Named versions

  /** Named versions by changeset index; with `name`, only the one of that name. */
  namedVersions(iModelId: string, filter: { name?: string; pageSize?: number } = {}): AsyncGenerator<NamedVersion> {
    const q = query({ $top: pageSize(filter.pageSize), name: filter.name, $orderBy: "changesetIndex" });
    return this.paged<NamedVersion>(`/${encodeURIComponent(iModelId)}/namedversions?${q}`, "namedVersions");
  }

  /** Names a changeset (by index or id; index 0 is the baseline). */
  async createNamedVersion(
    iModelId: string,
    input: { name: string; description?: string; changeset: ChangesetRef },
  ): Promise<NamedVersion> {
    const body = {
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(typeof input.changeset === "number" ? { changesetIndex: input.changeset } : { changesetId: input.changeset }),
    };
    return (
      await this.request<{ namedVersion: NamedVersion }>(
        "POST",
        `/${encodeURIComponent(iModelId)}/namedversions`,
        body,
        [201],
      )
    ).namedVersion;
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

  private transferOptions(onProgress: ProgressCallback | undefined) {
    return {
      ...(onProgress ? { onProgress } : {}),
      retry: this.retryPolicy,
      transport: this.transport,
      ...(this.options.onRetry ? { onRetry: this.options.onRetry } : {}),
    };
  }

  /** The `Authorization` header of one try: the request's own source, else the client's token, asked anew. */
  private async authorization(source: AuthorizationSource | undefined, attempt: number): Promise<string> {
    const raw =
      source !== undefined
        ? typeof source === "function"
          ? await source(attempt)
          : source
        : typeof this.options.accessToken === "function"
          ? await this.options.accessToken()
          : this.options.accessToken;
    return /^bearer /i.test(raw) || raw.includes(" ") ? raw : `Bearer ${raw}`;
  }
}

function pageSize(size: number | undefined): number {
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(size ?? 100)));
}
