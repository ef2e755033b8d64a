import type { IdentityStore } from "../../ports/identity-store.js";
import type { Authenticator } from "./authenticator.js";
import { HubTokenAuthenticator } from "./hub-token-authenticator.js";
import type { OidcSettings } from "./oidc-authenticator.js";
import { OidcAuthenticator } from "./oidc-authenticator.js";
import { OpenAuthenticator } from "./open-authenticator.js";

/** `modelhub serve --auth …` and its settings. */
export type AuthConfig = { mode: "open" } | ({ mode: "oidc" } & OidcSettings & WebUiSignIn) | { mode: "tokens" };

/** oidc: how the web UI signs people in at the provider (authorization code + PKCE); without it the UI asks for a pasted token. */
export interface WebUiSignIn {
  /** The public client (no secret) registered at the provider for the web UI, its redirect URI the hub's own `/`. */
  uiClientId?: string;
  /** Scopes the UI asks for (default `openid profile email`). */
  uiScope?: string;
}

export interface AuthenticatorDeps {
  /** Hub tokens (mode `tokens`) and user profiles (mode `oidc`). */
  identities: IdentityStore;
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/** The authenticator of the configured mode. */
export function createAuthenticator(config: AuthConfig, deps: AuthenticatorDeps): Authenticator {
  const warn = deps.warn;
  switch (config.mode) {
    case "open":
      return new OpenAuthenticator();
    case "tokens":
      return new HubTokenAuthenticator(deps.identities, warn ? { warn } : {});
    case "oidc": {
      const { mode: _mode, ...settings } = config;
      return new OidcAuthenticator(settings, { profiles: deps.identities, ...(warn ? { warn } : {}) });
    }
  }
}
