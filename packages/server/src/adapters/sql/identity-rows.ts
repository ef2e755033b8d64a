import type { AccessTokenRecord, UserProfile } from "../../ports/identity-store.js";

/** A row of table `access_tokens` as read with {@link TOKEN_COLUMNS} (never the hash). */
export interface TokenRow {
  id: string;
  user_id: string;
  description: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** A row of table `user_profiles`. */
export interface ProfileRow {
  user_id: string;
  display_name: string | null;
  given_name: string | null;
  surname: string | null;
  email: string | null;
  updated_at: string;
}

/** The columns of {@link TokenRow}: every statement that returns a token names them, so `token_hash` never leaves the database. */
export const TOKEN_COLUMNS = "id, user_id, description, created_at, expires_at, revoked_at, last_used_at";

export function toToken(row: TokenRow): AccessTokenRecord {
  return {
    id: row.id,
    userId: row.user_id,
    description: row.description,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** A profile without the names the user has not given (NULL columns become absent fields). */
export function toProfile(row: ProfileRow): UserProfile {
  const profile: UserProfile = { userId: row.user_id, updatedAt: row.updated_at };
  if (row.display_name !== null) profile.displayName = row.display_name;
  if (row.given_name !== null) profile.givenName = row.given_name;
  if (row.surname !== null) profile.surname = row.surname;
  if (row.email !== null) profile.email = row.email;
  return profile;
}
