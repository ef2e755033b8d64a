import type { Actor } from "../../domain/context.js";

/** How the hub establishes who is asking (`modelhub serve --auth`). */
export type AuthMode = "open" | "oidc" | "tokens";

/**
 * Turns a request's `Authorization` header into the verified actor, or throws the API's 401 (`HubError`
 * `HeaderNotFound` / `InvalidAccessToken`, with the seeds' exact messages). The one place that knows about tokens.
 */
export interface Authenticator {
  readonly mode: AuthMode;
  authenticate(authorization: string | undefined): Promise<Actor>;
  /** Releases what it holds (JWKS caches, timers). */
  close?(): Promise<void>;
}
