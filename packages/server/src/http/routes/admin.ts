// The hub's own administration over HTTP (`/admin/…`), for the web UI's admin pages and scripts: hub tokens (list
// with last use, create, revoke), storage use per iModel and hub-wide, background jobs, and what this hub is
// (version, auth mode, backends). Organization administrators only (`--admin`; everyone in open mode, which enforces
// no permission): anyone else gets 403 InsufficientPermissions. Registered under the prefix `/admin` in an
// authenticated scope; writes are audited (token.create, token.revoke).
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AccessService } from "../../domain/access/access-service.js";
import { HubError, insufficientPermissions } from "../../domain/errors.js";
import { measureStorage } from "../../domain/usage/storage-use.js";
import type { BlobStore } from "../../ports/blob-store.js";
import type { AccessTokenRecord, IdentityStore } from "../../ports/identity-store.js";
import type { JobCount } from "../../ports/job-queue.js";
import type { AuthMode } from "../authn/authenticator.js";
import { hashHubToken, newHubTokenSecret, parseLifetime } from "../authn/hub-tokens.js";
import { objectAt } from "../route-config.js";
import { parseBody } from "../validation.js";

/** Lifetime of a token made without `expires` (what `modelhub tokens create` uses too). */
const DEFAULT_LIFETIME = "90d";

export interface AdminRouteOptions {
  access: AccessService;
  authMode: AuthMode;
  blobs: BlobStore;
  identities: Pick<IdentityStore, "createToken" | "listTokens" | "revokeToken" | "getToken">;
  jobs: { countByKindAndState(): Promise<JobCount[]> };
  /** The iModel's name and iTwin, for the storage page (undefined: deleted, files not yet swept). */
  iModelOf(iModelId: string): Promise<{ name: string; iTwinId: string } | undefined>;
  about: { version: string; metadata: string; blobs: string };
}

const ADMINS_ONLY = {
  kind: "authenticated",
  why: "organization administrators only (checked by the route: AccessService.isAdmin)",
} as const;

const createTokenBody = z.object({
  userId: z.string().trim().min(1).max(1024),
  description: z.string().max(1000).optional(),
  /** `90d`, `12h`, `2w`, `1y`, `never`… */
  expires: z.string().max(20).optional(),
});

export const adminRoutes: FastifyPluginAsync<AdminRouteOptions> = async (scope, options) => {
  const { access } = options;
  const requireAdmin = async (request: FastifyRequest) => {
    if (!(access.policy.everyoneMayDoEverything || access.isAdmin(request.actor))) throw insufficientPermissions();
  };
  scope.addHook("preHandler", requireAdmin);

  scope.get(
    "/about",
    { config: { summary: "The hub's version and backends (administrators)", authz: ADMINS_ONLY } },
    async () => ({
      hub: {
        version: options.about.version,
        authMode: options.authMode,
        metadata: options.about.metadata,
        blobs: options.about.blobs,
        node: process.version,
      },
    }),
  );

  scope.get<{ Querystring: { userId?: string } }>(
    "/tokens",
    { config: { summary: "List access tokens (administrators)", authz: ADMINS_ONLY } },
    async (request) => {
      const userId =
        typeof request.query.userId === "string" && request.query.userId !== "" ? request.query.userId : undefined;
      const tokens = await options.identities.listTokens(userId !== undefined ? { userId } : {});
      return { tokens: tokens.map(presentToken), authMode: options.authMode };
    },
  );

  scope.post(
    "/tokens",
    {
      config: {
        summary: "Create an access token (administrators)",
        authz: ADMINS_ONLY,
        audit: { action: "token.create", target: (_p, body, answer) => objectAt(answer, "token").id ?? body.userId },
      },
    },
    async (request, reply) => {
      if (options.authMode !== "tokens") {
        throw new HubError(
          "BadRequest",
          `This hub runs with --auth ${options.authMode}: hub tokens would not be accepted by it. Start it with --auth tokens to use them.`,
        );
      }
      const body = parseBody(createTokenBody, request.body, "Cannot create the token.");
      let lifetime: number | undefined;
      try {
        lifetime = parseLifetime(body.expires ?? DEFAULT_LIFETIME);
      } catch (err) {
        throw new HubError("InvalidiModelsRequest", "Cannot create the token.", {
          details: [{ code: "InvalidValue", message: (err as Error).message, target: "expires" }],
        });
      }
      const now = new Date();
      const secret = newHubTokenSecret();
      const record = await options.identities.createToken({
        userId: body.userId,
        tokenHash: hashHubToken(secret),
        createdAt: now,
        ...(body.description !== undefined && body.description.trim() !== ""
          ? { description: body.description.trim() }
          : {}),
        ...(lifetime !== undefined ? { expiresAt: new Date(now.getTime() + lifetime) } : {}),
      });
      // The secret is in this answer only: the hub keeps its hash.
      return reply
        .code(201)
        .header("cache-control", "no-store")
        .send({ token: presentToken(record), secret });
    },
  );

  scope.delete<{ Params: { tokenId: string } }>(
    "/tokens/:tokenId",
    {
      config: {
        summary: "Revoke an access token (administrators)",
        authz: ADMINS_ONLY,
        audit: { action: "token.revoke", target: (p) => p.tokenId },
      },
    },
    async (request) => {
      const revoked = await options.identities.revokeToken(request.params.tokenId);
      if (!revoked) throw new HubError("NotFound", `There is no token with id '${request.params.tokenId}'.`);
      return { token: presentToken(revoked) };
    },
  );

  scope.get(
    "/storage",
    { config: { summary: "Storage use per iModel and hub-wide (administrators)", authz: ADMINS_ONLY } },
    async () => {
      const use = await measureStorage(options.blobs);
      const iModels = await Promise.all(
        use.iModels.map(async (u) => {
          const known = await options.iModelOf(u.iModelId).catch(() => undefined);
          return { ...u, name: known?.name ?? null, iTwinId: known?.iTwinId ?? null };
        }),
      );
      return { storage: { ...use, iModels } };
    },
  );

  scope.get(
    "/jobs",
    { config: { summary: "Background jobs by kind and state (administrators)", authz: ADMINS_ONLY } },
    async () => ({ jobs: await options.jobs.countByKindAndState() }),
  );
};

function presentToken(token: AccessTokenRecord) {
  return {
    id: token.id,
    userId: token.userId,
    description: token.description,
    createdDateTime: token.createdAt,
    expiresDateTime: token.expiresAt,
    revokedDateTime: token.revokedAt,
    lastUsedDateTime: token.lastUsedAt,
  };
}
