// Signing in at the hub's identity provider: OAuth 2.0 authorization code with PKCE (RFC 7636) for a public client
// (no secret in a page), the provider found by OpenID Connect discovery. The page sends the browser to the
// provider's authorization endpoint and, when it comes back to `/?code=…&state=…`, redeems the code at the token
// endpoint with the verifier only this tab knows. The access token then works like a pasted one.

/** What `GET /ui/config` says about signing in at the provider (`modelhub serve --auth oidc --ui-client-id …`). */
export interface OidcSignIn {
  issuer: string;
  clientId: string;
  scope: string;
  resource?: string;
}

/** What this tab remembers between leaving for the provider and coming back (sessionStorage: this tab only). */
interface Pending {
  state: string;
  verifier: string;
  /** Where the user was (`#/…`), to return there. */
  returnTo: string;
}

const PENDING_KEY = "modelhub.oidc.pending";

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

async function discover(issuer: string): Promise<Discovery> {
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  const response = await fetch(url, { headers: { accept: "application/json" } });
  if (!response.ok)
    throw new Error(`The identity provider answered ${response.status} to its discovery document (${url}).`);
  const document = (await response.json()) as Partial<Discovery>;
  if (typeof document.authorization_endpoint !== "string" || typeof document.token_endpoint !== "string") {
    throw new Error("The identity provider's discovery document names no authorization or token endpoint.");
  }
  return document as Discovery;
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The redirect URI registered for the UI: the hub's own page. */
function redirectUri(): string {
  return `${window.location.origin}/`;
}

/** Leaves for the provider's sign-in page (resolves only if that fails before leaving). */
export async function beginSignIn(config: OidcSignIn): Promise<void> {
  const { authorization_endpoint } = await discover(config.issuer);
  const pending: Pending = { state: randomText(), verifier: randomText(48), returnTo: window.location.hash || "#/" };
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pending.verifier))),
  );
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(authorization_endpoint);
  const params: Record<string, string> = {
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: config.scope,
    state: pending.state,
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...(config.resource ? { resource: config.resource } : {}),
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  window.location.assign(url.toString());
}

/** Whether this page load is the provider sending the browser back (a code or an error in the query). */
export function isSignInReturn(): boolean {
  const query = new URLSearchParams(window.location.search);
  return query.has("state") && (query.has("code") || query.has("error"));
}

/**
 * Redeems the code the provider returned for an access token, after checking it answers this tab's own request
 * (`state`); the query is removed from the address bar either way, so a reload does not replay it.
 */
export async function completeSignIn(config: OidcSignIn): Promise<{ accessToken: string; returnTo: string }> {
  const query = new URLSearchParams(window.location.search);
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const pending = raw ? (JSON.parse(raw) as Pending) : undefined;
  window.history.replaceState(null, "", `/${pending?.returnTo ?? "#/"}`);
  if (query.has("error")) {
    throw new Error(
      `The identity provider did not sign you in: ${query.get("error_description") || query.get("error")}.`,
    );
  }
  if (!pending || pending.state !== query.get("state"))
    throw new Error("This sign-in answer does not belong to a sign-in started in this tab: sign in again.");
  const { token_endpoint } = await discover(config.issuer);
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code: query.get("code") ?? "",
    redirect_uri: redirectUri(),
    client_id: config.clientId,
    code_verifier: pending.verifier,
    ...(config.resource ? { resource: config.resource } : {}),
  });
  const response = await fetch(token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body,
  });
  const answer = (await response.json().catch(() => ({}))) as {
    access_token?: string;
    error?: string;
    error_description?: string;
  };
  if (!response.ok || typeof answer.access_token !== "string") {
    throw new Error(
      `The identity provider refused the sign-in code: ${answer.error_description ?? answer.error ?? `status ${response.status}`}.`,
    );
  }
  return { accessToken: answer.access_token, returnTo: pending.returnTo };
}
