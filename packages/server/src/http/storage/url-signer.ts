import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export type Permission = "r" | "w";

/**
 * Signs storage URLs: storage clients send no Authorization header (imodels-api.md §7.7), so the right to read
 * or write one blob until a deadline travels in the URL as an HMAC.
 */
export class UrlSigner {
  constructor(private readonly secret: Buffer) {}

  /** Query string (without "?") granting `permission` on `key` for `ttlSeconds`. */
  sign(key: string, permission: Permission, ttlSeconds: number): string {
    const expiry = Math.floor(Date.now() / 1000) + ttlSeconds;
    return `se=${expiry}&sp=${permission}&sig=${this.#mac(key, permission, String(expiry))}`;
  }

  verify(key: string, query: Record<string, string | undefined>, needed: Permission): { ok: true } | { ok: false; reason: string } {
    const { se, sp, sig } = query;
    if (!se || !sp || !sig) return { ok: false, reason: "The URL carries no signature." };
    const expected = Buffer.from(this.#mac(key, sp, se));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: "The signature does not match." };
    if (!/^\d+$/.test(se) || Number(se) * 1000 < Date.now()) return { ok: false, reason: "The URL has expired." };
    if (sp !== needed) return { ok: false, reason: `The URL grants '${sp}', not '${needed}'.` };
    return { ok: true };
  }

  #mac(key: string, permission: string, expiry: string): string {
    return createHmac("sha256", this.secret).update(`${permission}\n${expiry}\n${key}`).digest("base64url");
  }
}

/** The signing secret lives in the data directory, so links survive a restart. */
export async function loadOrCreateSecret(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, "secret.key");
  try {
    const secret = await readFile(path);
    if (secret.length >= 32) return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secret = randomBytes(32);
  await writeFile(path, secret, { mode: 0o600 });
  await chmod(path, 0o600);
  return secret;
}

/** Absolute storage URL for a blob key (keys start with `files/`). */
export function storageUrl(origin: string, key: string, signer: UrlSigner, permission: Permission, ttlSeconds: number): string {
  const path = key.split("/").map(encodeURIComponent).join("/");
  return `${origin}/storage/modelhub/${path}?${signer.sign(key, permission, ttlSeconds)}`;
}
