/**
 * Who is asking, as established by the hub's authenticator (open mode: the token's `sub` claim or text; `oidc`: a
 * verified JWT; `tokens`: a hub-issued token). Profile fields come from the token's claims when it has them.
 */
export interface Actor {
  userId: string;
  displayName?: string;
  givenName?: string;
  surname?: string;
  email?: string;
  /** The calling application (the token's client id, `azp`/`client_id`), when known. */
  applicationId?: string;
  /** Its display name, when the caller said one (see http/application.ts); the id stands in otherwise. */
  applicationName?: string;
  /** When the token stops being valid (ms since the epoch), when it says: streams that outlive it are ended then. */
  expiresAt?: number;
}

/** The application recorded on what the actor creates (briefcases, changesets, named versions); null if unknown. */
export function applicationOf(actor: Actor): { id: string; name: string } | null {
  return actor.applicationId === undefined
    ? null
    : { id: actor.applicationId, name: actor.applicationName ?? actor.applicationId };
}

/** Time source, replaceable in tests. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
