import type { FastifyInstance, FastifyRequest } from "fastify";
import { HubError } from "../domain/errors.js";
import { yieldIfBusy } from "../util/event-loop.js";
import { unstorableBody } from "./input-guard.js";
import { jsonShapeProblem } from "./json-depth.js";

const JSON_MEDIA_TYPES = /^application\/(.+\+)?json$/;

/** Only JSON bodies on the API and the scopes beside it (and empty forms, below); anything else is 415 (see the error handler). */
export function apiBodyParsers(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(JSON_MEDIA_TYPES, { parseAs: "string" }, parseJsonBody);
  // axios (the official clients) labels a request without data `application/x-www-form-urlencoded`, e.g. the
  // empty body of PUT …/namedversions/{id}/checkpoint: the cloud accepts it, so an empty one means "no body".
  // A form that says something is still not a body the API reads: 415.
  scope.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") return done(null, {});
    done(new HubError("UnsupportedMediaType", "Media Type is not supported."));
  });
}

/**
 * The JSON body parser of the API and the scopes beside it: depth- and size-limited, and only text every store can
 * keep. Bodies that arrive together are parsed one per turn of the event loop once parsing gets long (20 lock
 * requests of 200 KB each at once held `/health` for 200 ms).
 */
async function parseJsonBody(_request: FastifyRequest, body: string | Buffer): Promise<unknown> {
  const text = typeof body === "string" ? body : body.toString("utf8");
  if (text.trim() === "") return {};
  await yieldIfBusy();
  const shape = jsonShapeProblem(text);
  if (shape !== undefined) throw invalidBody(shape);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SyntaxError("invalid JSON body");
  }
  const unstorable = unstorableBody(text, parsed);
  if (unstorable) throw unstorable;
  return parsed;
}

function invalidBody(message: string): HubError {
  return new HubError("InvalidiModelsRequest", "Cannot process the request.", {
    details: [{ code: "InvalidRequestBody", message }],
  });
}
