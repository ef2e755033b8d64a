import type { ErrorBody } from "@modelhub/protocol";
import { bentley } from "./host.js";
import { header, isOk, readBody, send } from "./http-transport.js";

export const ACCEPT = "application/vnd.bentley.itwin-platform.v2+json";

export interface RetryPolicy {
  /** Attempts after the first one, for network errors, 5xx and 429. */
  maxRetries: number;
  /** First backoff delay; doubles each retry, capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 4, baseDelayMs: 250, maxDelayMs: 8000 };

/**
 * The `Authorization` header of one attempt (0 = the first). Asked anew for every attempt, so a retry after a token
 * expired — or a long download's link refresh — carries the token the host's authorization client has now.
 */
export type AuthorizationSource = string | ((attempt: number) => Promise<string>);

export function authorizationOf(source: AuthorizationSource, attempt: number): Promise<string> {
  return typeof source === "string" ? Promise.resolve(source) : source(attempt);
}

/** An API answer that was not 2xx, with the hub's error body. */
export class HubHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody["error"] | undefined,
    readonly operation: string,
  ) {
    super(`${operation}: ${status} ${body?.code ?? ""} ${body?.message ?? ""}`.trim());
    this.name = "HubHttpError";
  }

  get code(): string | undefined {
    return this.body?.code;
  }
}

/** No answer from the hub after every retry (refused or broken connections): what the hub did is not known. */
export class HubUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HubUnreachableError";
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** iTwin.js `Logger` category of this package's messages. */
export const LOGGER_CATEGORY = "ModelHubAccess";

/**
 * Waits before retry `attempt` (1-based): `retry-after` when the hub gave one, else exponential backoff with jitter.
 * Logs `reason` as a warning through the host's iTwin.js `Logger`.
 */
export function backoff(policy: RetryPolicy, attempt: number, reason: string, retryAfter?: string | null): Promise<void> {
  const seconds = retryAfter ? Number(retryAfter) : NaN;
  const delay = Number.isFinite(seconds) && seconds >= 0
    ? Math.min(seconds * 1000, 60_000)
    : Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
  bentley.Logger.logWarning(LOGGER_CATEGORY, `${reason}; retry ${attempt} of ${policy.maxRetries} in ${Math.round(delay)} ms`);
  return sleep(delay);
}

/** A socket error says what failed in its code (ECONNREFUSED, ECONNRESET…). */
function describeNetworkError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = (err as Error).message;
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** Statuses worth asking again for: 429 and 5xx. */
export function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * JSON calls to the iModels API. Every method is retried on network errors, 5xx and 429: the hub treats re-sent
 * creates and completes of the same changeset as the same request, so a retried POST/PATCH cannot create twice.
 */
export class HubHttpClient {
  constructor(
    readonly apiBase: string,
    private readonly retry: RetryPolicy,
  ) {}

  async request<T>(
    operation: string,
    method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE",
    pathOrUrl: string,
    authorization: AuthorizationSource,
    options: { body?: unknown; prefer?: "minimal" | "representation"; onRetry?: () => void } = {},
  ): Promise<T> {
    const url = pathOrUrl.startsWith("http") ? pathOrUrl : `${this.apiBase}${pathOrUrl}`;
    const headers: Record<string, string> = { accept: ACCEPT };
    if (options.prefer) headers.prefer = `return=${options.prefer}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    for (let attempt = 0; ; attempt++) {
      let status: number;
      let text: string;
      let retryAfter: string | null;
      // Outside the try: a host that has no token is not a network error worth retrying.
      headers.authorization = await authorizationOf(authorization, attempt);
      try {
        const response = await send(url, { method, headers, ...(payload ? { body: payload } : {}) });
        text = (await readBody(response)).toString("utf8");
        status = response.statusCode ?? 0;
        retryAfter = header(response, "retry-after");
        if (isOk(response)) return (text ? JSON.parse(text) : undefined) as T;
      } catch (err) {
        if (err instanceof SyntaxError) throw new Error(`${operation}: the hub answered with invalid JSON`);
        if (attempt >= this.retry.maxRetries) throw new HubUnreachableError(`${operation}: cannot reach the hub at ${url}: ${describeNetworkError(err)}`);
        options.onRetry?.();
        await backoff(this.retry, attempt + 1, `${operation}: ${describeNetworkError(err)}`);
        continue;
      }
      if (retryable(status) && attempt < this.retry.maxRetries) {
        options.onRetry?.();
        await backoff(this.retry, attempt + 1, `${operation}: HTTP ${status}`, retryAfter);
        continue;
      }
      let body: ErrorBody | undefined;
      try {
        body = JSON.parse(text) as ErrorBody;
      } catch {
        body = undefined;
      }
      throw new HubHttpError(status, body?.error ?? { code: "Unknown", message: text.slice(0, 500) } as ErrorBody["error"], operation);
    }
  }

  /** Follows `_links.next` until the last page. */
  async *pages<T>(operation: string, path: string, authorization: AuthorizationSource, key: string, prefer?: "minimal" | "representation"): AsyncGenerator<T[]> {
    let next: string | undefined = path;
    while (next) {
      const page: Record<string, unknown> & { _links?: { next?: { href: string } | null } } = await this.request(operation, "GET", next, authorization, prefer ? { prefer } : {});
      yield (page[key] as T[] | undefined) ?? [];
      next = page._links?.next?.href ?? undefined;
    }
  }
}
