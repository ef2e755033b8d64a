import { decodeJwt } from "jose";
import type { Actor } from "../../domain/context.js";
import type { Authenticator } from "./authenticator.js";
import { bearerToken } from "./bearer.js";

/**
 * Open mode (the default): every request must carry `Authorization: Bearer <token>`, but the token is not verified.
 * The user is the token's `sub` claim when it is a JWT, else the token text itself, so one user is always one
 * identity (one rate-limit bucket). Only safe on loopback: the configuration refuses anything else in this mode.
 */
export class OpenAuthenticator implements Authenticator {
  readonly mode = "open" as const;

  async authenticate(authorization: string | undefined): Promise<Actor> {
    return actorOfOpenToken(bearerToken(authorization));
  }
}

export function actorOfOpenToken(token: string): Actor {
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
