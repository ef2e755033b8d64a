import { randomUUID } from "node:crypto";
import type {
  AccessTokenRecord,
  IdentityStore,
  NewAccessToken,
  NewUserProfile,
  UserProfile,
} from "../../ports/identity-store.js";
import type { ProfileRow, TokenRow } from "./identity-rows.js";
import { TOKEN_COLUMNS, toProfile, toToken } from "./identity-rows.js";
import type { SideDatabase } from "./side-database.js";

/**
 * Tables `access_tokens` and `user_profiles` of the metadata database, for SQLite and PostgreSQL alike. Every method
 * is one statement, so each is atomic on its own; nothing is cached, so a revocation committed by any node (or by
 * `modelhub tokens revoke` in another process) is seen by the next lookup everywhere.
 */
export class SqlIdentityStore implements IdentityStore {
  constructor(private readonly db: SideDatabase) {}

  async createToken(token: NewAccessToken): Promise<AccessTokenRecord> {
    const createdAt = (token.createdAt ?? new Date()).toISOString();
    const row = await this.db.session.get<TokenRow>(
      `INSERT INTO access_tokens (id, user_id, description, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${TOKEN_COLUMNS}`,
      randomUUID(),
      token.userId,
      token.description ?? null,
      token.tokenHash,
      createdAt,
      token.expiresAt?.toISOString() ?? null,
    );
    return toToken(row!);
  }

  async getToken(id: string): Promise<AccessTokenRecord | undefined> {
    const row = await this.db.session.get<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE id = ?`, id);
    return row && toToken(row);
  }

  async listTokens(filter: { userId?: string } = {}): Promise<AccessTokenRecord[]> {
    // The insertion order breaks ties between tokens created in the same millisecond.
    const order = `ORDER BY created_at, ${this.db.dialect.insertionOrder}`;
    const rows =
      filter.userId === undefined
        ? await this.db.session.all<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM access_tokens ${order}`)
        : await this.db.session.all<TokenRow>(
            `SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE user_id = ? ${order}`,
            filter.userId,
          );
    return rows.map(toToken);
  }

  async findTokenByHash(tokenHash: string): Promise<AccessTokenRecord | undefined> {
    const row = await this.db.session.get<TokenRow>(
      `SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = ?`,
      tokenHash,
    );
    return row && toToken(row);
  }

  async revokeToken(id: string, at: Date = new Date()): Promise<AccessTokenRecord | undefined> {
    const row = await this.db.session.get<TokenRow>(
      `UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING ${TOKEN_COLUMNS}`,
      at.toISOString(),
      id,
    );
    return row && toToken(row);
  }

  async touchToken(id: string, at: Date): Promise<void> {
    const iso = at.toISOString();
    await this.db.session.run(
      "UPDATE access_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
      iso,
      id,
      iso,
    );
  }

  async upsertProfile(profile: NewUserProfile, at: Date = new Date()): Promise<UserProfile> {
    const row = await this.db.session.get<ProfileRow>(
      `INSERT INTO user_profiles (user_id, display_name, given_name, surname, email, updated_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, given_name = excluded.given_name, surname = excluded.surname,
          email = excluded.email, updated_at = excluded.updated_at
        RETURNING *`,
      profile.userId,
      profile.displayName ?? null,
      profile.givenName ?? null,
      profile.surname ?? null,
      profile.email ?? null,
      at.toISOString(),
    );
    return toProfile(row!);
  }

  async getProfile(userId: string): Promise<UserProfile | undefined> {
    const row = await this.db.session.get<ProfileRow>("SELECT * FROM user_profiles WHERE user_id = ?", userId);
    return row && toProfile(row);
  }

  async listProfiles(userIds: readonly string[]): Promise<UserProfile[]> {
    if (userIds.length === 0) {
      this.db.assertOpen();
      return [];
    }
    const rows = await this.db.session.all<ProfileRow>(
      `SELECT * FROM user_profiles WHERE user_id IN (SELECT value FROM ${this.db.dialect.stringList("ids")})`,
      JSON.stringify(userIds),
    );
    return rows.map(toProfile);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
