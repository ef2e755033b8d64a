// The transport half of ModelHubClient: URLs, authorization, one request with the retry policy, paging.
import type { PagingLinks } from "@modelhub/protocol";
import { IMODELS_API_MEDIA_TYPE, MAX_PAGE_SIZE } from "@modelhub/protocol";
import { ModelHubError, errorOfResponse } from "./errors.js";
import type { RetryPolicy, Transport, TransportRequest, TransportResponse } from "./http.js";
import { fetchTransport, retryPolicyOf, sendWithRetry } from "./http.js";
import type { ProgressCallback } from "./transfers.js";
import type {
  ModelHubClientOptions,
  ChangesetRef,
  AuthorizationSource,
  ClientScope,
  RequestOptions,
} from "./client-types.js";

export const pathOf = (url: string) => {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
};

export const ref = (changeset: ChangesetRef) => encodeURIComponent(String(changeset));
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A query string with `%20` for spaces: the API reads `+` literally (`$orderBy=index+desc` is refused). */
export function query(params: Record<string, string | number | undefined>): string {
  return Object.entries(params)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k).replace("%24", "$")}=${encodeURIComponent(String(v))}`)
    .join("&");
}

/** A page size the API takes: 1 to MAX_PAGE_SIZE, 100 by default. */
export function pageSize(size: number | undefined): number {
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(size ?? 100)));
}

/** What every API area of {@link ModelHubClient} builds on: the hub's URLs, the transport, the retry policy, paging. */
export class ModelHubClientBase {
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

  protected scope: ClientScope = {};

  constructor(protected readonly options: ModelHubClientOptions) {
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
    const payload = options.body !== undefined ? JSON.stringify(options.body) : options.bytes;
    const response = await this.exchange(method, url, {
      ...options,
      headers: {
        accept: IMODELS_API_MEDIA_TYPE,
        prefer: "return=representation",
        ...(payload !== undefined
          ? { "content-type": typeof payload === "string" ? "application/json" : "application/octet-stream" }
          : {}),
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
  protected async exchange(
    method: string,
    url: string,
    options: RequestOptions & { payload?: string | Uint8Array; headers: Record<string, string>; once?: boolean },
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

  protected transferOptions(onProgress: ProgressCallback | undefined) {
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
