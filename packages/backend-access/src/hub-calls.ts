// The HTTP side of backend-access, without iTwin.js: one @modelhub/client on the keep-alive transport, the retry
// policy's numbers as this package's options spell them, and the hub's answers as typed errors. model-hub-access.ts
// turns those errors into the host's IModelError (errors.ts); nothing here imports @itwin/*.
import type { ErrorBody } from "@modelhub/protocol";
import { DEFAULT_RETRY_POLICY, isRetryable, ModelHubClient, ModelHubError, retryPolicyOf } from "@modelhub/client";
import type { RetryPolicy as ClientRetryPolicy } from "@modelhub/client";
import { keepAliveTransport } from "./http-transport.js";

/**
 * The numbers of @modelhub/client's one retry policy (its README, "Retries"), as this package's `retry` option
 * spells them. Every request backend-access sends is one the hub answers the same when repeated (or, for a create,
 * one whose repeat it recognizes), so network errors, 429, 500, 502, 503 and 504 are all retried.
 */
export interface RetryPolicy {
  /** Attempts after the first one. */
  maxRetries: number;
  /** First backoff delay; doubles each retry (±25 % jitter), capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  maxRetries: DEFAULT_RETRY_POLICY.attempts - 1,
  baseDelayMs: DEFAULT_RETRY_POLICY.baseDelayMs,
  maxDelayMs: DEFAULT_RETRY_POLICY.maxDelayMs,
});

export function clientPolicyOf(retry: RetryPolicy): ClientRetryPolicy {
  return retryPolicyOf({
    attempts: retry.maxRetries + 1,
    baseDelayMs: retry.baseDelayMs,
    maxDelayMs: retry.maxDelayMs,
  });
}

/** Where this package's warnings go (ModelHubAccessOptions.logger; by default the host's iTwin.js Logger). */
export interface AccessLogger {
  warn(message: string): void;
  info(message: string): void;
}

/** iTwin.js `Logger` category of this package's messages (the default logger's). */
export const LOGGER_CATEGORY = "ModelHubAccess";

/** `upload: HTTP 503; retry 1 of 4 in 260 ms`: one line per retry. */
export function retryLine(reason: string, retry: number, maxRetries: number, delayMs: number): string {
  return `${reason}; retry ${retry} of ${maxRetries} in ${Math.round(delayMs)} ms`;
}

/** The client of one hub: keep-alive transport, this package's retry numbers, retries logged as warnings. */
export function hubClientOf(baseUrl: string, retry: RetryPolicy, logger: AccessLogger): ModelHubClient {
  const root = baseUrl.replace(/\/+$/, "").replace(/\/imodels$/i, "");
  return new ModelHubClient({
    url: root,
    // Each call carries its own authorization (ModelHubClient.with); this is never sent.
    accessToken: () => {
      throw new Error("@modelhub/backend-access: a request without its caller's authorization");
    },
    transport: keepAliveTransport,
    retry: clientPolicyOf(retry),
    onRetry: (event) =>
      logger.warn(
        retryLine(
          `${event.method} ${pathOf(event.url)}: ${event.reason}`,
          event.retry,
          event.maxRetries,
          event.delayMs,
        ),
      ),
  });
}

const pathOf = (url: string) => {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
};

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

/** The client's error as this package's: an answer (HubHttpError) or none (HubUnreachableError); others as they are. */
export function hubErrorOf(err: unknown, operation: string): unknown {
  if (!(err instanceof ModelHubError)) return err;
  if (err.status === 0)
    return new HubUnreachableError(
      `${operation}: ${err.message.replace(/^cannot reach /, "cannot reach the hub at ")}`,
    );
  const body =
    (err.body as ErrorBody["error"] | undefined) ?? ({ code: "Unknown", message: err.message } as ErrorBody["error"]);
  return new HubHttpError(err.status, body, operation);
}

/** Runs one operation's client calls with their errors as this package's (see hubErrorOf). */
export async function hubCall<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw hubErrorOf(err, operation);
  }
}

/** Whether a status says the hub may not have done the request yet (the policy's "try again" for a repeatable one). */
export function isTransient(status: number): boolean {
  return isRetryable(status, true);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
