import { readFileSync } from "node:fs";
import type { Command, Option } from "commander";
import type { AuthConfig } from "./config.js";
import { ConfigError } from "./config.js";

/**
 * Where `modelhub serve` options come from besides the command line: the environment and a JSON config file
 * (`--config <file>` / `MODELHUB_CONFIG`). Precedence: command line > environment > config file > defaults.
 *
 * Every option takes part, named after its long flag: `--public-url` is `MODELHUB_PUBLIC_URL` and config key
 * `publicUrl`; a negated flag (`--no-metrics`) is `MODELHUB_METRICS=false` / `"metrics": false`; a repeatable one is
 * a comma-separated variable / a JSON array. The OpenID Connect options have `MODELHUB_OIDC_…` names (see
 * {@link ENV_NAMES}). The storage link key has no flag at all besides `--link-secret-file`: it is a secret, so it
 * comes from the environment (`MODELHUB_LINK_SECRET`, base64) or the config file (`linkSecret`), never from the
 * command line alone.
 */

/** Environment names that do not follow the generic `MODELHUB_<FLAG>` rule. */
export const ENV_NAMES: Readonly<Record<string, string>> = {
  issuer: "MODELHUB_OIDC_ISSUER",
  audience: "MODELHUB_OIDC_AUDIENCE",
  jwks: "MODELHUB_OIDC_JWKS",
  userClaim: "MODELHUB_OIDC_USER_CLAIM",
  jwksCooldown: "MODELHUB_OIDC_JWKS_COOLDOWN",
  clockSkew: "MODELHUB_OIDC_CLOCK_SKEW",
  maxTokenLifetime: "MODELHUB_OIDC_MAX_TOKEN_LIFETIME",
  uiClientId: "MODELHUB_OIDC_UI_CLIENT_ID",
  uiScope: "MODELHUB_OIDC_UI_SCOPE",
};

/** Config file keys that are not options. */
const EXTRA_FILE_KEYS = new Set(["linkSecret", "$schema"]);

export function envNameOf(attribute: string): string {
  return ENV_NAMES[attribute] ?? `MODELHUB_${attribute.replace(/([A-Z])/g, "_$1").toUpperCase()}`;
}

export interface ConfigSources {
  /** The config file's JSON object (empty without a file). */
  file: Record<string, unknown>;
  /** The storage link signing key from `--link-secret-file`, `MODELHUB_LINK_SECRET` or the file's `linkSecret`. */
  linkSecret: Buffer | undefined;
}

/**
 * Fills the options of `command` not given on its command line from `env`, then from the config file, in place
 * (`command.opts()` then holds the merged values). Throws ConfigError for a bad value or an unknown file key.
 */
export function applyConfigSources(command: Command, env: NodeJS.ProcessEnv): ConfigSources {
  const opts = command.opts<{ config?: string; linkSecretFile?: string }>();
  const configPath = opts.config ?? nonEmpty(env.MODELHUB_CONFIG);
  const file = configPath === undefined ? {} : readConfigFile(configPath);
  const options = command.options.filter((o) => o.long !== "--config" && o.long !== "--help");
  const known = new Set([...options.map((o) => o.attributeName()), ...EXTRA_FILE_KEYS, "config"]);
  const unknown = Object.keys(file).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new ConfigError(
      `${configPath}: unknown key(s) ${unknown.map((k) => `'${k}'`).join(", ")}; the keys are the serve options' long names in camelCase, e.g. publicUrl.`,
    );
  for (const option of options) {
    const name = option.attributeName();
    if (command.getOptionValueSource(name) === "cli") continue;
    const fromEnv = env[envNameOf(name)];
    if (fromEnv !== undefined && fromEnv !== "") {
      command.setOptionValueWithSource(name, fromText(option, fromEnv, envNameOf(name)), "env");
    } else if (name in file) {
      command.setOptionValueWithSource(name, fromJson(option, file[name], `${configPath}: ${name}`), "config");
    }
  }
  return { file, linkSecret: linkSecretOf(command, env, file, configPath) };
}

function readConfigFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(`Cannot read the config file ${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`The config file ${path} must hold one JSON object.`);
  return parsed as Record<string, unknown>;
}

function isFlag(option: Option): boolean {
  return option.negate || option.isBoolean();
}

function fromText(option: Option, text: string, where: string): unknown {
  if (isFlag(option)) {
    const value = text.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(value)) return true;
    if (["0", "false", "no", "off"].includes(value)) return false;
    throw new ConfigError(`${where} must be true or false, not '${text}'.`);
  }
  if (Array.isArray(option.defaultValue))
    return fromJson(
      option,
      text
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
      where,
    );
  return parse(option, text, undefined, where);
}

function fromJson(option: Option, value: unknown, where: string): unknown {
  if (isFlag(option)) {
    if (typeof value !== "boolean") throw new ConfigError(`${where} must be true or false.`);
    return value;
  }
  if (Array.isArray(option.defaultValue)) {
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list) || !list.every((v) => typeof v === "string"))
      throw new ConfigError(`${where} must be a list of strings.`);
    let acc: unknown = option.defaultValue;
    for (const item of list) acc = parse(option, item, acc, where);
    return acc;
  }
  if (typeof value !== "string" && typeof value !== "number")
    throw new ConfigError(`${where} must be a string or a number.`);
  return parse(option, String(value), undefined, where);
}

function parse(option: Option, text: string, previous: unknown, where: string): unknown {
  if (!option.parseArg) return text;
  try {
    return option.parseArg(text, previous);
  } catch (err) {
    throw new ConfigError(`${where}: '${text}' is not valid: ${(err as Error).message}`);
  }
}

function linkSecretOf(
  command: Command,
  env: NodeJS.ProcessEnv,
  file: Record<string, unknown>,
  configPath: string | undefined,
): Buffer | undefined {
  const secretFile = command.opts<{ linkSecretFile?: string }>().linkSecretFile;
  if (command.getOptionValueSource("linkSecretFile") === "cli" && secretFile) return readSecretFile(secretFile);
  const fromEnv = nonEmpty(env.MODELHUB_LINK_SECRET);
  if (fromEnv !== undefined) return decodeBase64(fromEnv, "MODELHUB_LINK_SECRET");
  if (secretFile) return readSecretFile(secretFile);
  if (file.linkSecret !== undefined) {
    if (typeof file.linkSecret !== "string")
      throw new ConfigError(`${configPath}: linkSecret must be a base64 string.`);
    return decodeBase64(file.linkSecret, `${configPath}: linkSecret`);
  }
  return undefined;
}

/** A key file holds base64 text, or the raw bytes of a `secret.key` copied from a data directory. */
function readSecretFile(path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`Cannot read the link secret file ${path}: ${(err as Error).message}`);
  }
  const text = bytes.toString("latin1").trim();
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && Buffer.from(text, "base64").length >= 32)
    return Buffer.from(text, "base64");
  return bytes;
}

function decodeBase64(text: string, where: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed))
    throw new ConfigError(`${where} must be base64 (e.g. from: openssl rand -base64 32).`);
  return Buffer.from(trimmed, "base64");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** The serve options of authentication (see config.ts). */
export interface AuthFlags {
  auth: string;
  issuer?: string;
  audience?: string;
  jwks?: string;
  userClaim: string;
  jwksCooldown: number;
  clockSkew: number;
  maxTokenLifetime: number;
  uiClientId?: string;
  uiScope?: string;
  linkSecretFile?: string;
  config?: string;
}

/** `--auth` and its options as the configuration's AuthConfig (checked by makeConfig). */
export function authConfigOf(flags: AuthFlags): AuthConfig {
  if (flags.auth === "oidc") {
    return {
      mode: "oidc",
      issuer: flags.issuer ?? "",
      userClaim: flags.userClaim,
      jwksCooldownMs: flags.jwksCooldown * 1000,
      clockSkewSeconds: flags.clockSkew,
      maxTokenLifetimeSeconds: flags.maxTokenLifetime,
      ...(flags.audience !== undefined ? { audience: flags.audience } : {}),
      ...(flags.jwks !== undefined ? { jwks: flags.jwks } : {}),
      ...(nonEmpty(flags.uiClientId) !== undefined ? { uiClientId: flags.uiClientId!.trim() } : {}),
      ...(nonEmpty(flags.uiScope) !== undefined ? { uiScope: flags.uiScope!.trim() } : {}),
    };
  }
  if (flags.auth === "open" || flags.auth === "tokens") return { mode: flags.auth };
  throw new ConfigError(`--auth must be open, oidc or tokens, not '${flags.auth}'.`);
}
