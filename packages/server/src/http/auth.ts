import { decodeJwt } from "jose";
import type { Actor } from "../domain/context.js";
import { HubError } from "../domain/errors.js";

const INVALID_TOKEN_MESSAGE =
  "Access denied due to invalid access_token. Make sure that issuer is correct, the token is not expired and is not corrupted.";

/**
 * Open mode: every request must carry `Authorization: Bearer <token>` (the scheme in any case, as RFC 7235 allows;
 * it is what the official clients send), but the token is not verified. The user is the token's `sub` claim when it
 * is a JWT, else the token text itself. Anything else (no scheme, another scheme, no token, a token with spaces) is
 * `InvalidAccessToken`, so one user is always one identity (one rate-limit bucket). Only safe on loopback (the CLI
 * refuses anything else until verified tokens exist).
 */
export function actorFromAuthorization(header: string | undefined): Actor {
  if (header === undefined || header.trim() === "") {
    throw new HubError("HeaderNotFound", "Header Authorization was not found in the request. Access denied.");
  }
  const m = /^\s*bearer +([^\s]+)\s*$/i.exec(header);
  if (!m) throw new HubError("InvalidAccessToken", INVALID_TOKEN_MESSAGE);
  const token = m[1]!;
  return { userId: subjectOf(token) ?? token };
}

function subjectOf(token: string): string | undefined {
  if (token.split(".").length !== 3) return undefined;
  try {
    const sub = decodeJwt(token).sub;
    return typeof sub === "string" && sub.length > 0 ? sub : undefined;
  } catch {
    return undefined;
  }
}
