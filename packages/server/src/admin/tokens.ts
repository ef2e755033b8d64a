// `modelhub tokens create|list|revoke`: hub-issued access tokens (auth mode `tokens`), managed directly in the hub's
// metadata database: the data directory's SQLite file, or the PostgreSQL database nodes share (`--metadata`). Safe while the hub serves it (SQLite WAL; the hub reads
// tokens on every request, so a revocation applies to the next one).
import { resolve } from "node:path";
import { BackendRefusal, openIdentityStore, parseMetadataSpec } from "../adapters/registry.js";
import { ConfigError } from "../config-error.js";
import { hashHubToken, newHubTokenSecret, parseLifetime } from "../http/authn/hub-tokens.js";
import type { AccessTokenRecord, IdentityStore } from "../ports/identity-store.js";
import { fail, stderr, stdout, tableLines, timestamp } from "./terminal.js";
import { tokensModeWarning } from "./serve-record.js";

/** A refusal the administrator can fix (bad argument, unknown token): exit code 2. */
export class TokenCommandError extends Error {}

import { DEFAULT_TOKEN_LIFETIME } from "./token-lifetime.js";

export { DEFAULT_TOKEN_LIFETIME };

export interface CreatedToken extends AccessTokenRecord {
  /** The secret: shown once, never stored. */
  token: string;
}

/** Where the tokens are: the data directory's SQLite file, or the PostgreSQL database of `--metadata` (several nodes). */
export interface TokenStoreLocation {
  dataDir: string;
  /** `--metadata`: sqlite (default) or a postgres:// URL. */
  metadata?: string;
}

export async function createToken(
  options: TokenStoreLocation & { userId: string; description?: string; expires?: string; now?: Date },
): Promise<CreatedToken> {
  const userId = options.userId.trim();
  if (userId === "" || userId.length > 1024 || [...userId].some((c) => c.charCodeAt(0) < 0x20))
    throw new TokenCommandError(
      "--user must be a user id (what the API shows as the user, e.g. alice or alice@example.com).",
    );
  let lifetime: number | undefined;
  try {
    lifetime = parseLifetime(options.expires ?? DEFAULT_TOKEN_LIFETIME);
  } catch (err) {
    throw new TokenCommandError(`--expires: ${(err as Error).message}`);
  }
  if (options.description !== undefined && options.description.length > 1000)
    throw new TokenCommandError("--description is limited to 1000 characters.");
  const now = options.now ?? new Date();
  const { store, close } = await openTokenStore(options, { create: true });
  try {
    const secret = newHubTokenSecret();
    const record = await store.createToken({
      userId,
      tokenHash: hashHubToken(secret),
      createdAt: now,
      ...(options.description !== undefined ? { description: options.description } : {}),
      ...(lifetime !== undefined ? { expiresAt: new Date(now.getTime() + lifetime) } : {}),
    });
    return { ...record, token: secret };
  } finally {
    await close();
  }
}

export async function listTokens(options: TokenStoreLocation & { userId?: string }): Promise<AccessTokenRecord[]> {
  return withExistingStore(options, (store) =>
    store.listTokens(options.userId !== undefined ? { userId: options.userId } : {}),
  );
}

export async function revokeToken(
  options: TokenStoreLocation & { id: string; now?: Date },
): Promise<AccessTokenRecord> {
  const revoked = await withExistingStore(options, (store) => store.revokeToken(options.id, options.now));
  if (!revoked) throw new TokenCommandError(`There is no token with id '${options.id}' (see modelhub tokens list).`);
  return revoked;
}

async function openTokenStore(
  location: TokenStoreLocation,
  { create }: { create: boolean },
): Promise<{ store: IdentityStore; close(): Promise<void> }> {
  try {
    return await openIdentityStore(parseMetadataSpec(location.metadata ?? "sqlite"), location.dataDir, { create });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof BackendRefusal) throw new TokenCommandError(err.message);
    throw err;
  }
}

async function withExistingStore<T>(
  location: TokenStoreLocation,
  task: (store: IdentityStore) => Promise<T>,
): Promise<T> {
  const { store, close } = await openTokenStore(location, { create: false });
  try {
    return await task(store);
  } finally {
    await close();
  }
}

/** A token's state at `now`, for listings. */
export function tokenState(token: AccessTokenRecord, now: Date = new Date()): "active" | "revoked" | "expired" {
  if (token.revokedAt !== null) return "revoked";
  if (token.expiresAt !== null && Date.parse(token.expiresAt) <= now.getTime()) return "expired";
  return "active";
}

// ---- the command line: text or JSON on stdout, errors on stderr, exit 0 / 1 (failed) / 2 (refused)

async function run(command: string, json: boolean, task: () => Promise<void>): Promise<void> {
  try {
    await task();
  } catch (err) {
    const refused = err instanceof TokenCommandError;
    const message = err instanceof Error ? err.message : String(err);
    fail(`tokens ${command}`, message, refused ? 2 : 1, refused ? "UsageError" : "Failed", json);
  }
}

export function runTokensCreate(
  options: TokenStoreLocation & { user: string; description?: string; expires?: string; json: boolean },
): Promise<void> {
  return run("create", options.json, async () => {
    const created = await createToken({
      dataDir: options.dataDir,
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
      userId: options.user,
      ...(options.description !== undefined ? { description: options.description } : {}),
      ...(options.expires !== undefined ? { expires: options.expires } : {}),
    });
    // Sqlite metadata: the data directory's hub says how it runs (PostgreSQL nodes each have their own directory).
    const warning =
      (options.metadata ?? "sqlite") === "sqlite" ? await tokensModeWarning(resolve(options.dataDir)) : undefined;
    if (warning !== undefined) {
      if (options.json) stderr.json({ warning: { command: "modelhub tokens create", message: warning } });
      else stderr.line(`modelhub tokens create: warning: ${warning}`);
    }
    if (options.json) {
      stdout.json(created);
      return;
    }
    stdout.lines([
      created.token,
      "",
      `token ${created.id} for user ${created.userId}${created.description ? ` (${created.description})` : ""}, expires ${created.expiresAt ?? "never"}.`,
      "This is the only time the token is shown: modelhub keeps only its hash. Send it as 'Authorization: Bearer <token>'.",
    ]);
  });
}

export function runTokensList(options: TokenStoreLocation & { user?: string; json: boolean }): Promise<void> {
  return run("list", options.json, async () => {
    const tokens = await listTokens({
      dataDir: options.dataDir,
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
      ...(options.user !== undefined ? { userId: options.user } : {}),
    });
    const now = new Date();
    if (options.json) {
      // A list: one object per line, like every other list.
      for (const t of tokens) stdout.json({ ...t, state: tokenState(t, now) });
      return;
    }
    if (tokens.length === 0) {
      stdout.line("no tokens");
      return;
    }
    const rows = tokens.map((t) => [
      t.id,
      t.userId,
      tokenState(t, now),
      timestamp(t.createdAt),
      t.expiresAt ? timestamp(t.expiresAt) : "never",
      t.lastUsedAt ? timestamp(t.lastUsedAt) : "never",
      t.revokedAt ? timestamp(t.revokedAt) : "-",
      t.description ?? "",
    ]);
    const head = ["ID", "USER", "STATE", "CREATED", "EXPIRES", "LAST USED", "REVOKED", "DESCRIPTION"];
    stdout.lines(tableLines([head, ...rows]).map((line) => line.trimEnd()));
  });
}

export function runTokensRevoke(options: TokenStoreLocation & { id: string; json: boolean }): Promise<void> {
  return run("revoke", options.json, async () => {
    const revoked = await revokeToken({
      dataDir: options.dataDir,
      id: options.id,
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
    });
    if (options.json) stdout.json(revoked);
    else
      stdout.line(
        `token ${revoked.id} of user ${revoked.userId} revoked at ${revoked.revokedAt}; the hub refuses it from the next request on.`,
      );
  });
}
