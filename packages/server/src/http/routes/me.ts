// `GET /me`: who the hub takes the caller to be, in every auth mode. The web UI signs in with it (a token the hub
// refuses is refused at sign-in, not after the first page) and shows its answer in the header; scripts use it to
// check a token. modelhub's own (the cloud has no such route); it reveals nothing but the caller's own identity.
import type { FastifyPluginAsync } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import type { Actor } from "../../domain/context.js";
import type { AuthMode } from "../authn/authenticator.js";

/** What a hub knows of a user's profile (the identity store's profiles: names and email that tokens carried). */
export interface ProfileSource {
  getProfile(
    userId: string,
  ): Promise<{ displayName?: string; givenName?: string; surname?: string; email?: string } | undefined>;
}

export interface MeRouteOptions {
  access: AccessService;
  authMode: AuthMode;
  profiles?: ProfileSource;
}

/** The answer of `GET /me`. */
export interface MeAnswer {
  user: { id: string; displayName: string; givenName: string | null; surname: string | null; email: string | null };
  authMode: AuthMode;
  /** Organization administrator (`--admin`), or everyone in open mode (which enforces no permission). */
  administrator: boolean;
  /** When the token stops working (ISO 8601), when it says. */
  expiresAt: string | null;
  application: { id: string; name: string } | null;
}

/** Registered under the prefix `/me` in an authenticated scope (rule "authenticated": the caller's own identity). */
export const meRoutes: FastifyPluginAsync<MeRouteOptions> = async (scope, { access, authMode, profiles }) => {
  scope.get(
    "/",
    {
      config: {
        summary: "Who the caller is (the web UI's header; modelhub)",
        authz: { kind: "authenticated", why: "the caller's own identity" },
      },
    },
    async (request) => {
      return describeActor(request.actor, {
        authMode,
        administrator: access.policy.everyoneMayDoEverything || access.isAdmin(request.actor),
        profiles,
      });
    },
  );
};

async function describeActor(
  actor: Actor,
  context: { authMode: AuthMode; administrator: boolean; profiles: ProfileSource | undefined },
): Promise<MeAnswer> {
  // Claims of this token first (oidc), then what the hub stored of the user (tokens mode has no claims).
  const stored =
    actor.displayName || actor.email
      ? undefined
      : await context.profiles?.getProfile(actor.userId).catch(() => undefined);
  const givenName = actor.givenName ?? stored?.givenName ?? null;
  const surname = actor.surname ?? stored?.surname ?? null;
  const named = [givenName, surname].filter(Boolean).join(" ");
  return {
    user: {
      id: actor.userId,
      displayName: actor.displayName || stored?.displayName || named || actor.email || stored?.email || actor.userId,
      givenName,
      surname,
      email: actor.email ?? stored?.email ?? null,
    },
    authMode: context.authMode,
    administrator: context.administrator,
    expiresAt: actor.expiresAt === undefined ? null : new Date(actor.expiresAt).toISOString(),
    application:
      actor.applicationId === undefined
        ? null
        : { id: actor.applicationId, name: actor.applicationName ?? actor.applicationId },
  };
}
