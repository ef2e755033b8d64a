import { join } from "node:path";
import { SqliteIdentityStore } from "../../src/adapters/sqlite/sqlite-identity-store.js";
import type { ServerConfig } from "../../src/config.js";
import { hashHubToken, newHubTokenSecret } from "../../src/http/authn/hub-tokens.js";
import type { TestHub } from "./hub.js";
import { startTestHub } from "./hub.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A hub in `tokens` mode (permissions enforced) with one real hub-issued token per user. */
export interface SecuredHub {
  hub: TestHub;
  tokens: Map<string, string>;
  /** The hub as seen by `user`: every call (also those of the flows helpers) carries that user's token. */
  as(user: string): TestHub;
  token(user: string): string;
  close(): Promise<void>;
}

export async function startSecuredHub(
  users: readonly string[],
  overrides: Partial<ServerConfig> = {},
): Promise<SecuredHub> {
  const hub = await startTestHub({ auth: { mode: "tokens" }, ...overrides });
  const identities = SqliteIdentityStore.open(join(hub.dataDir, "metadata.db"));
  const tokens = new Map<string, string>();
  try {
    for (const user of users) {
      const secret = newHubTokenSecret();
      await identities.createToken({ userId: user, tokenHash: hashHubToken(secret), description: "test" });
      tokens.set(user, secret);
    }
  } finally {
    await identities.close();
  }
  const token = (user: string) => {
    const t = tokens.get(user);
    if (!t) throw new Error(`no token for ${user}`);
    return t;
  };
  const as = (user: string): TestHub => ({
    ...hub,
    api: (method, path, options = {}) =>
      hub.api(method, path, { ...options, user: options.user === null ? null : token(options.user ?? user) }),
  });
  return { hub, tokens, as, token, close: () => hub.close() };
}

/** Calls `/accesscontrol/…` as `user` (tokens resolved by `as`). */
export function accessControl(hub: TestHub) {
  const root = hub.url;
  return <T = Json>(method: string, path: string, body?: unknown) =>
    hub.api<T>(method, `${root}/accesscontrol${path}`, body === undefined ? {} : { body });
}
