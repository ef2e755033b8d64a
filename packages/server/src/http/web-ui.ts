// The web UI (packages/web, built by `npm ci`) served by the hub: `GET /` is its page, `GET /assets/*` its files,
// `GET /ui/config` what it needs to know before signing in. Only these paths: any other path stays the API's or a
// 404, so the UI can never shadow a route. The page reads the API with the user's token like any other client.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { AuthMode } from "./authn/authenticator.js";
import { publicRoute } from "./authz/rules.js";

export interface WebUiOptions {
  /** The built UI (index.html and assets/); by default packages/web/dist of this repository. */
  root: string;
  /** Tells the sign-in page what to ask for: a user name (open) or a token. */
  authMode: AuthMode;
  /** oidc with `--ui-client-id`: the page signs people in at the provider (authorization code + PKCE). */
  signIn?: OidcSignIn;
}

/** What the sign-in page needs to send people to the identity provider and redeem the code it returns. */
export interface OidcSignIn {
  issuer: string;
  clientId: string;
  scope: string;
  /** The hub's audience, asked for as the RFC 8707 `resource` so the access token is issued for the hub. */
  resource?: string;
}

/** What `GET /ui/config` answers. */
export interface WebUiConfig {
  authMode: AuthMode;
  oidc?: OidcSignIn;
}

/**
 * The built UI: `web-ui/` inside an installed @modelhub/server (what `npm run pack:server` puts there), else the
 * repository's packages/web/dist — both seen from this file (src/http or dist/http of packages/server).
 */
export const DEFAULT_WEB_UI_ROOT =
  [new URL("../../web-ui/", import.meta.url), new URL("../../../web/dist/", import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((dir) => existsSync(dir)) ?? fileURLToPath(new URL("../../../web/dist/", import.meta.url));

/**
 * Same-origin scripts only, and API calls to this origin only: a script injected elsewhere cannot run here, and the
 * page cannot send its token anywhere else. Inline styles: iTwinUI positions popovers with style attributes.
 */
function contentSecurityPolicy(signIn: OidcSignIn | undefined): string {
  // Signing in at the provider: the page reads its discovery document and redeems the code at its token endpoint.
  const provider = signIn ? ` ${new URL(signIn.issuer).origin}` : "";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self'${provider}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function withPageHeaders(reply: FastifyReply, policy: string): FastifyReply {
  return reply
    .header("content-security-policy", policy)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY");
}

export async function webUiRoutes(app: FastifyInstance, options: WebUiOptions): Promise<void> {
  const config: WebUiConfig = { authMode: options.authMode, ...(options.signIn ? { oidc: options.signIn } : {}) };
  const policy = contentSecurityPolicy(options.signIn);
  const configSchema = {
    response: {
      200: {
        type: "object",
        properties: { authMode: { type: "string", enum: ["open", "tokens", "oidc"] }, oidc: { type: "object" } },
      },
    },
  };
  app.get(
    "/ui/config",
    {
      schema: configSchema,
      config: {
        summary: "What the web UI's sign-in page needs (auth mode, OIDC client)",
        authz: publicRoute(
          "the auth mode and OIDC sign-in settings, which the sign-in page needs before it has a token",
        ),
      },
    },
    async (_request, reply) => {
      void reply.header("cache-control", "no-store");
      return config;
    },
  );

  app.get(
    "/",
    {
      schema: {
        response: { 200: { description: "The page", content: { "text/html": { schema: { type: "string" } } } } },
      },
      config: { summary: "The web UI", authz: publicRoute("the web UI's page (static, no data)") },
    },
    async (_request, reply) => {
      let page: string;
      try {
        // Read per request (a small file): a rebuilt UI is served without restarting the hub.
        page = await readFile(join(options.root, "index.html"), "utf8");
      } catch {
        return withPageHeaders(reply, policy)
          .code(404)
          .type("text/plain; charset=utf-8")
          .send(
            `The web UI is not built (no ${join(options.root, "index.html")}): run 'npm run build -w @modelhub/web' in the repository. The API is at /imodels.\n`,
          );
      }
      return withPageHeaders(reply, policy)
        .header("cache-control", "no-cache")
        .type("text/html; charset=utf-8")
        .send(page);
    },
  );

  await app.register(async (assets) => {
    // What `send` refuses (the folder itself, a dotfile, a path leaving the folder) is a missing file to the caller.
    assets.setErrorHandler((err: { statusCode?: number }, _request, reply) => {
      if (err.statusCode !== undefined && err.statusCode < 500) return reply.callNotFound();
      throw err;
    });
    // @fastify/static makes the route itself: its rule is given here (checked when the app is ready).
    assets.addHook("onRoute", (route) => {
      route.config = {
        ...route.config,
        summary: "The web UI's scripts and styles",
        authz: publicRoute("the web UI's scripts and styles (static, no data)"),
      };
    });
    await registerAssets(assets, options.root);
  });
}

async function registerAssets(app: FastifyInstance, root: string): Promise<void> {
  // Vite names assets by content hash: a name always means the same bytes.
  await app.register(fastifyStatic, {
    root: join(root, "assets"),
    prefix: "/assets/",
    wildcard: true,
    index: false,
    decorateReply: false,
    immutable: true,
    maxAge: "365d",
    setHeaders: (reply) => {
      void reply.header("x-content-type-options", "nosniff");
    },
  });
}
