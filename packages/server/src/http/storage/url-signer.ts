import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { link, mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";

export type Permission = "r" | "w";

const SECRET_BYTES = 32;

/** Marks links whose MAC input is the length-prefixed form (see {@link macInput}); links without it are the old form. */
const SIGNATURE_VERSION = "2";

/** Control characters: no key or nonce of a link the hub hands out has one (the old MAC input is ambiguous with them). */
const CONTROL = /\p{Cc}/u;

export interface SignedLink {
  ok: true;
  /** The most bytes the link may write (its `sz`), when it names one. */
  maxBytes?: number;
  /** The user the link was issued to (its `su`), when it names one: links signed before signature version 2 do not. */
  user?: string;
}

/**
 * Signs storage URLs: storage clients send no Authorization header (imodels-api.md §7.7), so the right to read
 * or write one blob until a deadline travels in the URL as an HMAC, with the user it was issued to (upload slots are
 * shared per user, and the audit log names who wrote).
 */
export class UrlSigner {
  constructor(private readonly secret: Buffer) {}

  /**
   * Query string (without "?") granting `permission` on `key` for `ttlSeconds`; an upload link may also name the
   * most bytes it may write (`sz`), and any link the user it was issued to (`su`), both signed with the rest.
   */
  sign(key: string, permission: Permission, ttlSeconds: number, maxBytes?: number, user?: string): string {
    const expiry = String(Math.floor(Date.now() / 1000 + ttlSeconds));
    const size = maxBytes === undefined ? undefined : String(maxBytes);
    // A signed nonce makes every link a new URL, as the cloud's are: clients retry an expired download by asking
    // for a link again and would otherwise get the very same one back within the same second.
    const nonce = randomBytes(9).toString("base64url");
    const fields: LinkFields = { key, permission, expiry, size, nonce, user };
    const sig = this.#hmac(macInput(fields));
    const userPart = user === undefined ? "" : `&su=${encodeURIComponent(user)}`;
    return `sgv=${SIGNATURE_VERSION}&se=${expiry}&sp=${permission}${size === undefined ? "" : `&sz=${size}`}${userPart}&sn=${nonce}&sig=${sig}`;
  }

  /**
   * Whether `query` (the parsed query string of a request for `key`) carries a valid, unexpired signature granting
   * `needed`, and the size limit and user it signed, if any. The signature is checked before anything else is
   * believed, in constant time.
   */
  verify(
    key: string,
    query: Record<string, string | undefined>,
    needed: Permission,
  ): SignedLink | { ok: false; reason: string } {
    const { sgv, se, sp, sz, sn, su, sig } = query;
    if (!se || !sp || !sig) return { ok: false, reason: "The URL carries no signature." };
    let input: string;
    if (sgv === SIGNATURE_VERSION) {
      input = macInput({ key, permission: sp, expiry: se, size: sz, nonce: sn, user: su });
    } else if (sgv === undefined && su === undefined && !CONTROL.test(key) && !CONTROL.test(sn ?? "")) {
      // A link handed out before the length-prefixed form (they expire within --link-ttl): its input is unambiguous
      // as long as neither the key nor the nonce holds a line break, which no key or nonce of the hub's ever did.
      input = legacyMacInput(key, sp, se, sz, sn);
    } else {
      return { ok: false, reason: "The signature does not match." };
    }
    const expected = Buffer.from(this.#hmac(input));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      return { ok: false, reason: "The signature does not match." };
    if (!/^\d+$/.test(se) || Number(se) * 1000 < Date.now()) return { ok: false, reason: "The URL has expired." };
    if (sp !== needed) return { ok: false, reason: `The URL grants '${sp}', not '${needed}'.` };
    if (sz !== undefined && !/^\d{1,15}$/.test(sz))
      return { ok: false, reason: "The URL's size limit is not a number." };
    const link: SignedLink = { ok: true };
    if (sz !== undefined) link.maxBytes = Number(sz);
    if (su !== undefined) link.user = su;
    return link;
  }

  #hmac(input: string): string {
    return createHmac("sha256", this.secret).update(input).digest("base64url");
  }
}

interface LinkFields {
  key: string;
  permission: string;
  expiry: string;
  size: string | undefined;
  nonce: string | undefined;
  user: string | undefined;
}

/**
 * What a link's HMAC covers: every field as `<UTF-8 byte length>:<value>` (`-` when absent), in a fixed order after
 * a version tag, so no two different sets of fields give the same input whatever characters they hold.
 */
function macInput(fields: LinkFields): string {
  const part = (value: string | undefined) => (value === undefined ? "-" : `${Buffer.byteLength(value)}:${value}`);
  return [
    `modelhub-link-v${SIGNATURE_VERSION}`,
    fields.permission,
    fields.expiry,
    fields.key,
    fields.size,
    fields.nonce,
    fields.user,
  ]
    .map(part)
    .join("");
}

/** The MAC input of links made before signature version 2 (fields joined by line breaks). */
function legacyMacInput(key: string, permission: string, expiry: string, size?: string, nonce?: string): string {
  return `${permission}\n${expiry}\n${key}${size === undefined ? "" : `\nsz=${size}`}${nonce === undefined ? "" : `\nsn=${nonce}`}`;
}

/**
 * The signing secret lives in the data directory (`secret.key`, 32 random bytes, mode 0600), so links survive a
 * restart. Made atomically: two processes starting at once end up with the same secret, and a crash never leaves
 * a half-written file behind.
 */
export async function loadOrCreateSecret(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, "secret.key");
  const existing = await readSecret(path);
  if (existing) return existing;
  await mkdir(dataDir, { recursive: true });
  const temp = join(dataDir, `.secret.key.${process.pid}.${randomBytes(6).toString("hex")}`);
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(randomBytes(SECRET_BYTES));
    await handle.chmod(0o600); // whatever the umask
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path); // fails if another process was first; then its secret wins
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") {
      await rename(temp, path); // a filesystem without hard links: still never a half-written file
    } else if (code !== "EEXIST") {
      await unlink(temp);
      throw err;
    }
  }
  await unlink(temp).catch(() => undefined);
  const secret = await readSecret(path);
  if (!secret) throw new Error(`${path} vanished while it was being created.`);
  return secret;
}

async function readSecret(path: string): Promise<Buffer | undefined> {
  let secret: Buffer;
  try {
    secret = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (secret.length < SECRET_BYTES)
    throw new Error(
      `${path} holds ${secret.length} bytes; a signing secret needs at least ${SECRET_BYTES}. Remove the file to make a new one (links handed out so far stop working).`,
    );
  return secret;
}

/** Absolute storage URL for a blob key (keys start with `files/`). */
export function storageUrl(
  origin: string,
  key: string,
  signer: UrlSigner,
  permission: Permission,
  ttlSeconds: number,
  maxBytes?: number,
  user?: string,
): string {
  const path = key.split("/").map(encodeURIComponent).join("/");
  return `${origin}/storage/modelhub/${path}?${signer.sign(key, permission, ttlSeconds, maxBytes, user)}`;
}
