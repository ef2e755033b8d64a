import type { FastifyRequest } from "fastify";
import type { Actor } from "../domain/context.js";
import { HubError } from "../domain/errors.js";
import { hasControls, isStorableText, unstorablePath } from "../util/text.js";
import type { Authenticator } from "./authn/authenticator.js";
import { invalidToken } from "./authn/bearer.js";
import { isStoragePath } from "./storage/azure-xml.js";

/**
 * Input the hub cannot keep is refused where it enters, before any route, store or audit entry sees it (see
 * util/text.ts): a NUL or a lone surrogate in the path, a query value, a JSON string or an identity taken from a
 * token. Header values need no check: Node's parser refuses control characters in them, and what it accepts
 * (latin1 text) is storable.
 */
const URL_MESSAGE = "The request URL holds a character the hub cannot store (U+0000 or an unpaired UTF-16 surrogate).";

/**
 * Why the request's URL is refused (its path or a query value holds what cannot be stored; a storage path, which
 * names a file, a control character), or undefined. For the onRequest guard of every route.
 */
export function urlProblem(request: FastifyRequest): string | undefined {
  const queryAt = request.url.indexOf("?");
  const path = queryAt < 0 ? request.url : request.url.slice(0, queryAt);
  const storage = isStoragePath(path);
  // Cheap first: only a percent sign can bring in a NUL or a surrogate (Node's parser lets no control character
  // through raw, but latin1 bytes, C1 controls among them, pass).
  if (path.includes("%") || (storage && /[^\x20-\x7e]/.test(path))) {
    for (const segment of path.split("/")) {
      const text = decodeOrUndefined(segment);
      if (text === undefined) continue; // bad percent-encoding: the router refuses it
      if (!isStorableText(text)) return URL_MESSAGE;
      if (storage && hasControls(text)) return "A blob name may not hold control characters.";
    }
  }
  if (queryAt >= 0) {
    for (const [key, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
      if (!isStorableText(key) || (typeof value === "string" && !isStorableText(value))) return URL_MESSAGE;
    }
  }
  return undefined;
}

function decodeOrUndefined(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * A JSON body's first string (or key) that cannot be stored, as an API error, or undefined. Only escapes can put a
 * NUL or a surrogate into JSON text (raw control characters are not JSON, and the body was decoded as UTF-8), so
 * the parsed body is walked only when the text has `\u0000` or a `\uD8xx`–`\uDFxx` escape.
 */
export function unstorableBody(text: string, parsed: unknown): HubError | undefined {
  if (!/\\u(?:0000|[dD][89a-fA-F])/.test(text)) return undefined;
  const path = unstorablePath(parsed);
  if (path === undefined) return undefined;
  return new HubError("InvalidiModelsRequest", "Cannot process the request.", {
    details: [
      {
        code: "InvalidValue",
        message: `Provided '${path}' value is not valid. It holds a character the hub cannot store (U+0000 or an unpaired UTF-16 surrogate).`,
        ...(path !== "" ? { target: path } : {}),
      },
    ],
  });
}

/**
 * The authenticator, refusing (401, the one answer for every bad token) an identity the hub could not store: open
 * mode takes the user from an unverified JWT's `sub`, and any identity provider's claims end up in records.
 */
export function withStorableIdentities(authenticator: Authenticator): Authenticator {
  const checked: Authenticator = {
    mode: authenticator.mode,
    authenticate: async (authorization) => {
      const actor = await authenticator.authenticate(authorization);
      if (!isStorableActor(actor)) throw invalidToken();
      return actor;
    },
  };
  if (authenticator.close) checked.close = () => authenticator.close!();
  return checked;
}

function isStorableActor(actor: Actor): boolean {
  for (const value of Object.values(actor)) if (typeof value === "string" && !isStorableText(value)) return false;
  return true;
}
