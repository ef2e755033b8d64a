import http from "node:http";
import type { IncomingMessage } from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import type { Transport, TransportResponse } from "@modelhub/client";

// node:http on keep-alive agents rather than fetch: a push is five small requests in a row, and fetch's
// WHATWG layers (Request/Response/Headers objects, web streams) cost about as much as the hub's own work on them.
const agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  /** A whole body, or a stream (then give `content-length` in the headers). */
  body?: Buffer | Readable;
  signal?: AbortSignal;
}

/**
 * Sends one request and resolves with the answer once its headers arrived; the body is left to the caller (read it
 * with {@link readBody} or pipe it). Network failures reject with the socket's error (`code` ECONNREFUSED, …).
 */
export function send(url: string, request: HttpRequest = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const agent = agents[target.protocol as keyof typeof agents];
    if (!agent) {
      reject(new Error(`Unsupported protocol in ${url}`));
      return;
    }
    const headers = { ...request.headers };
    if (Buffer.isBuffer(request.body)) headers["content-length"] = String(request.body.length);
    const req = (target.protocol === "https:" ? https : http).request(
      target,
      { method: request.method ?? "GET", agent, headers, ...(request.signal ? { signal: request.signal } : {}) },
      resolve,
    );
    req.on("error", reject);
    const body = request.body;
    if (body === undefined || Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      body.on("error", (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

/** The whole body; rejects if the connection closed before its end. */
export function readBody(response: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.on("error", reject);
    response.on("end", () => resolve(Buffer.concat(chunks)));
    response.on("close", () => {
      if (!response.complete) reject(new Error("the connection closed before the end of the answer"));
    });
  });
}

/** A response header as one string (repeated headers joined), or null. */
export function header(response: IncomingMessage, name: string): string | null {
  const value = response.headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(", ") : value;
}

export function isOk(response: IncomingMessage): boolean {
  const status = response.statusCode ?? 0;
  return status >= 200 && status < 300;
}

/**
 * @modelhub/client's Transport on the keep-alive agents above: the client's requests (and its retry policy) with
 * this package's connection reuse.
 */
export const keepAliveTransport: Transport = async (request) => {
  const body = request.body;
  const response = await send(request.url, {
    method: request.method,
    headers: request.headers,
    ...(body === undefined
      ? {}
      : {
          body:
            typeof body === "string"
              ? Buffer.from(body)
              : body instanceof Uint8Array
                ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
                : Readable.from(body),
        }),
    ...(request.signal ? { signal: request.signal } : {}),
  });
  return answerOf(response);
};

function answerOf(response: IncomingMessage): TransportResponse {
  return {
    status: response.statusCode ?? 0,
    header: (name) => header(response, name),
    text: async () => (await readBody(response)).toString("utf8"),
    bytes: () => readBody(response),
    stream: () => response,
    discard: async () => {
      await readBody(response).catch(() => undefined);
    },
  };
}
