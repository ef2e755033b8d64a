import type { FastifyReply } from "fastify";

/** The Azure Blob REST version the storage routes answer as. */
export const AZURE_API_VERSION = "2024-08-04";

/**
 * Azure's error body: `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>`. The request id
 * is the hub's own (the one in `x-request-id` and in its log lines), for users to quote.
 */
export function azureErrorXml(code: string, message: string, requestId?: string): string {
  const id = requestId === undefined ? "" : `<RequestId>${escapeXml(requestId)}</RequestId>`;
  return `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${id}</Error>`;
}

/** The headers Azure puts on every answer (`x-ms-request-id` is the hub's request id). */
export function withAzureHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("x-ms-request-id", reply.request.id)
    .header("x-ms-version", AZURE_API_VERSION)
    .header("date", new Date().toUTCString());
}

/** An Azure-style error answer, the code also in `x-ms-error-code` (storage clients read that). */
export function sendAzureError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  closeIfBodyUnread(reply);
  return withAzureHeaders(reply.code(status))
    .header("x-ms-error-code", code)
    .header("content-type", "application/xml")
    .send(azureErrorXml(code, message, reply.request.id));
}

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]!,
  );
}

/** Whether a request path (with or without its query) is under the storage routes. */
export function isStoragePath(url: string | undefined): boolean {
  return url !== undefined && (url === "/storage" || url.startsWith("/storage/") || url.startsWith("/storage?"));
}

/**
 * An answer given before the request's body has arrived (a refused upload) closes the connection: otherwise Node
 * would read and throw away the rest of the body to keep the connection, for as long as the client takes to send it.
 */
export function closeIfBodyUnread(reply: FastifyReply): void {
  if (!reply.request.raw.complete) void reply.header("connection", "close");
}
