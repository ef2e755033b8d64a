import type { FastifyReply, FastifyRequest } from "fastify";
import { LogController } from "fastify";
import { isStoragePath } from "./storage/azure-xml.js";

/**
 * One log line per request, written when its answer is sent, instead of fastify's two ("incoming request" and
 * "request completed"): who (the verified user; null before or without authentication), method, path, status and
 * time taken, under the request's id. Fastify's other request logs (errors, 404s, stream errors) stay as they are.
 * Storage links carry their signature in the query: it is cut off, so the log never holds a usable link.
 */
export class OneLinePerRequest extends LogController {
  constructor(private readonly actorOf: (request: FastifyRequest) => { userId: string } | null | undefined) {
    super();
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = {
      user: this.actorOf(request)?.userId ?? null,
      req: { method: request.method, url: loggedUrl(request.url) },
      res: { statusCode: reply.statusCode },
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) reply.log.error({ ...fields, err: error }, "request errored");
    else reply.log.info(fields, "request completed");
  }
}

/** The URL as logged: storage URLs without their query (a signed link's signature is a secret while it lives). */
export function loggedUrl(url: string): string {
  return isStoragePath(url) ? url.split("?")[0]! : url;
}
