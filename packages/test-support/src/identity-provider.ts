// Identity providers for the auth tests: a real OpenID Connect provider (oidc-provider, client credentials with
// resource indicators → JWT access tokens), and a bare JWKS over HTTP for tokens the test signs itself.
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import type { JWK } from "jose";

/** What a test needs from oidc-provider (it ships no TypeScript types). */
interface ProviderInstance {
  callback(): (req: unknown, res: unknown) => void;
}
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

export interface TestClient {
  clientId: string;
  secret: string;
  /** Claims added to its access tokens (names, email). */
  claims?: Record<string, string>;
}

export interface LocalIdentityProvider {
  issuer: string;
  audience: string;
  /** The provider's signing key (private), so a test can sign tokens the hub must treat like the provider's. */
  privateJwk: JWK & { kid: string };
  /** A client-credentials access token (a JWT for `audience`) of `clientId`. */
  token(clientId: string): Promise<string>;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** oidc-provider 9 on a free loopback port; each client's tokens have `sub` = its client id. */
export async function startIdentityProvider(
  clients: readonly TestClient[],
  audience = "https://modelhub.test/imodels",
): Promise<LocalIdentityProvider> {
  const moduleName = "oidc-provider"; // untyped package: imported by name so TypeScript does not look for its types
  const { default: Provider } = (await import(moduleName)) as { default: ProviderClass };
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid: "idp-key-1", alg: "RS256", use: "sig" } as JWK & {
    kid: string;
  };
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const byId = new Map(clients.map((c) => [c.clientId, c]));
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.secret,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
    })),
    jwks: { keys: [privateJwk] },
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "itwin-platform",
          audience,
          accessTokenFormat: "jwt",
          accessTokenTTL: 3600,
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => ({
      ...(byId.get(token.clientId ?? "")?.claims ?? {}),
    }),
  });
  server.on("request", provider.callback() as (req: unknown, res: unknown) => void);
  return {
    issuer,
    audience,
    privateJwk,
    async token(clientId) {
      const client = byId.get(clientId);
      if (!client) throw new Error(`unknown client ${clientId}`);
      const response = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString("base64")}`,
        },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          resource: audience,
          scope: "itwin-platform",
        }).toString(),
      });
      const body = (await response.json()) as { access_token?: string };
      if (!response.ok || !body.access_token)
        throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    close: () => closeServer(server),
  };
}

/** A JWKS document over HTTP whose keys a test can replace (key rotation). */
export interface JwksServer {
  url: string;
  /** How many times the JWKS was fetched. */
  fetches: number;
  setKeys(keys: JWK[]): void;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let current = keys;
  const server = createServer((_req, res) => {
    state.fetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: current }));
  });
  const port = await listen(server);
  const state: JwksServer = {
    url: `http://127.0.0.1:${port}/jwks.json`,
    fetches: 0,
    setKeys(next) {
      current = next;
    },
    close: () => closeServer(server),
  };
  return state;
}
