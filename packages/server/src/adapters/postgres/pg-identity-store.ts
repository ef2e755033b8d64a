import { randomUUID } from "node:crypto";
import type { AccessTokenRecord, IdentityStore, NewAccessToken, NewUserProfile, UserProfile } from "../../ports/identity-store.js";
import type { ProfileRow, TokenRow } from "../sql/identity-rows.js";
import { TOKEN_COLUMNS, toProfile, toToken } from "../sql/identity-rows.js";
import type { PgPool } from "./pg-database.js";
import { PgSide } from "./pg-side.js";

/**
 * Tables `access_tokens` and `user_profiles` of the hub's PostgreSQL database. Every method is one statement, so
 * each is atomic on its own; a revocation committed by any node (or `modelhub tokens revoke`) is seen by the next
 * lookup on every node, because nothing is cached.
 */
export class PgIdentityStore implements IdentityStore {
  readonly #side: PgSide;

  private constructor(pool: PgPool) {
    this.#side = new PgSide(pool, "identity store");
  }

  /** A store on `pool` (migrated by migratePg). Closing the store leaves the pool open. */
  static open(pool: PgPool): PgIdentityStore {
    return new PgIdentityStore(pool);
  }

  async createToken(token: NewAccessToken): Promise<AccessTokenRecord> {
    const createdAt = (token.createdAt ?? new Date()).toISOString();
    const row = await this.#side.query<TokenRow>(
      `INSERT INTO access_tokens (id, user_id, description, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${TOKEN_COLUMNS}`,
      [randomUUID(), token.userId, token.description ?? null, token.tokenHash, createdAt, token.expiresAt?.toISOString() ?? null],
    );
    return toToken(row.rows[0]!);
  }

  async getToken(id: string): Promise<AccessTokenRecord | undefined> {
    const row = await this.#side.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE id = $1`, [id]);
    return row.rows[0] && toToken(row.rows[0]);
  }

  async listTokens(filter: { userId?: string } = {}): Promise<AccessTokenRecord[]> {
    // seq breaks ties between tokens created in the same millisecond (SQLite uses its rowid).
    const rows =
      filter.userId === undefined
        ? await this.#side.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM access_tokens ORDER BY created_at, seq`)
        : await this.#side.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE user_id = $1 ORDER BY created_at, seq`, [filter.userId]);
    return rows.rows.map(toToken);
  }

  async findTokenByHash(tokenHash: string): Promise<AccessTokenRecord | undefined> {
    const row = await this.#side.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = $1`, [tokenHash]);
    return row.rows[0] && toToken(row.rows[0]);
  }

  async revokeToken(id: string, at: Date = new Date()): Promise<AccessTokenRecord | undefined> {
    const row = await this.#side.query<TokenRow>(
      `UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING ${TOKEN_COLUMNS}`,
      [at.toISOString(), id],
    );
    return row.rows[0] && toToken(row.rows[0]);
  }

  async touchToken(id: string, at: Date): Promise<void> {
    const iso = at.toISOString();
    await this.#side.query("UPDATE access_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)", [iso, id]);
  }

  async upsertProfile(profile: NewUserProfile, at: Date = new Date()): Promise<UserProfile> {
    const row = await this.#side.query<ProfileRow>(
      `INSERT INTO user_profiles (user_id, display_name, given_name, surname, email, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, given_name = excluded.given_name, surname = excluded.surname,
          email = excluded.email, updated_at = excluded.updated_at
        RETURNING *`,
      [profile.userId, profile.displayName ?? null, profile.givenName ?? null, profile.surname ?? null, profile.email ?? null, at.toISOString()],
    );
    return toProfile(row.rows[0]!);
  }

  async getProfile(userId: string): Promise<UserProfile | undefined> {
    const row = await this.#side.query<ProfileRow>("SELECT * FROM user_profiles WHERE user_id = $1", [userId]);
    return row.rows[0] && toProfile(row.rows[0]);
  }

  async listProfiles(userIds: readonly string[]): Promise<UserProfile[]> {
    if (userIds.length === 0) {
      this.#side.assertOpen();
      return [];
    }
    const rows = await this.#side.query<ProfileRow>("SELECT * FROM user_profiles WHERE user_id = ANY($1::text[])", [userIds]);
    return rows.rows.map(toProfile);
  }

  async close(): Promise<void> {
    this.#side.close();
  }
}
