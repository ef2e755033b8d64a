import type { Actor, Clock } from "../../domain/context.js";
import { systemClock } from "../../domain/context.js";
import type { IdentityStore } from "../../ports/identity-store.js";
import type { Authenticator } from "./authenticator.js";
import { bearerToken, invalidToken } from "./bearer.js";
import { hashHubToken, looksLikeHubToken } from "./hub-tokens.js";

/** `last_used_at` is written at most this often per token: a write per request would cost more than the request. */
const TOUCH_INTERVAL_MS = 60_000;

export interface HubTokenAuthenticatorOptions {
  clock?: Clock;
  /** Told when recording a token's last use failed (the request itself still succeeds). */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Auth mode `tokens`: hub-issued tokens (`modelhub tokens create`). Each request looks its token's hash up in the
 * identity store — an indexed read of a few microseconds — so there is no cache at all: a revocation or an expiry
 * takes effect on the very next request, in this process and in every other one sharing the database.
 */
export class HubTokenAuthenticator implements Authenticator {
  readonly mode = "tokens" as const;
  readonly #store: IdentityStore;
  readonly #clock: Clock;
  readonly #warn: HubTokenAuthenticatorOptions["warn"];
  readonly #touched = new Map<string, number>();

  constructor(store: IdentityStore, options: HubTokenAuthenticatorOptions = {}) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#warn = options.warn;
  }

  async authenticate(authorization: string | undefined): Promise<Actor> {
    const secret = bearerToken(authorization);
    if (!looksLikeHubToken(secret)) throw invalidToken();
    const token = await this.#store.findTokenByHash(hashHubToken(secret));
    const now = this.#clock.now();
    if (
      !token ||
      token.revokedAt !== null ||
      (token.expiresAt !== null && Date.parse(token.expiresAt) <= now.getTime())
    )
      throw invalidToken();
    this.#touch(token.id, now);
    return token.expiresAt === null
      ? { userId: token.userId }
      : { userId: token.userId, expiresAt: Date.parse(token.expiresAt) };
  }

  #touch(id: string, now: Date): void {
    const last = this.#touched.get(id);
    if (last !== undefined && now.getTime() - last < TOUCH_INTERVAL_MS) return;
    this.#touched.set(id, now.getTime());
    if (this.#touched.size > 10_000) this.#touched.clear(); // bounded; at worst a few extra writes
    this.#store
      .touchToken(id, now)
      .catch((err: unknown) => this.#warn?.("could not record an access token's last use", { tokenId: id, err }));
  }
}
