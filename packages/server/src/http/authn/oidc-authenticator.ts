import { readFile } from "node:fs/promises";
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify } from "jose";
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from "jose";
import type { Actor, Clock } from "../../domain/context.js";
import { systemClock } from "../../domain/context.js";
import { HubError } from "../../domain/errors.js";
import type { IdentityStore, NewUserProfile } from "../../ports/identity-store.js";
import type { Authenticator } from "./authenticator.js";
import { bearerToken, invalidToken } from "./bearer.js";
import { OIDC_CLOCK_TOLERANCE_SECONDS, OIDC_MAX_TOKEN_LIFETIME_SECONDS } from "./oidc-limits.js";

export { OIDC_CLOCK_TOLERANCE_SECONDS, OIDC_MAX_TOKEN_LIFETIME_SECONDS };

/**
 * Asymmetric algorithms only: never `none`, never HS* — with an HMAC algorithm allowed, a token "signed" with the
 * issuer's public key bytes would verify (key confusion).
 */
export const OIDC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;

/** A user's profile is written to the store at most this often per process (it rarely changes; tokens arrive constantly). */
const PROFILE_REFRESH_MS = 60_000;

export interface OidcSettings {
  /** The `iss` every token must carry; its discovery document names the keys unless `jwks` is given. */
  issuer: string;
  /** The `aud` every token must carry (one of, when the token has several); any audience when not set. */
  audience?: string;
  /** The issuer's keys: an http(s) URL of a JWKS, or a local JWKS file (read once at start). By default from discovery. */
  jwks?: string;
  /** The claim that names the user (default `sub`). */
  userClaim?: string;
  /**
   * After a fetch, an unknown `kid` refetches the remote key set only once this much time passed (jose's
   * cooldown, default 30 s): rotation is picked up without a restart, a flood of random `kid`s cannot hammer the provider.
   */
  jwksCooldownMs?: number;
  /** Clock skew allowed between the provider and the hub on `exp`, `nbf` and `iat` (default 30 s). */
  clockSkewSeconds?: number;
  /** Tokens claiming a longer lifetime (`exp` − `iat`, or `exp` − now without `iat`) are refused (default a day). */
  maxTokenLifetimeSeconds?: number;
}

export interface OidcAuthenticatorOptions {
  /** Where profiles (names, email) from the tokens' claims are kept for the users endpoints. */
  profiles?: IdentityStore;
  clock?: Clock;
  warn?: (message: string, fields: Record<string, unknown>) => void;
  /** Fetch used for discovery (tests); jose fetches the JWKS itself. */
  fetch?: typeof fetch;
}

/**
 * Auth mode `oidc`: bearer JWTs issued by an OpenID Connect provider, verified with `jose` — signature against
 * the issuer's JWKS (cached by jose, refetched on an unknown `kid`), `iss`, `aud` (when configured), `exp` (required)
 * and `nbf` with the clock skew ({@link OIDC_CLOCK_TOLERANCE_SECONDS} by default), `iat` not in the future beyond it,
 * a lifetime of at most {@link OIDC_MAX_TOKEN_LIFETIME_SECONDS} by default, and the algorithm allow-list
 * {@link OIDC_ALGORITHMS}. Every failure is the same 401 `InvalidAccessToken`; only an identity provider that cannot
 * be reached is a 503.
 */
export class OidcAuthenticator implements Authenticator {
  readonly mode = "oidc" as const;
  readonly #settings: OidcSettings;
  readonly #userClaim: string;
  readonly #options: OidcAuthenticatorOptions;
  readonly #clock: Clock;
  #keys: Promise<JWTVerifyGetKey> | undefined;
  readonly #profileWritten = new Map<string, number>();

  constructor(settings: OidcSettings, options: OidcAuthenticatorOptions = {}) {
    this.#settings = settings;
    this.#userClaim = settings.userClaim ?? "sub";
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Fetches the discovery document and the key source now (optional: the first request does it otherwise). */
  async prepare(): Promise<void> {
    await this.#keySet();
  }

  async authenticate(authorization: string | undefined): Promise<Actor> {
    const token = bearerToken(authorization);
    const keys = await this.#keySet();
    let payload: JWTPayload;
    const now = this.#clock.now();
    const skew = this.#settings.clockSkewSeconds ?? OIDC_CLOCK_TOLERANCE_SECONDS;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.#settings.issuer,
        ...(this.#settings.audience !== undefined ? { audience: this.#settings.audience } : {}),
        algorithms: [...OIDC_ALGORITHMS],
        clockTolerance: skew,
        requiredClaims: ["exp"],
        currentDate: now,
      }));
    } catch (err) {
      throw this.#failure(err);
    }
    if (
      !plausibleTimes(
        payload,
        now.getTime() / 1000,
        skew,
        this.#settings.maxTokenLifetimeSeconds ?? OIDC_MAX_TOKEN_LIFETIME_SECONDS,
      )
    )
      throw invalidToken();
    const userId = payload[this.#userClaim];
    if (typeof userId !== "string" || userId.length === 0 || userId.length > 1024) throw invalidToken();
    const actor = actorOfClaims(userId, payload);
    this.#rememberProfile(actor);
    return actor;
  }

  #keySet(): Promise<JWTVerifyGetKey> {
    this.#keys ??= this.#loadKeySet().catch((err: unknown) => {
      this.#keys = undefined; // the next request tries again
      throw err;
    });
    return this.#keys;
  }

  async #loadKeySet(): Promise<JWTVerifyGetKey> {
    const source = this.#settings.jwks;
    const remote = (url: URL) =>
      createRemoteJWKSet(url, { cooldownDuration: this.#settings.jwksCooldownMs ?? 30_000, timeoutDuration: 5000 });
    if (source !== undefined && /^https?:\/\//i.test(source)) return remote(new URL(source));
    if (source !== undefined) {
      const jwks = JSON.parse(await readFile(source, "utf8")) as JSONWebKeySet;
      return createLocalJWKSet(jwks);
    }
    const url = `${this.#settings.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await (this.#options.fetch ?? fetch)(url, {
        signal: AbortSignal.timeout(5000),
        headers: { accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (err) {
      this.#options.warn?.("cannot read the identity provider's discovery document", { url, err: String(err) });
      throw unavailable();
    }
    // OpenID Connect Discovery §4.3: the document must name the very issuer it was fetched for.
    if (document.issuer !== this.#settings.issuer || typeof document.jwks_uri !== "string") {
      this.#options.warn?.("the identity provider's discovery document does not match --issuer or has no jwks_uri", {
        url,
        issuer: document.issuer,
      });
      throw unavailable();
    }
    return remote(new URL(document.jwks_uri));
  }

  #failure(err: unknown): HubError {
    // The key set could not be fetched (network, timeout, not a JWKS): the token may be fine, the hub cannot tell.
    const code = err instanceof joseErrors.JOSEError ? err.code : undefined;
    if (
      code === "ERR_JWKS_TIMEOUT" ||
      code === "ERR_JOSE_GENERIC" ||
      code === "ERR_JWKS_INVALID" ||
      (code === undefined && err instanceof TypeError)
    ) {
      this.#options.warn?.("cannot fetch the identity provider's keys", { err: String(err) });
      return unavailable();
    }
    return invalidToken();
  }

  #rememberProfile(actor: Actor): void {
    const profiles = this.#options.profiles;
    if (!profiles) return;
    const now = this.#clock.now().getTime();
    const last = this.#profileWritten.get(actor.userId);
    if (last !== undefined && now - last < PROFILE_REFRESH_MS) return;
    this.#profileWritten.set(actor.userId, now);
    if (this.#profileWritten.size > 10_000) this.#profileWritten.clear(); // bounded; at worst a few extra writes
    const profile: NewUserProfile = { userId: actor.userId };
    if (actor.displayName !== undefined) profile.displayName = actor.displayName;
    if (actor.givenName !== undefined) profile.givenName = actor.givenName;
    if (actor.surname !== undefined) profile.surname = actor.surname;
    if (actor.email !== undefined) profile.email = actor.email;
    profiles
      .upsertProfile(profile)
      .catch((err: unknown) =>
        this.#options.warn?.("could not store a user profile", { userId: actor.userId, err: String(err) }),
      );
  }
}

/**
 * Whether a verified token's times make sense: issued no later than `now` plus the skew (a token "issued" in the
 * future was made with a wrong clock or to outlive its keys), and meant to live no longer than `maxLifetime` — from
 * `iat`, or from now when the token has none. jose has checked `exp` and `nbf` already.
 */
export function plausibleTimes(payload: JWTPayload, now: number, skew: number, maxLifetime: number): boolean {
  const exp = payload.exp!;
  if (typeof payload.iat === "number") return payload.iat <= now + skew && exp - payload.iat <= maxLifetime;
  return exp - now <= maxLifetime + skew;
}

/** Profile fields from the standard OpenID Connect claims, bounded so a token cannot fill the database. */
export function actorOfClaims(userId: string, claims: JWTPayload): Actor {
  const text = (name: string): string | undefined => {
    const value = claims[name];
    return typeof value === "string" && value.trim() !== "" ? value.trim().slice(0, 256) : undefined;
  };
  const actor: Actor = { userId };
  const preferred = text("preferred_username");
  const displayName = text("name") ?? preferred;
  const email = text("email") ?? (preferred?.includes("@") ? preferred : undefined);
  const givenName = text("given_name");
  const surname = text("family_name");
  const applicationId = text("azp") ?? text("client_id");
  if (displayName !== undefined) actor.displayName = displayName;
  if (givenName !== undefined) actor.givenName = givenName;
  if (surname !== undefined) actor.surname = surname;
  if (email !== undefined) actor.email = email;
  if (applicationId !== undefined) actor.applicationId = applicationId;
  if (typeof claims.exp === "number") actor.expiresAt = claims.exp * 1000;
  return actor;
}

function unavailable(): HubError {
  return new HubError(
    "ServiceUnavailable",
    "The hub cannot reach its identity provider to verify the access token; retry later.",
    { retryAfterSeconds: 5 },
  );
}
