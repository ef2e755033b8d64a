// `modelhub serve --gate "<url> [name=…] [timeout=…] [failure=open|closed] [secret-env=VAR]"`: a hub-wide gate
// (docs/events.md "Gates"). A URL holds no raw space, so the options follow it separated by spaces.
import { ConfigError } from "../config-error.js";
import type { Gate } from "../domain/gates/gate-calls.js";
import { DEFAULT_GATE_TIMEOUT_MS, MAX_GATE_TIMEOUT_MS } from "../domain/gates/gate-calls.js";
import { MIN_SECRET_CHARS } from "../domain/gates/gate-service.js";

/** A hub-wide gate; `secret` is read from the environment variable the spec names, never from the command line. */
export function parseGateSpec(spec: string, env: NodeJS.ProcessEnv = process.env): Gate {
  const [url, ...options] = spec.trim().split(/\s+/);
  let parsed: URL;
  try {
    parsed = new URL(url ?? "");
  } catch {
    throw new ConfigError(`--gate must start with the gate's URL (http: or https:), not '${url}'.`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new ConfigError(`--gate must start with an http: or https: URL, not '${url}'.`);
  const gate: Gate = {
    id: null,
    name: parsed.host,
    url: parsed.href,
    timeoutMs: DEFAULT_GATE_TIMEOUT_MS,
    failure: "closed",
    secret: null,
  };
  for (const option of options) {
    const [key, value = ""] = option.split(/=(.*)/s);
    switch (key) {
      case "name":
        if (!value) throw new ConfigError("--gate: name= needs a value.");
        gate.name = value;
        break;
      case "timeout": {
        const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
        const ms = match ? Number(match[1]) * (match[2] === "ms" ? 1 : 1000) : NaN;
        if (!(ms >= 100 && ms <= MAX_GATE_TIMEOUT_MS))
          throw new ConfigError(
            `--gate: timeout= is 0.1 to 60 seconds (e.g. timeout=5s, timeout=500ms), not '${value}'.`,
          );
        gate.timeoutMs = Math.round(ms);
        break;
      }
      case "failure":
        if (value !== "open" && value !== "closed")
          throw new ConfigError(`--gate: failure= is 'open' (accept) or 'closed' (refuse), not '${value}'.`);
        gate.failure = value;
        break;
      case "secret-env": {
        const secret = env[value];
        if (!secret || secret.length < MIN_SECRET_CHARS)
          throw new ConfigError(
            `--gate: secret-env=${value} names an environment variable that must hold a secret of at least ${MIN_SECRET_CHARS} characters.`,
          );
        gate.secret = secret;
        break;
      }
      default:
        throw new ConfigError(
          `--gate: unknown option '${option}' (after the URL: name=, timeout=, failure=open|closed, secret-env=).`,
        );
    }
  }
  return gate;
}
