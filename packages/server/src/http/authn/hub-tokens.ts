import { createHash, randomBytes } from "node:crypto";

/** Every hub-issued token starts with this, so a leaked one is recognisable (e.g. by secret scanners). */
export const HUB_TOKEN_PREFIX = "mh_";

/** A new token secret: the prefix and 32 random bytes, base64url (256 bits: not guessable, not brute-forceable). */
export function newHubTokenSecret(): string {
  return `${HUB_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
}

/**
 * What is stored instead of the secret. A plain sha256 suffices (no salt, no slow hash): the secret is 256 random
 * bits, not a password, so there is no dictionary to try.
 */
export function hashHubToken(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** A secret of the shape {@link newHubTokenSecret} makes (checked before any lookup). */
export function looksLikeHubToken(token: string): boolean {
  return /^mh_[A-Za-z0-9_-]{43}$/.test(token);
}

const UNIT_MS = { m: 60_000, h: 3600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 } as const;

/**
 * A lifetime such as `90d`, `12h`, `30m`, `2w`, `1y`, or `never`; undefined for `never`. Throws a RangeError with
 * a message fit for the command line otherwise.
 */
export function parseLifetime(text: string): number | undefined {
  if (text.trim().toLowerCase() === "never") return undefined;
  const m = /^\s*(\d{1,6})\s*([mhdwy])\s*$/i.exec(text);
  if (!m || Number(m[1]) === 0)
    throw new RangeError(`'${text}' is not a lifetime: use a number and a unit (m, h, d, w, y), e.g. 90d, or 'never'.`);
  return Number(m[1]) * UNIT_MS[m[2]!.toLowerCase() as keyof typeof UNIT_MS];
}
