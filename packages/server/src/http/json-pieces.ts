import { Readable } from "node:stream";
import { IMODELS_API_MEDIA_TYPE } from "@modelhub/protocol";
import type { FastifyReply } from "fastify";
import { yieldIfBusy } from "../util/event-loop.js";

/** Array elements serialized per piece. */
const PIECE = 5_000;

/**
 * An answer of the API sent as JSON text in pieces, with other requests' turns in between: a briefcase's whole lock
 * set (200,000 ids, 2.2 MB of JSON) in one JSON.stringify held the event loop for 10–30 ms, and its one string had to
 * exist whole. The same text as JSON.stringify gives, streamed.
 */
export function sendJsonInPieces(reply: FastifyReply, value: unknown): FastifyReply {
  return reply
    .header("content-type", `${IMODELS_API_MEDIA_TYPE}; charset=utf-8`)
    .send(Readable.from(jsonPieces(value)));
}

export async function* jsonPieces(value: unknown): AsyncGenerator<string> {
  if (Array.isArray(value)) {
    const nested = value.some((v) => v !== null && typeof v === "object");
    if (!nested && value.length <= PIECE) {
      yield JSON.stringify(value);
      return;
    }
    yield "[";
    if (nested) {
      for (let i = 0; i < value.length; i++) {
        if (i > 0) yield ",";
        yield* jsonPieces(value[i]);
      }
    } else {
      for (let i = 0; i < value.length; i += PIECE) {
        await yieldIfBusy();
        yield `${i > 0 ? "," : ""}${JSON.stringify(value.slice(i, i + PIECE)).slice(1, -1)}`;
      }
    }
    yield "]";
    return;
  }
  if (value !== null && typeof value === "object") {
    yield "{";
    let first = true;
    for (const [key, inner] of Object.entries(value)) {
      if (inner === undefined || typeof inner === "function") continue;
      yield `${first ? "" : ","}${JSON.stringify(key)}:`;
      first = false;
      yield* jsonPieces(inner);
    }
    yield "}";
    return;
  }
  yield JSON.stringify(value) ?? "null";
}
