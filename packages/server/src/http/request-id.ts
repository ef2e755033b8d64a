import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** A caller's id is kept only if it cannot forge log lines or bloat them: short, no spaces, no control characters. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** The header every answer carries (API, storage, health), for users to quote and logs to be searched by. */
export const REQUEST_ID_HEADER = "x-request-id";

/**
 * fastify's `genReqId`: the caller's `x-request-id` (or `x-correlation-id`) when it is a short safe token, so a
 * proxy's id follows the request through; otherwise a fresh UUID.
 */
export function requestIdOf(request: IncomingMessage): string {
  for (const name of [REQUEST_ID_HEADER, "x-correlation-id"]) {
    const value = request.headers[name];
    if (typeof value === "string" && SAFE_ID.test(value)) return value;
  }
  return randomUUID();
}
