// A loopback HTTP proxy in front of a real hub that injects the faults a network and a busy hub produce: an answer
// lost after the hub acted on the request, a connection broken in the middle of a body, a short body, 429/5xx
// answers, slow answers. Everything else is forwarded unchanged (the Host header too, so the hub's links point back
// at the proxy and storage traffic passes through it as well).
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";

export type FaultKind =
  /** Answer this instead of forwarding. */
  | { reply: number; headers?: Record<string, string>; body?: string }
  /** Forward; once the hub has answered, close the connection without answering. */
  | { dropResponse: true }
  /** Forward; send the status, the headers and the first `bytes` of the body, then close the connection. */
  | { cutAfterBytes: number }
  /** Forward; send a complete answer whose body lacks its last `bytes` (Content-Length adjusted). */
  | { dropLastBytes: number }
  /** Forward; send a complete answer with the body's byte at `offset` changed (same length). */
  | { flipByteAt: number }
  /** Forward after `ms`. */
  | { delayMs: number };

export interface Fault {
  method?: string;
  /** Matched against the path and query. */
  path: RegExp;
  /** How many matching requests get the fault; later ones pass through. */
  times: number;
  kind: FaultKind;
  /** Called once the fault was applied (e.g. to start an outage right after an answer was lost). */
  then?: () => void;
}

export interface SeenRequest {
  method: string;
  path: string;
  range?: string;
  /** The status the client received, or "dropped"/"cut". */
  outcome: number | "dropped" | "cut";
  /** When the request arrived (Date.now()). */
  at: number;
}

export class FaultProxy {
  readonly faults: Fault[] = [];
  readonly seen: SeenRequest[] = [];
  /** Requests matching `track` that were in flight at the same time, at most. */
  maxInFlight = 0;
  track: RegExp | undefined;
  #inFlight = 0;
  #target = "";

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server);
    server.on("request", (req, res) => void proxy.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The hub's origin, e.g. http://127.0.0.1:41234. */
  forwardTo(origin: string): void {
    this.#target = origin;
  }

  add(fault: Fault): void {
    this.faults.push(fault);
  }

  reset(): void {
    this.faults.length = 0;
    this.seen.length = 0;
    this.maxInFlight = 0;
    this.track = undefined;
  }

  /** Requests seen so far whose method and path match. */
  count(method: string, path: RegExp): number {
    return this.seen.filter((s) => s.method === method && path.test(s.path)).length;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #take(req: IncomingMessage): Fault | undefined {
    const fault = this.faults.find(
      (f) => f.times > 0 && (!f.method || f.method === req.method) && f.path.test(req.url ?? ""),
    );
    if (fault) fault.times--;
    return fault;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const seen: SeenRequest = { method: req.method ?? "", path: req.url ?? "", outcome: 0, at: Date.now() };
    const range = req.headers.range ?? req.headers["x-ms-range"];
    if (range) seen.range = String(range);
    this.seen.push(seen);
    const tracked = this.track?.test(seen.path) && seen.method === "GET";
    if (tracked) this.maxInFlight = Math.max(this.maxInFlight, ++this.#inFlight);
    let taken: Fault | undefined;
    try {
      const body = await readAll(req);
      taken = this.#take(req);
      const fault = taken?.kind;
      if (fault && "reply" in fault) {
        seen.outcome = fault.reply;
        res.writeHead(fault.reply, { "content-type": "application/json", ...fault.headers });
        res.end(fault.body ?? JSON.stringify({ error: { code: "Unknown", message: "injected by the test proxy" } }));
        return;
      }
      if (fault && "delayMs" in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
      const answer = await this.#forward(req, body);
      if (fault && "dropResponse" in fault) {
        seen.outcome = "dropped";
        req.socket.destroy();
        return;
      }
      const headers = { ...answer.headers };
      let payload = answer.body;
      if (fault && "dropLastBytes" in fault) {
        payload = payload.subarray(0, Math.max(0, payload.length - fault.dropLastBytes));
        headers["content-length"] = String(payload.length);
      }
      if (fault && "flipByteAt" in fault && payload.length > fault.flipByteAt) {
        payload = Buffer.from(payload);
        payload[fault.flipByteAt] = payload[fault.flipByteAt]! ^ 0xff;
      }
      res.writeHead(answer.status, headers);
      if (fault && "cutAfterBytes" in fault) {
        seen.outcome = "cut";
        res.write(payload.subarray(0, fault.cutAfterBytes), () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      seen.outcome = answer.status;
      res.end(payload);
    } catch (err) {
      seen.outcome = 502;
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(err));
    } finally {
      if (tracked) this.#inFlight--;
      taken?.then?.();
    }
  }

  #forward(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
    const target = new URL(req.url ?? "/", this.#target);
    return new Promise((resolve, reject) => {
      const out = httpRequest(
        {
          hostname: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          readAll(answer).then((data) => {
            const headers: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(answer.headers))
              if (value !== undefined && name !== "transfer-encoding" && name !== "connection") headers[name] = value;
            headers["content-length"] = String(data.length);
            resolve({ status: answer.statusCode ?? 502, headers, body: data });
          }, reject);
        },
      );
      out.on("error", reject);
      out.end(body);
    });
  }
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
