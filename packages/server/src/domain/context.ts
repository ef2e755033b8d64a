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
}

/** Time source, replaceable in tests. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
