/**
 * Outbound HTTP calls the hub makes on behalf of its users (webhook deliveries, gates). Any user who may register a
 * URL could otherwise make the hub call into its own private network (SSRF), so an implementation MUST refuse,
 * before any byte is sent:
 * - a URL that is not `http:` or `https:`, or that carries credentials (`user:pass@`);
 * - `http:` to a host that is not on the allow-list;
 * - any connection to a private, loopback, link-local, unique-local, multicast or unspecified address (IPv4, IPv6,
 *   and IPv4-mapped IPv6), whether the URL names it literally or a DNS name resolves to it, unless the host name
 *   or the address is on the allow-list. The address checked MUST be the one connected to (no second lookup).
 * It MUST NOT follow redirects (a 3xx is an answer like any other: the caller decides), MUST give up after
 * `timeoutMs` for the whole call, and MUST read at most `maxResponseBytes` of the answer's body.
 */
export interface Callout {
  post(request: CalloutRequest): Promise<CalloutAnswer>;
  /** Why `url` would be refused (without calling it), or undefined when it may be called as far as the URL and the
   * literal address tell; DNS is checked at call time. For validating a URL when it is registered. */
  refusalOf(url: string): string | undefined;
}

export interface CalloutRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Defaults to 64 KiB; more is cut off (`truncated`). */
  maxResponseBytes?: number;
}

export interface CalloutAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  truncated: boolean;
  durationMs: number;
}

/** The call was refused by the policy above: nothing was sent. */
export class CalloutRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CalloutRefused";
  }
}

/** The call failed without an answer: connection refused or reset, TLS, DNS failure, or the timeout. */
export class CalloutFailed extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
    this.name = "CalloutFailed";
  }
}
