import { decodeJwt } from "jose";
import type { Actor } from "../domain/context.js";
import { HubError } from "../domain/errors.js";

/**
 * Open mode: every request must carry an `Authorization` header, but the token is not verified. The user is the
 * token's `sub` claim when it is a JWT, else the token text itself. Only safe on loopback (the CLI refuses
 * anything else until verified tokens exist).
 */
export function actorFromAuthorization(header: string | undefined): Actor {
  const value = header?.trim();
  if (!value) {
    throw new HubError("HeaderNotFound", "Header Authorization was not found in the request. Access denied.");
  }
  const space = value.indexOf(" ");
  const token = (space >= 0 ? value.slice(space + 1) : value).trim();
  if (!token) {
    throw new HubError(
      "InvalidAccessToken",
      "Access denied due to invalid access_token. Make sure that issuer is correct, the token is not expired and is not corrupted.",
    );
  }
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
