import type { IncomingMessage } from "node:http";
import type { ClientAddresses } from "./client-address.js";
import { addressBucket } from "./client-address.js";

/** Failed authentications per client and minute before the client is refused ahead of authentication. */
export const DEFAULT_AUTH_FAILURE_LIMIT = 100;

const MINUTE_MS = 60_000;
/** Clients followed per minute; past this, new ones are not limited that minute (the map stays a few MB at most). */
const MAX_TRACKED = 50_000;

/**
 * Failed authentications (no or invalid token, a storage link with a bad signature) per client and minute — a client
 * is an IPv4 address or an IPv6 /64, see {@link addressBucket}. Past `--auth-failure-limit`, every request of that
 * client that needs an identity is refused before it is authenticated (no token lookup, no signature check) until
 * the minute ends: a flood of made-up tokens costs the hub a map lookup each. Per process.
 */
export class AuthFailureGate {
  #window = -1;
  readonly #counts = new Map<string, number>();

  constructor(
    readonly limitPerMinute: number,
    private readonly addresses: ClientAddresses,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `raw`'s client may be heard again, or undefined when it may now. */
  blockedFor(raw: IncomingMessage): number | undefined {
    if (this.limitPerMinute <= 0) return undefined;
    const now = this.#roll();
    const failures = this.#counts.get(addressBucket(this.addresses.of(raw))) ?? 0;
    return failures >= this.limitPerMinute ? Math.max(1, Math.ceil((MINUTE_MS - (now % MINUTE_MS)) / 1000)) : undefined;
  }

  /** Counts a request of `raw`'s client that failed authentication. */
  failed(raw: IncomingMessage): void {
    if (this.limitPerMinute <= 0) return;
    this.#roll();
    const key = addressBucket(this.addresses.of(raw));
    const failures = this.#counts.get(key);
    if (failures === undefined && this.#counts.size >= MAX_TRACKED) return;
    this.#counts.set(key, (failures ?? 0) + 1);
  }

  #roll(): number {
    const now = this.now();
    const window = Math.floor(now / MINUTE_MS);
    if (window !== this.#window) {
      this.#window = window;
      this.#counts.clear();
    }
    return now;
  }
}
