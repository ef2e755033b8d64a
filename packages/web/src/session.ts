// Who is signed in. Kept in this tab's sessionStorage (this origin only, gone when the tab closes), never in
// localStorage or a cookie: another origin's script cannot read it, and it does not outlive the session.
import { ModelHubClient } from "@modelhub/client";
import type { OidcSignIn } from "./oidc.js";

export type AuthMode = "open" | "tokens" | "oidc";

/** What `GET /me` answers: who the hub takes the token's bearer to be. */
export interface Me {
  user: { id: string; displayName: string; givenName: string | null; surname: string | null; email: string | null };
  authMode: AuthMode;
  administrator: boolean;
  expiresAt: string | null;
  application: { id: string; name: string } | null;
}

export interface Session {
  mode: AuthMode;
  /** What goes after `Bearer `: the user name in open mode, the pasted token otherwise. */
  credential: string;
  /** Who the hub said the credential's bearer is, at sign-in. */
  me: Me;
}

const SESSION_KEY = "modelhub.session";

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (
      typeof parsed.credential !== "string" ||
      typeof parsed.mode !== "string" ||
      typeof parsed.me?.user?.id !== "string"
    )
      return undefined;
    return parsed as Session;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

/** The API client of this page: the hub that served it, the signed-in user's token. */
export function clientOf(session: Session): ModelHubClient {
  return new ModelHubClient({
    url: window.location.origin,
    accessToken: session.credential,
    retry: { attempts: 3, maxDelayMs: 5000 },
  });
}

/**
 * Asks the hub who `credential` belongs to (`GET /me`): a token it refuses throws the API's 401 here, at sign-in,
 * instead of being kept and failing on the first page.
 */
export async function whoAmI(credential: string): Promise<Me> {
  const client = new ModelHubClient({
    url: window.location.origin,
    accessToken: credential,
    retry: { attempts: 2, maxDelayMs: 2000 },
  });
  return client.request<Me>("GET", `${window.location.origin}/me`);
}

export interface UiConfig {
  authMode: AuthMode;
  /** oidc with a client for this page: sign in at the provider instead of pasting a token. */
  oidc?: OidcSignIn;
}

/** What the hub says about itself before anyone signs in (`GET /ui/config`). */
export async function fetchUiConfig(): Promise<UiConfig> {
  const response = await fetch("/ui/config", { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`The hub answered ${response.status} to GET /ui/config.`);
  const config = (await response.json()) as { authMode?: unknown; oidc?: OidcSignIn };
  if (config.authMode === "open" || config.authMode === "tokens" || config.authMode === "oidc") {
    return { authMode: config.authMode, ...(config.authMode === "oidc" && config.oidc ? { oidc: config.oidc } : {}) };
  }
  throw new Error(`The hub named an auth mode this page does not know: ${String(config.authMode)}.`);
}
