// A tiny load balancer for tests: each request goes to one of several hub nodes picked at random; if that node
// refuses the connection (it is down), the request goes to the next one, as a load balancer with passive health
// checks does. A request already sent to a node that then dies is answered 502, like nginx's `proxy_next_upstream
// error` does for non-idempotent requests: the client's own retry decides.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent, createServer, request } from "node:http";

export interface Upstream {
  name: string;
  port: number;
}

/** A request a node is working on right now (seen from the proxy). */
export interface InFlight {
  node: string;
  method: string;
  path: string;
  since: number;
}

export interface RandomProxy {
  url: string;
  /** Requests each node answered (any status), by node name. */
  readonly answered: Record<string, number>;
  /** Connections a node refused, after which the request went to another node. */
  readonly failovers: Record<string, number>;
  /** Requests that reached a node which then failed mid-request (answered 502 to the client). */
  readonly brokenMidRequest: Record<string, number>;
  /** Requests whose path starts with /storage/ (hub-served file bytes), whichever node took them. */
  readonly storageRequests: string[];
  /** Answers and their total time by method and path pattern (ids and numbers replaced), e.g. `PATCH /imodels/:id/changesets/:id`. */
  readonly timings: Map<string, { count: number; totalMs: number }>;
  inFlight(): InFlight[];
  close(): Promise<void>;
}

/** Headers that describe one connection, not the request (RFC 9110 §7.6.1); the proxy's own connection sets them. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

export async function startRandomProxy(upstreams: readonly Upstream[]): Promise<RandomProxy> {
  const agents = new Map(upstreams.map((u) => [u.name, new Agent({ keepAlive: true, maxSockets: 64 })]));
  const answered: Record<string, number> = Object.fromEntries(upstreams.map((u) => [u.name, 0]));
  const failovers: Record<string, number> = Object.fromEntries(upstreams.map((u) => [u.name, 0]));
  const brokenMidRequest: Record<string, number> = Object.fromEntries(upstreams.map((u) => [u.name, 0]));
  const storageRequests: string[] = [];
  const timings = new Map<string, { count: number; totalMs: number }>();
  const inFlight = new Set<InFlight>();

  /** Forwards one buffered request to `upstream`; resolves false if it refused the connection (nothing was sent). */
  function forward(upstream: Upstream, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers))
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      headers["content-length"] = String(body.length);
      const entry: InFlight = {
        node: upstream.name,
        method: req.method ?? "GET",
        path: req.url ?? "/",
        since: Date.now(),
      };
      let connected = false;
      const outgoing = request(
        {
          host: "127.0.0.1",
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
          agent: agents.get(upstream.name),
        },
        (answer) => {
          answered[upstream.name]!++;
          const out: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(answer.headers))
            if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
          res.writeHead(answer.statusCode ?? 502, out);
          answer.pipe(res);
          answer.on("end", () => {
            inFlight.delete(entry);
            const pattern = `${entry.method} ${entry.path.split("?")[0]!.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{40}|\b\d+\b/g, ":id")}`;
            const t = timings.get(pattern) ?? { count: 0, totalMs: 0 };
            t.count++;
            t.totalMs += Date.now() - entry.since;
            timings.set(pattern, t);
          });
          answer.on("error", () => {
            inFlight.delete(entry);
            brokenMidRequest[upstream.name]!++;
            res.destroy();
          });
          resolve(true);
        },
      );
      outgoing.on("socket", (socket) => {
        // A pooled keep-alive socket is connected already; a new one says so when it connects.
        if (!socket.connecting) {
          connected = true;
          inFlight.add(entry);
        } else {
          socket.once("connect", () => {
            connected = true;
            inFlight.add(entry);
          });
        }
      });
      outgoing.on("error", (err: NodeJS.ErrnoException) => {
        inFlight.delete(entry);
        if (!connected && err.code === "ECONNREFUSED") {
          failovers[upstream.name]!++;
          resolve(false);
          return;
        }
        brokenMidRequest[upstream.name]!++;
        if (!res.headersSent) {
          res.writeHead(502, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              error: {
                code: "BadGateway",
                message: `node ${upstream.name} failed mid-request: ${err.code ?? err.message}`,
              },
            }),
          );
        } else {
          res.destroy();
        }
        resolve(true);
      });
      outgoing.end(body);
    });
  }

  const server = createServer((req, res) => {
    if (req.url?.startsWith("/storage/")) storageRequests.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const first = Math.floor(Math.random() * upstreams.length);
        for (let i = 0; i < upstreams.length; i++) {
          if (await forward(upstreams[(first + i) % upstreams.length]!, req, body, res)) return;
        }
        res.writeHead(502, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "BadGateway", message: "no hub node accepted the connection" } }));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    answered,
    failovers,
    brokenMidRequest,
    storageRequests,
    timings,
    inFlight: () => [...inFlight],
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const agent of agents.values()) agent.destroy();
    },
  };
}
