// The client's one way to send a request (a pluggable Transport) and its one retry policy. Every HTTP caller of the
// hub's API in this repository goes through here: the CLI and the web UI on fetch, @modelhub/backend-access on its
// keep-alive node:http transport. The policy is documented in packages/client/README.md ("Retries").
import { ModelHubError } from "./errors.js";

/** One request as a transport sends it. */
export interface TransportRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** A whole body, or a stream of chunks (then the caller gives `content-length` in the headers). */
  body?: string | Uint8Array | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
}

/** An answer whose headers arrived; its body is read once, by one of `text`, `bytes`, `stream` or `discard`. */
export interface TransportResponse {
  readonly status: number;
  /** A header (repeated ones joined with ", "), or null. */
  header(name: string): string | null;
  text(): Promise<string>;
  bytes(): Promise<Uint8Array>;
  stream(): AsyncIterable<Uint8Array>;
  /** Reads and drops the body, so that its connection can be reused. */
  discard(): Promise<void>;
}

/**
 * Sends one request and resolves once the answer's headers arrived. A request that got no answer at all (refused,
 * reset, DNS…) rejects with the underlying error; every HTTP answer, whatever its status, resolves.
 */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** The default transport: WHATWG fetch (Node's or the browser's), or the given one. */
export function fetchTransport(fetchImpl: FetchLike = (input, init) => fetch(input, init)): Transport {
  return async (request) => {
    const streamed =
      request.body !== undefined && typeof request.body !== "string" && !(request.body instanceof Uint8Array);
    const response = await fetchImpl(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body as NonNullable<RequestInit["body"]> } : {}),
      // Node's fetch sends an async iterable as a stream only in half-duplex mode.
      ...(streamed ? { duplex: "half" } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    } as RequestInit);
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      text: () => response.text(),
      bytes: async () => new Uint8Array(await response.arrayBuffer()),
      stream: () => readerOf(response.body),
      discard: async () => {
        await response.arrayBuffer().catch(() => undefined);
      },
    };
  };
}

/** A web stream read through its reader (browsers without async-iterable streams too); cancelled when left early. */
async function* readerOf(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

/**
 * When and how often a request is sent again (see packages/client/README.md, "Retries"). One policy for every
 * caller; only its numbers are options.
 */
export interface RetryPolicy {
  /** Tries in all, the first included (default 5). */
  attempts: number;
  /** Wait before the first retry when the answer names none; doubled at each retry, ±25 % jitter (default 250 ms). */
  baseDelayMs: number;
  /** Longest backoff between tries (default 8 s). */
  maxDelayMs: number;
  /** Longest `retry-after` honoured (default 60 s): a longer one is cut to this. */
  maxRetryAfterMs: number;
}

export type RetryOptions = Partial<RetryPolicy>;

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  attempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  maxRetryAfterMs: 60_000,
});

export function retryPolicyOf(options: RetryOptions = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...definedOnly(options) };
  return { ...policy, attempts: Math.max(1, Math.floor(policy.attempts)) };
}

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
/** Answers that say "busy or broken on the way, try again": never a refusal of the request itself. */
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);

/**
 * Whether an answer (or no answer: `status` undefined) is worth sending the request again for:
 * - 429, and 503 with `retry-after`: the hub did not process the request, whatever its method;
 * - no answer, 500, 502, 503, 504: only for a request that is safe to send twice (`idempotent`: GET, HEAD, PUT,
 *   DELETE, OPTIONS by default, or a request the caller knows the hub treats as the same request when repeated).
 */
export function isRetryable(
  status: number | undefined,
  idempotent: boolean,
  retryAfter: string | null = null,
): boolean {
  if (status === 429 || (status === 503 && retryAfter !== null)) return true;
  if (!idempotent) return false;
  return status === undefined || TRANSIENT_STATUSES.has(status);
}

/** Whether a method is safe to send twice by HTTP's rules. */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase());
}

/**
 * The wait before retry number `retry` (1-based): the answer's `retry-after` (seconds or an HTTP date, capped by
 * `maxRetryAfterMs`), else `baseDelayMs · 2^(retry-1)` capped by `maxDelayMs`, with ±25 % jitter so that clients
 * refused together do not come back together.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  retry: number,
  retryAfter: string | null = null,
  random: () => number = Math.random,
): number {
  const told = retryAfterMs(retryAfter);
  if (told !== undefined) return Math.min(told, policy.maxRetryAfterMs);
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1)) * (0.75 + random() / 2);
}

function retryAfterMs(retryAfter: string | null): number | undefined {
  if (retryAfter === null) return undefined;
  const text = retryAfter.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** What a retry is about to do, for the caller's log. */
export interface RetryEvent {
  method: string;
  url: string;
  /** 1 for the first retry. */
  retry: number;
  /** Of `attempts - 1`. */
  maxRetries: number;
  delayMs: number;
  /** `HTTP 503` or the network error's text. */
  reason: string;
}

export interface SendOptions {
  policy: RetryPolicy;
  /** Safe to send twice (default: by the method). */
  idempotent?: boolean;
  /** Told before each retry's wait. */
  onRetry?: (event: RetryEvent) => void;
}

/**
 * Sends `request(attempt)` (a factory, 0-based: a streamed body cannot be sent twice, and a token may be refreshed
 * between tries) under the retry policy. Returns the last answer, whatever its status; throws a ModelHubError
 * `NetworkError` (status 0) when the last try got no answer.
 */
export async function sendWithRetry(
  transport: Transport,
  request: (attempt: number) => TransportRequest | Promise<TransportRequest>,
  options: SendOptions,
): Promise<TransportResponse> {
  const { policy } = options;
  for (let attempt = 0; ; attempt++) {
    // Outside the try: a caller that cannot build its request (no token) has no network error to retry.
    const sent = await request(attempt);
    const idempotent = options.idempotent ?? isIdempotentMethod(sent.method);
    const last = attempt + 1 >= policy.attempts;
    let response: TransportResponse;
    try {
      response = await transport(sent);
    } catch (err) {
      if (sent.signal?.aborted) throw err;
      const error = networkError(sent.url, err);
      if (last || !isRetryable(undefined, idempotent)) throw error;
      await waitBeforeRetry(options, sent, attempt + 1, null, error.message);
      continue;
    }
    const retryAfter = response.header("retry-after");
    if (last || !isRetryable(response.status, idempotent, retryAfter)) return response;
    await response.discard();
    await waitBeforeRetry(options, sent, attempt + 1, retryAfter, `HTTP ${response.status}`);
  }
}

async function waitBeforeRetry(
  options: SendOptions,
  sent: TransportRequest,
  retry: number,
  retryAfter: string | null,
  reason: string,
): Promise<void> {
  const delayMs = retryDelayMs(options.policy, retry, retryAfter);
  options.onRetry?.({
    method: sent.method,
    url: sent.url,
    retry,
    maxRetries: options.policy.attempts - 1,
    delayMs,
    reason,
  });
  await sleep(delayMs);
}

/** The error of a request that got no answer: which host, and the socket's code (ECONNREFUSED…). */
export function networkError(url: string, err: unknown): ModelHubError {
  if (err instanceof ModelHubError) return err;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = (err as { code?: string }).code;
  let origin = url;
  try {
    origin = new URL(url).origin;
  } catch {
    // keep the text
  }
  const why = cause?.code ?? code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new ModelHubError(0, "NetworkError", `cannot reach ${origin}: ${why}`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
