/** Who is asking: the user id comes from the access token (its `sub` claim, or the token text in open mode). */
export interface Actor {
  userId: string;
}

/** Time source, replaceable in tests. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
