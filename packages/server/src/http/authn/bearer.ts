import { HubError } from "../../domain/errors.js";

/** The seeds' exact 401 messages. */
export const HEADER_NOT_FOUND_MESSAGE = "Header Authorization was not found in the request. Access denied.";
export const INVALID_TOKEN_MESSAGE =
  "Access denied due to invalid access_token. Make sure that issuer is correct, the token is not expired and is not corrupted.";

export function headerNotFound(): HubError {
  return new HubError("HeaderNotFound", HEADER_NOT_FOUND_MESSAGE);
}

/** One answer for every bad token, whatever was wrong with it: the caller learns nothing about why. */
export function invalidToken(): HubError {
  return new HubError("InvalidAccessToken", INVALID_TOKEN_MESSAGE);
}

/**
 * The token of `Authorization: Bearer <token>` (the scheme in any case, as RFC 7235 allows; it is what the official
 * clients send). No header is `HeaderNotFound`; anything else (no scheme, another scheme, no token, a token with
 * spaces) is `InvalidAccessToken`.
 */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === "") throw headerNotFound();
  const m = /^\s*bearer +([^\s]+)\s*$/i.exec(header);
  if (!m) throw invalidToken();
  return m[1]!;
}
