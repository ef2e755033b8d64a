// The hub's outbound HTTP (webhook deliveries, gates) against real sockets: what an attacker who may register a URL
// could aim it at (private and loopback addresses, literal or behind a DNS name, redirects) is refused before a
// byte is sent, and what is allowed is called with a bounded wait and a bounded answer.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { HttpCallout } from "../../../src/adapters/callout/http-callout.js";
import { CalloutFailed, CalloutRefused } from "../../../src/ports/callout.js";

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("HttpCallout", () => {
  const hits: string[] = [];
  let receiver: { server: Server; url: string };
  let elsewhere: { server: Server; url: string };
  before(async () => {
    elsewhere = await listen((req, res) => {
      hits.push(`elsewhere ${req.url}`);
      res.end("elsewhere");
    });
    receiver = await listen((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        hits.push(`${req.method} ${req.url} ${req.headers["x-test"] ?? ""} ${body}`);
        if (req.url === "/redirect") res.writeHead(307, { location: `${elsewhere.url}/stolen` }).end();
        else if (req.url === "/big") res.end("x".repeat(200_000));
        else if (req.url === "/silent")
          return; // never answers
        else res.writeHead(202, { "content-type": "text/plain" }).end("accepted");
      });
    });
  });
  after(() => {
    receiver.server.closeAllConnections();
    receiver.server.close();
    elsewhere.server.close();
  });

  it("calls an allow-listed loopback receiver (the default list) and returns its answer", async () => {
    const answer = await new HttpCallout().post({
      url: `${receiver.url}/hook`,
      headers: { "content-type": "application/json", "x-test": "t1" },
      body: '{"a":1}',
      timeoutMs: 5000,
    });
    assert.equal(answer.status, 202);
    assert.equal(answer.body, "accepted");
    assert.equal(answer.truncated, false);
    assert.ok(hits.includes('POST /hook t1 {"a":1}'), hits.join("\n"));
  });

  it("keeps a connection alive for calls to the same checked destination only", async () => {
    const sockets: unknown[] = [];
    const counting = await listen((req, res) => {
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    counting.server.on("connection", (socket) => sockets.push(socket));
    try {
      const callout = new HttpCallout();
      const call = async (url: string) => (await callout.post({ url, headers: {}, body: "x", timeoutMs: 5000 })).status;
      assert.equal(await call(`${counting.url}/a`), 200);
      assert.equal(await call(`${counting.url}/b`), 200);
      assert.equal(sockets.length, 1, "the second call reused the first one's connection");
      // Another host name (resolved and checked on its own) to the same address and port: its own connection.
      const port = new URL(counting.url).port;
      assert.equal(await call(`http://localhost:${port}/c`), 200);
      assert.equal(sockets.length, 2);
    } finally {
      counting.server.closeAllConnections();
      counting.server.close();
    }
  });

  it("a kept-alive connection the receiver drops is tried once more on a new one, and the call succeeds", async () => {
    // The receiver answers the first request of a connection and drops the connection at the second, without an
    // answer: what a callback does that closed an idle connection as the hub reused it.
    let connections = 0;
    const dropping = await listen((req, res) => {
      const socket = req.socket as typeof req.socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      if (socket.served > 1) return void socket.destroy();
      req.resume();
      req.on("end", () => res.end("ok"));
    });
    dropping.server.on("connection", () => connections++);
    try {
      const callout = new HttpCallout();
      const call = async (path: string) =>
        (await callout.post({ url: `${dropping.url}${path}`, headers: {}, body: "x", timeoutMs: 5000 })).status;
      assert.equal(await call("/a"), 200);
      assert.equal(await call("/b"), 200, "the dropped reuse was sent again on a new connection");
      assert.equal(connections, 2);
    } finally {
      dropping.server.closeAllConnections();
      dropping.server.close();
    }
  });

  it("does not follow a redirect: the 3xx is the answer, and the other host is never called", async () => {
    const answer = await new HttpCallout().post({
      url: `${receiver.url}/redirect`,
      headers: {},
      body: "",
      timeoutMs: 5000,
    });
    assert.equal(answer.status, 307);
    assert.ok(!hits.some((hit) => hit.startsWith("elsewhere")), hits.join("\n"));
  });

  it("reads at most maxResponseBytes of an answer", async () => {
    const answer = await new HttpCallout().post({
      url: `${receiver.url}/big`,
      headers: {},
      body: "",
      timeoutMs: 5000,
      maxResponseBytes: 1000,
    });
    assert.equal(answer.body.length, 1000);
    assert.equal(answer.truncated, true);
  });

  it("gives up after timeoutMs with CalloutFailed(timedOut)", async () => {
    await assert.rejects(
      new HttpCallout().post({ url: `${receiver.url}/silent`, headers: {}, body: "", timeoutMs: 200 }),
      (error: unknown) => error instanceof CalloutFailed && error.timedOut,
    );
  });

  it("a closed port is CalloutFailed, not timed out", async () => {
    const closed = await listen(() => undefined);
    const url = closed.url;
    await new Promise((done) => closed.server.close(done));
    await assert.rejects(
      new HttpCallout().post({ url, headers: {}, body: "", timeoutMs: 5000 }),
      (error: unknown) => error instanceof CalloutFailed && !error.timedOut,
    );
  });

  it("refuses, before sending, URLs aimed at the hub's own network", async () => {
    const strict = new HttpCallout({ allow: [] });
    const refused: Record<string, RegExp> = {
      "ftp://example.com/x": /scheme/,
      "https://user:pw@example.com/": /credentials/,
      "http://example.com/hook": /http: is allowed only/,
      [`${receiver.url}/hook`]: /http: is allowed only/,
      "https://10.0.0.1/": /private/,
      "https://172.20.1.1/": /private/,
      "https://192.168.1.1/": /private/,
      "https://169.254.169.254/latest/meta-data": /private/,
      "https://127.0.0.1/": /private/,
      "https://0.0.0.0/": /private/,
      "https://[::1]/": /private/,
      "https://[::ffff:10.0.0.1]/": /private/,
      "https://[fd00::1]/": /private/,
      "https://[fe80::1]/": /private/,
      "not a url": /absolute URL/,
    };
    for (const [url, reason] of Object.entries(refused)) {
      assert.match(strict.refusalOf(url) ?? "(allowed)", reason, url);
      await assert.rejects(strict.post({ url, headers: {}, body: "", timeoutMs: 1000 }), CalloutRefused, url);
    }
    assert.equal(strict.refusalOf("https://example.com/hook"), undefined);
    assert.equal(strict.refusalOf("https://93.184.216.34/hook"), undefined);
  });

  it("refuses a DNS name that resolves to a forbidden address, at connect time", async () => {
    const before = hits.length;
    const port = new URL(receiver.url).port;
    await assert.rejects(
      new HttpCallout({ allow: [] }).post({
        url: `https://localhost:${port}/hook`,
        headers: {},
        body: "",
        timeoutMs: 5000,
      }),
      (error: unknown) => error instanceof CalloutRefused && /resolves to (127\.0\.0\.1|::1)/.test(error.message),
    );
    assert.equal(hits.length, before);
  });

  it("an allow-list entry opens exactly its hosts and blocks", () => {
    const callout = new HttpCallout({ allow: ["ci.internal", "10.1.0.0/16"] });
    assert.equal(callout.refusalOf("http://ci.internal:8080/hook"), undefined);
    assert.equal(callout.refusalOf("http://10.1.2.3/hook"), undefined);
    assert.match(callout.refusalOf("https://10.2.0.1/hook") ?? "", /private/);
    assert.match(callout.refusalOf("http://other.internal/hook") ?? "", /http: is allowed only/);
  });
});
