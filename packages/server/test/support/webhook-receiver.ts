import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** What the receiver answers: a status, or "hang" (never answers: the caller times out or dies). */
export type ReceiverAnswer = number | "hang";

/**
 * A local webhook receiver on a loopback port (real HTTP): records every request, answers what `answer` says (default
 * 200), and verifies signatures as a receiver written from docs/events.md would.
 */
export async function startReceiver() {
  const received: Received[] = [];
  let answer: (r: Received) => ReceiverAnswer = () => 200;
  const hanging = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body = {};
      try {
        body = JSON.parse(raw) as object;
      } catch {
        // not JSON: kept raw
      }
      const r: Received = { path: req.url ?? "", headers: req.headers, raw, body };
      received.push(r);
      const a = answer(r);
      if (a === "hang") {
        hanging.add(() => res.destroy());
        return;
      }
      if (a >= 300 && a < 400) res.setHeader("location", "/redirected");
      res.statusCode = a;
      res.end(a < 300 ? "thanks" : `status ${a}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path = "/hook") => `http://127.0.0.1:${port}${path}`,
    received,
    answer(fn: (r: Received) => ReceiverAnswer) {
      answer = fn;
    },
    /** Whether `r` carries `Signature: sha256=<hex HMAC-SHA256 of its raw body with secret>` (constant time). */
    signed(r: Received, secret: string): boolean {
      const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(r.raw).digest("hex")}`);
      const given = Buffer.from(String(r.headers["signature"] ?? ""));
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
    async close() {
      for (const drop of hanging) drop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
