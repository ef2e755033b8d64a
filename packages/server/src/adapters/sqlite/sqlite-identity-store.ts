import { randomUUID } from "node:crypto";
import type { Statement } from "better-sqlite3";
import type { AccessTokenRecord, IdentityStore, NewAccessToken, NewUserProfile, UserProfile } from "../../ports/identity-store.js";
import type { ProfileRow, TokenRow } from "../sql/identity-rows.js";
import { TOKEN_COLUMNS, toProfile, toToken } from "../sql/identity-rows.js";
import type { SqliteDatabase } from "./sqlite-database.js";
import { SideConnection } from "./sqlite-database.js";

/**
 * Tables `access_tokens` and `user_profiles` of the metadata database (migration 3). Its own connection, like the
 * job queue's: every statement is short and synchronous, and writes wait for the lock asynchronously
 * ({@link withBusyRetry}) so a metadata transaction open across awaits is never stalled. Reads see every committed
 * write at once (WAL), which is what makes a revocation take effect on the next request — also when
 * `modelhub tokens revoke` runs in another process.
 */
export class SqliteIdentityStore implements IdentityStore {
  readonly #connection: SideConnection;
  readonly #db: SqliteDatabase;
  readonly #insertToken: Statement;
  readonly #tokenById: Statement;
  readonly #tokenByHash: Statement;
  readonly #allTokens: Statement;
  readonly #tokensOf: Statement;
  readonly #revoke: Statement;
  readonly #touch: Statement;
  readonly #upsertProfile: Statement;
  readonly #profile: Statement;
  readonly #profiles: Statement;

  private constructor(path: string) {
    this.#connection = new SideConnection(path, "identity store");
    this.#db = this.#connection.db;
    const db = this.#db;
    this.#insertToken = db.prepare(
      `INSERT INTO access_tokens (id, user_id, description, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${TOKEN_COLUMNS}`,
    );
    this.#tokenById = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE id = ?`);
    this.#tokenByHash = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE token_hash = ?`);
    this.#allTokens = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM access_tokens ORDER BY created_at, rowid`);
    this.#tokensOf = db.prepare(`SELECT ${TOKEN_COLUMNS} FROM access_tokens WHERE user_id = ? ORDER BY created_at, rowid`);
    this.#revoke = db.prepare(`UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING ${TOKEN_COLUMNS}`);
    this.#touch = db.prepare("UPDATE access_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)");
    this.#upsertProfile = db.prepare(
      `INSERT INTO user_profiles (user_id, display_name, given_name, surname, email, updated_at) VALUES (@userId, @displayName, @givenName, @surname, @email, @updatedAt)
        ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, given_name = excluded.given_name, surname = excluded.surname,
          email = excluded.email, updated_at = excluded.updated_at
        RETURNING *`,
    );
    this.#profile = db.prepare("SELECT * FROM user_profiles WHERE user_id = ?");
    this.#profiles = db.prepare("SELECT * FROM user_profiles WHERE user_id IN (SELECT value FROM json_each(?))");
  }

  /** Opens the store on the database file at `path` (the metadata store's file), bringing its schema up to date. */
  static open(path: string): SqliteIdentityStore {
    return new SqliteIdentityStore(path);
  }

  async createToken(token: NewAccessToken): Promise<AccessTokenRecord> {
    const createdAt = (token.createdAt ?? new Date()).toISOString();
    return this.#write(() =>
      toToken(this.#insertToken.get(randomUUID(), token.userId, token.description ?? null, token.tokenHash, createdAt, token.expiresAt?.toISOString() ?? null) as TokenRow),
    );
  }

  async getToken(id: string): Promise<AccessTokenRecord | undefined> {
    this.#assertOpen();
    const row = this.#tokenById.get(id) as TokenRow | undefined;
    return row && toToken(row);
  }

  async listTokens(filter: { userId?: string } = {}): Promise<AccessTokenRecord[]> {
    this.#assertOpen();
    const rows = (filter.userId === undefined ? this.#allTokens.all() : this.#tokensOf.all(filter.userId)) as TokenRow[];
    return rows.map(toToken);
  }

  async findTokenByHash(tokenHash: string): Promise<AccessTokenRecord | undefined> {
    this.#assertOpen();
    const row = this.#tokenByHash.get(tokenHash) as TokenRow | undefined;
    return row && toToken(row);
  }

  async revokeToken(id: string, at: Date = new Date()): Promise<AccessTokenRecord | undefined> {
    return this.#write(() => {
      const row = this.#revoke.get(at.toISOString(), id) as TokenRow | undefined;
      return row && toToken(row);
    });
  }

  async touchToken(id: string, at: Date): Promise<void> {
    const iso = at.toISOString();
    await this.#write(() => this.#touch.run(iso, id, iso));
  }

  async upsertProfile(profile: NewUserProfile, at: Date = new Date()): Promise<UserProfile> {
    const row = await this.#write(
      () =>
        this.#upsertProfile.get({
          userId: profile.userId,
          displayName: profile.displayName ?? null,
          givenName: profile.givenName ?? null,
          surname: profile.surname ?? null,
          email: profile.email ?? null,
          updatedAt: at.toISOString(),
        }) as ProfileRow,
    );
    return toProfile(row);
  }

  async getProfile(userId: string): Promise<UserProfile | undefined> {
    this.#assertOpen();
    const row = this.#profile.get(userId) as ProfileRow | undefined;
    return row && toProfile(row);
  }

  async listProfiles(userIds: readonly string[]): Promise<UserProfile[]> {
    this.#assertOpen();
    if (userIds.length === 0) return [];
    return (this.#profiles.all(JSON.stringify(userIds)) as ProfileRow[]).map(toProfile);
  }

  async close(): Promise<void> {
    this.#connection.close();
  }

  async #write<T>(step: () => T): Promise<T> {
    return this.#connection.write(step);
  }

  #assertOpen(): void {
    this.#connection.assertOpen();
  }
}
