// How every error leaves the API (and the probes, the web UI): the API's media type and error body, with the
// request id. Storage answers in Azure's XML instead (storage/azure-xml.ts).
import type { FastifyReply, FastifyRequest } from "fastify";
import { IMODELS_API_MEDIA_TYPE } from "@modelhub/protocol";
import { HubError } from "../domain/errors.js";
import { STATUS_BY_CODE, errorBody, fromFrameworkError } from "./error-mapping.js";
import { OUT_OF_SPACE_RETRY_AFTER_SECONDS, isOutOfSpace } from "./out-of-space.js";
import { closeIfBodyUnread } from "./storage/azure-xml.js";

export const API_CONTENT_TYPE = `${IMODELS_API_MEDIA_TYPE}; charset=utf-8`;

/** An API error answered outside the API plugin (whose onSend hook sets the media type). */
export function sendApiError(reply: FastifyReply, hubError: HubError): void {
  closeIfBodyUnread(reply);
  void reply
    .code(STATUS_BY_CODE[hubError.code])
    .header("content-type", API_CONTENT_TYPE)
    .send(JSON.stringify(errorBody(hubError)));
}

/** The error handler of the app and of every authenticated scope. */
export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  // Already answered (a 408 for a too-slow body), or the client went away mid-body: nobody would read an answer.
  if (reply.raw.headersSent) return;
  if (!request.raw.complete && (request.raw.destroyed || (err as { code?: string }).code === "ECONNRESET")) {
    request.log.warn(
      { method: request.method, url: request.url.split("?")[0] },
      "client went away before its request body ended",
    );
    return;
  }
  const hubError =
    err instanceof HubError
      ? err
      : isOutOfSpace(err)
        ? // The write failed as a whole (SQLite rolled back, temp files were removed): retry once space is freed.
          new HubError("ServiceUnavailable", "The hub is out of disk space; nothing was changed. Retry later.", {
            retryAfterSeconds: OUT_OF_SPACE_RETRY_AFTER_SECONDS,
          })
        : fromFrameworkError(err as { code?: string; statusCode?: number; message?: string });
  // The API's media type also outside the API scopes (probes, web UI), whose answers no onSend hook relabels.
  void reply.header("content-type", API_CONTENT_TYPE);
  closeIfBodyUnread(reply);
  if (hubError) {
    if (hubError.retryAfterSeconds !== undefined) void reply.header("retry-after", String(hubError.retryAfterSeconds));
    void reply.code(STATUS_BY_CODE[hubError.code]).send(errorBody(hubError, request.id));
    return;
  }
  request.log.error({ err }, "unexpected error");
  void reply
    .code(500)
    .send(
      errorBody(
        new HubError(
          "Unknown",
          "The hub failed to process the request. Nothing was changed by it; it is safe to retry.",
        ),
        request.id,
      ),
    );
}

/** 404 in the API's shape for a path no route of the scope matches. */
export function sendNoRoute(request: FastifyRequest, reply: FastifyReply, what = "API route"): void {
  sendApiError(reply, new HubError("NotFound", `No ${what} matches ${request.method} ${request.url.split("?")[0]}.`));
}

/** The origin links are made with: `--public-url`, else the request's own. */
export function originOf(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, "");
  return `${request.protocol}://${request.host}`;
}
