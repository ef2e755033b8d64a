import { ModelHubError } from "./errors.js";

/** When and how often a request is tried again. */
export interface RetryOptions {
  /** Tries in all, the first included (default 5). */
  attempts?: number;
  /** Longest wait between tries, whatever `retry-after` says (default 30 s). */
  maxDelayMs?: number;
  /** Wait without a `retry-after` header: doubled at each try (default 500 ms). */
  baseDelayMs?: number;
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/**
 * Sends `init()` (a factory: a streamed body cannot be sent twice) and tries again on
 * - 429 (rate limit): the request was not processed, whatever its method;
 * - 503 with `retry-after` (the hub or its storage is busy and says when to come back), any method; without it only
 *   idempotent ones;
 * - no answer at all (connection refused or reset): idempotent methods only, a POST may have been processed.
 * Waits `retry-after` (seconds or an HTTP date), else an exponential backoff; both capped by `maxDelayMs`.
 */
export async function fetchWithRetry(fetchImpl: FetchLike, url: string, init: () => RequestInit, retry: RetryOptions = {}): Promise<Response> {
  const attempts = Math.max(1, retry.attempts ?? 5);
  const maxDelay = retry.maxDelayMs ?? 30_000;
  const base = retry.baseDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    const request = init();
    const method = (request.method ?? "GET").toUpperCase();
    let response: Response;
    try {
      response = await fetchImpl(url, request);
    } catch (err) {
      if (attempt >= attempts || !IDEMPOTENT.has(method)) throw networkError(url, err);
      await sleep(Math.min(maxDelay, base * 2 ** (attempt - 1)));
      continue;
    }
    const retryAfter = response.headers.get("retry-after");
    const again = response.status === 429 || (response.status === 503 && (retryAfter !== null || IDEMPOTENT.has(method)));
    if (!again || attempt >= attempts) return response;
    // Drain the refused answer so its connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    await sleep(Math.min(maxDelay, delayOf(retryAfter) ?? base * 2 ** (attempt - 1)));
  }
}

function delayOf(retryAfter: string | null): number | undefined {
  if (retryAfter === null) return undefined;
  if (/^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1000;
  const at = Date.parse(retryAfter);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function networkError(url: string, err: unknown): ModelHubError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  let origin = url;
  try {
    origin = new URL(url).origin;
  } catch {
    // keep the text
  }
  return new ModelHubError(0, "NetworkError", `cannot reach ${origin}: ${cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))}`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
