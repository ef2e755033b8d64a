// A loopback HTTP proxy in front of a real hub that passes streams through as they flow (the change feed's
// server-sent events never end, so fault-proxy.ts, which reads whole answers, cannot carry them). It records the
// requests, and can cut or refuse the feed, write garbage into it, and spoil one storage download.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  path: string;
  lastEventId?: string;
  status?: number;
}

/** How to spoil the next storage download: one byte changed (same length), or its last bytes missing. */
export type Spoil = "flipByte" | "dropLastByte";

const isFeed = (path: string) => /^\/imodels\/[^/]+\/events\b/.test(path);
export const isStorage = (path: string) => path.startsWith("/storage/");

export class StreamProxy {
  readonly requests: ProxiedRequest[] = [];
  /** While true, the feed is answered 503 (no retry-after), as a hub that is restarting. */
  refuseFeed = false;
  /** Storage answers are held this long before they are forwarded (so that concurrent downloads overlap). */
  storageDelayMs = 0;
  /** The most storage GETs that were in flight at once. */
  maxStorageInFlight = 0;
  #storageInFlight = 0;
  #spoil: Spoil[] = [];
  readonly #feeds = new Set<ServerResponse>();
  #target = "";

  private constructor(private readonly server: ReturnType<typeof createServer>) {}

  static async start(target: string): Promise<StreamProxy> {
    const server = createServer();
    const proxy = new StreamProxy(server);
    proxy.#target = target;
    server.on("request", (req, res) => proxy.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Feed streams open through the proxy now. */
  get openFeeds(): number {
    return this.#feeds.size;
  }

  /** Requests so far whose method is `method` and whose path `test` accepts. */
  count(method: string, test: (path: string) => boolean): number {
    return this.requests.filter((r) => r.method === method && test(r.path)).length;
  }

  feedRequests(): ProxiedRequest[] {
    return this.requests.filter((r) => isFeed(r.path));
  }

  /** Cuts every open feed stream (the client sees its connection end). */
  dropFeeds(): void {
    for (const res of this.#feeds) res.socket?.destroy();
  }

  /** Writes `text` into every open feed stream, as if the hub had sent it. */
  injectIntoFeeds(text: string): void {
    for (const res of this.#feeds) res.write(text);
  }

  /** The next storage downloads (one per entry) are spoiled this way. */
  spoilNextDownloads(...how: Spoil[]): void {
    this.#spoil.push(...how);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? "/";
    const seen: ProxiedRequest = { method: req.method ?? "", path };
    const lastEventId = req.headers["last-event-id"];
    if (typeof lastEventId === "string") seen.lastEventId = lastEventId;
    this.requests.push(seen);
    if (isFeed(path) && this.refuseFeed) {
      seen.status = 503;
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "ServiceUnavailable", message: "refused by the test proxy" } }));
      return;
    }
    const download = isStorage(path) && req.method === "GET";
    const spoil = download ? this.#spoil.shift() : undefined;
    if (download) {
      this.maxStorageInFlight = Math.max(this.maxStorageInFlight, ++this.#storageInFlight);
      res.once("close", () => this.#storageInFlight--);
    }
    if (download && this.storageDelayMs > 0) {
      setTimeout(() => this.#forward(req, res, seen, spoil), this.storageDelayMs);
      return;
    }
    this.#forward(req, res, seen, spoil);
  }

  #forward(req: IncomingMessage, res: ServerResponse, seen: ProxiedRequest, spoil: Spoil | undefined): void {
    const path = seen.path;
    const target = new URL(path, this.#target);
    const out = httpRequest(
      { hostname: target.hostname, port: target.port, path, method: req.method, headers: req.headers },
      (answer) => {
        seen.status = answer.statusCode ?? 0;
        const headers = { ...answer.headers };
        if (spoil) {
          const chunks: Buffer[] = [];
          answer.on("data", (c: Buffer) => chunks.push(c));
          answer.on("end", () => {
            let body = Buffer.concat(chunks);
            if (spoil === "flipByte") {
              body = Buffer.from(body);
              const at = Math.floor(body.length / 2);
              body[at] = body[at]! ^ 0xff;
            } else {
              body = body.subarray(0, body.length - 1);
            }
            delete headers["transfer-encoding"];
            headers["content-length"] = String(body.length);
            res.writeHead(answer.statusCode ?? 502, headers);
            res.end(body);
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, headers);
        if (isFeed(path) && answer.statusCode === 200) {
          res.flushHeaders();
          this.#feeds.add(res);
          res.once("close", () => {
            this.#feeds.delete(res);
            answer.destroy();
          });
        }
        answer.pipe(res);
      },
    );
    out.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  }
}
