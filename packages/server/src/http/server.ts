// The fastify instance under the whole app: Node's HTTP settings, answers for requests no route sees (malformed,
// too slow, bad percent-encoding), request ids, the connection cap and the guards every request passes first.
import Fastify from "fastify";
import { OneLinePerRequest } from "./request-log.js";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HubError } from "../domain/errors.js";
import type { AppOptions } from "./app-options.js";
import { errorBody, fromClientError, fromRouterError } from "./error-mapping.js";
import { HostAllowList } from "./host-allow-list.js";
import { urlProblem } from "./input-guard.js";
import { parseQueryString } from "./query.js";
import { API_CONTENT_TYPE, sendApiError } from "./replies.js";
import { REQUEST_ID_HEADER, requestIdOf } from "./request-id.js";
import {
  BodyWatch,
  DEFAULT_UPLOAD_MIN_BYTES_PER_SECOND,
  RequestLines,
  answerOnSocket,
  connectionsForDescriptors,
  descriptorLimit,
  openDescriptors,
  statusOfClientError,
} from "./slow-clients.js";
import { azureErrorXml, isStoragePath, sendAzureError } from "./storage/azure-xml.js";

/** Path segments (ids) up to this length; Node's 16 KiB header limit bounds the URL anyway. */
const MAX_PARAM_LENGTH = 8 * 1024;

export function createServer(options: AppOptions): FastifyInstance {
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const requestLines = new RequestLines();
  const app = Fastify({
    logger: options.logger,
    // One line per request, when it is answered (request-log.ts).
    logController: new OneLinePerRequest((request) => (request as { actor?: { userId: string } | null }).actor),
    routerOptions: { querystringParser: parseQueryString, maxParamLength: MAX_PARAM_LENGTH },
    bodyLimit: options.jsonBodyLimit,
    // Node's whole-request timeout would cut big uploads on slow links: bodies are bounded by BodyWatch instead (a
    // deadline for API bodies, progress for uploads). Headers get a deadline of their own, checked every second.
    requestTimeout: 0,
    // A missing Host is answered below in the API's shape, not by Node with an empty 400.
    http: {
      headersTimeout: headersTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
      requireHostHeader: false,
    },
    // Idle keep-alive connections are closed after this (fastify's default, longer than the clients' own).
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    // Bad percent-encoding and over-long ids, found before any route: answered in the API's or storage's shape.
    frameworkErrors: (err, request, reply) => {
      const hubError = fromRouterError(err, MAX_PARAM_LENGTH);
      if (isStoragePath(request.url)) void sendAzureError(reply, 400, "InvalidUri", hubError.message);
      else sendApiError(reply, hubError);
    },
    // Requests Node's parser refused (headers too large or too slow, malformed HTTP): no request object exists, so
    // the answer goes straight to the socket, in the storage shape if the request line read shows a storage path.
    clientErrorHandler: (err, socket) => {
      if (err.code === "ECONNRESET" || socket.destroyed) return;
      const status = statusOfClientError(err.code);
      const hubError = fromClientError(status);
      app.log.debug({ code: err.code, status }, "malformed or slow request refused");
      const line = requestLines.of(socket, err as { rawPacket?: unknown; bytesParsed?: unknown });
      const head = line?.method === "HEAD";
      answerOnSocket(
        socket,
        isStoragePath(line?.path)
          ? {
              status,
              contentType: "application/xml",
              body: azureErrorXml("InvalidInput", hubError.message),
              headers: { "x-ms-error-code": "InvalidInput" },
              head,
            }
          : { status, contentType: API_CONTENT_TYPE, body: JSON.stringify(errorBody(hubError)), head },
        err,
      );
    },
    // Our own request ids (see request-id.ts): in every log line as reqId and in every answer's x-request-id.
    genReqId: requestIdOf,
    requestIdHeader: false,
  });

  requestLines.peekFirstPackets(app.server, headersTimeoutMs, (socket) => {
    answerOnSocket(socket, {
      status: 408,
      contentType: API_CONTENT_TYPE,
      body: JSON.stringify(errorBody(fromClientError(408))),
    });
  });
  app.addHook("preClose", async () => requestLines.closeWaiting());
  app.addHook("onRequest", async (request, reply) => {
    requestLines.parsed(request.raw.socket, { method: request.method, path: request.url });
    void reply.header(REQUEST_ID_HEADER, request.id);
  });

  // Each connection may hold a descriptor for its socket and one for a file: capped so that the database, the
  // worker and /health always find one (past the cap Node closes new connections at once).
  const maxConnections =
    options.maxConnections ?? connectionsForDescriptors(descriptorLimit(), openDescriptors() ?? 32);
  if (maxConnections !== undefined) app.server.maxConnections = maxConnections;
  // No route outside the API scopes (which parse JSON) and storage (which streams) reads a body: a request with one
  // for a path that does not exist is a 404 whatever its body, never a parse error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));
  return app;
}

/** Guards for every route (API, storage, health), before anything reads a body: Host, URL, body deadlines. */
export function registerRequestGuards(app: FastifyInstance, options: AppOptions): void {
  const hosts = new HostAllowList(options.allowedHosts, options.publicUrl);
  const bodies = new BodyWatch({
    apiBodyTimeoutMs: options.apiBodyTimeoutMs ?? 10_000,
    uploadStallTimeoutMs: options.uploadStallTimeoutMs ?? 30_000,
    uploadMinBytesPerSecond: options.uploadMinBytesPerSecond ?? DEFAULT_UPLOAD_MIN_BYTES_PER_SECOND,
    warn: (fields, message) => app.log.warn(fields, message),
  });
  app.addHook("onClose", async () => bodies.close());
  app.addHook("onRequest", (request, reply, done) => {
    const storage = isStoragePath(request.url);
    const hostProblem = hostHeaderProblem(request);
    if (hostProblem) {
      if (storage) void sendAzureError(reply, 400, "InvalidHeaderValue", hostProblem);
      else sendApiError(reply, new HubError("BadRequest", hostProblem));
      return;
    }
    if (!hosts.allows(request.headers.host)) {
      const message = `The hub does not answer for host '${request.headers.host ?? ""}': use a loopback address or the --public-url host, or add it with --allowed-host.`;
      if (storage) void sendAzureError(reply, 421, "InvalidInput", message);
      else sendApiError(reply, new HubError("HostNotAllowed", message));
      return;
    }
    // A NUL or a lone surrogate in the path or query (nothing can store it), a control character in a blob name.
    const badUrl = urlProblem(request);
    if (badUrl !== undefined) {
      if (storage) void sendAzureError(reply, 400, "InvalidUri", badUrl);
      else sendApiError(reply, new HubError("BadRequest", badUrl));
      return;
    }
    const upload = storage && request.method === "PUT";
    bodies.watch(request.raw, reply.raw, upload ? "upload" : "api", (res) => {
      const hubError = new HubError(
        "RequestTimeout",
        "The request body did not arrive in time; the connection is closed.",
      );
      const body = storage
        ? azureErrorXml("InvalidInput", hubError.message, request.id)
        : JSON.stringify(errorBody(hubError));
      const headers = storage
        ? { "content-type": "application/xml", "x-ms-error-code": "InvalidInput" }
        : { "content-type": API_CONTENT_TYPE };
      res.writeHead(408, { ...headers, "content-length": Buffer.byteLength(body), connection: "close" }).end(body);
    });
    done();
  });
}

/**
 * RFC 9112 §3.2: a request with more than one `Host` line, or an HTTP/1.1 request with none, is a 400 (Node keeps
 * the first of several and would answer a missing one with an empty 400 of its own).
 */
function hostHeaderProblem(request: FastifyRequest): string | undefined {
  const raw = request.raw.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === "host") hosts++;
  if (hosts > 1) return `The request has ${hosts} Host headers; HTTP allows one.`;
  if (hosts === 0 && request.raw.httpVersion === "1.1") return "The request has no Host header; HTTP/1.1 requires one.";
  return undefined;
}
