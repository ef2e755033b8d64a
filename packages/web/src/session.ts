// Who is signed in. Kept in this tab's sessionStorage (this origin only, gone when the tab closes), never in
// localStorage or a cookie: another origin's script cannot read it, and it does not outlive the session.
import { ModelHubClient } from "@modelhub/client";

export type AuthMode = "open" | "tokens" | "oidc";

export interface Session {
  mode: AuthMode;
  /** What goes after `Bearer `: the user name in open mode, the pasted token otherwise. */
  credential: string;
  /** Shown in the header. */
  label: string;
}

const SESSION_KEY = "modelhub.session";

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (typeof parsed.credential !== "string" || typeof parsed.mode !== "string" || typeof parsed.label !== "string") return undefined;
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
  return new ModelHubClient({ url: window.location.origin, accessToken: session.credential, retry: { attempts: 3, maxDelayMs: 5000 } });
}

/** What the hub says about itself before anyone signs in (`GET /ui/config`). */
export async function fetchAuthMode(): Promise<AuthMode> {
  const response = await fetch("/ui/config", { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`The hub answered ${response.status} to GET /ui/config.`);
  const config = (await response.json()) as { authMode?: unknown };
  if (config.authMode === "open" || config.authMode === "tokens" || config.authMode === "oidc") return config.authMode;
  throw new Error(`The hub named an auth mode this page does not know: ${String(config.authMode)}.`);
}
