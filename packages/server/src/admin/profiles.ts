// Saved connections (`modelhub login <url>`, like `mc alias set`): a hub's URL and a token under a name, in a file only
// the user may read. The commands that call a hub take, in order: --url/--token, MODELHUB_URL/MODELHUB_TOKEN, the
// profile named by --profile or MODELHUB_PROFILE, the default profile (the last one logged in to), then
// http://127.0.0.1:3000 (and no token).
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const DEFAULT_URL = "http://127.0.0.1:3000";

export interface Profile {
  url: string;
  token: string;
  /** When it was saved (ISO). */
  savedAt: string;
}

export interface ProfileFile {
  /** The profile used when none is named. */
  default?: string;
  profiles: Record<string, Profile>;
}

/** `$MODELHUB_CONFIG_DIR/profiles.json`, else `$XDG_CONFIG_HOME/modelhub/profiles.json`, else `~/.config/modelhub/profiles.json`. */
export function profilesPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MODELHUB_CONFIG_DIR) return join(env.MODELHUB_CONFIG_DIR, "profiles.json");
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "modelhub", "profiles.json");
}

export async function readProfiles(path = profilesPath()): Promise<ProfileFile> {
  if (!existsSync(path)) return { profiles: {} };
  const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<ProfileFile>;
  return { ...(parsed.default !== undefined ? { default: parsed.default } : {}), profiles: parsed.profiles ?? {} };
}

/** Written whole to a new file then renamed: a crash never leaves half a file; the file and its folder are the user's alone. */
export async function writeProfiles(file: ProfileFile, path = profilesPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

export function validProfileName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name);
}

/** The hub a command calls and the token it sends (see the order above). */
export async function resolveConnection(
  flags: { url?: string; token?: string; profile?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ url: string; token: string | undefined; profile?: string }> {
  // An empty variable is no setting (`MODELHUB_URL= modelhub …`).
  const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === "" ? undefined : v);
  const named = nonEmpty(flags.profile ?? env.MODELHUB_PROFILE);
  let profile: Profile | undefined;
  let profileName: string | undefined;
  const explicitUrl = nonEmpty(flags.url ?? env.MODELHUB_URL);
  const explicitToken = nonEmpty(flags.token ?? env.MODELHUB_TOKEN);
  if (named !== undefined || explicitUrl === undefined || explicitToken === undefined) {
    const file = await readProfiles(profilesPath(env));
    profileName = named ?? file.default;
    if (named !== undefined && !file.profiles[named])
      throw new Error(
        `there is no profile '${named}' (modelhub login <url> --profile ${named} saves one; modelhub profiles lists them).`,
      );
    profile = profileName !== undefined ? file.profiles[profileName] : undefined;
    // A profile's token goes only to its own hub: with another --url, the profile is not used.
    if (profile && explicitUrl !== undefined && named === undefined && originOf(explicitUrl) !== originOf(profile.url))
      profile = undefined;
  }
  return {
    url: explicitUrl ?? profile?.url ?? DEFAULT_URL,
    token: explicitToken ?? profile?.token,
    ...(profile && profileName !== undefined ? { profile: profileName } : {}),
  };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
