/**
 * Who the hub knows: hub-issued access tokens (auth mode `tokens`; only a hash of each secret is kept) and the
 * profiles (names, email) that verified tokens carried, shown by the users endpoints.
 */

/** A hub-issued token as stored: never the secret itself. Times are ISO 8601 strings. */
export interface AccessTokenRecord {
  id: string;
  userId: string;
  description: string | null;
  createdAt: string;
  /** null: never expires. */
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface NewAccessToken {
  userId: string;
  description?: string;
  /** sha256 of the secret (hex); the secret itself is never stored. */
  tokenHash: string;
  expiresAt?: Date;
  /** Defaults to now. */
  createdAt?: Date;
}

export interface UserProfile {
  userId: string;
  displayName?: string;
  givenName?: string;
  surname?: string;
  email?: string;
  /** ISO 8601; set by the store. */
  updatedAt: string;
}

export type NewUserProfile = Omit<UserProfile, "updatedAt">;

export interface IdentityStore {
  /** Stores a new token with a fresh random id; a hash that is already stored is refused (throws). */
  createToken(token: NewAccessToken): Promise<AccessTokenRecord>;
  getToken(id: string): Promise<AccessTokenRecord | undefined>;
  /** Oldest first; only `userId`'s when given. */
  listTokens(filter?: { userId?: string }): Promise<AccessTokenRecord[]>;
  /** The token whose secret hashes to `tokenHash`, revoked and expired ones included (the caller decides). */
  findTokenByHash(tokenHash: string): Promise<AccessTokenRecord | undefined>;
  /** Marks the token revoked (the first revocation time is kept); undefined if there is no such token. */
  revokeToken(id: string, at?: Date): Promise<AccessTokenRecord | undefined>;
  /** Records that the token was just used. */
  touchToken(id: string, at: Date): Promise<void>;

  /** Creates or replaces the user's profile (fields not given become empty). */
  upsertProfile(profile: NewUserProfile, at?: Date): Promise<UserProfile>;
  getProfile(userId: string): Promise<UserProfile | undefined>;
  /** The profiles of those of `userIds` that have one, in no particular order. */
  listProfiles(userIds: readonly string[]): Promise<UserProfile[]>;

  close(): Promise<void>;
}
