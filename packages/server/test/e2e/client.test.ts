// @modelhub/client on its own: retries (429 and 503 with retry-after, what is not retried), Put Blob uploads sent
// again after a refusal, ranged downloads against a real hub's storage links, and a failed download leaving nothing.
// The misbehaving servers are real HTTP servers on loopback that answer as a busy hub would.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Transport } from "@modelhub/client";
import { ModelHubClient, ModelHubError, downloadFile, fetchTransport, uploadFile } from "@modelhub/client";
import { makeVersion0 } from "@modelhub/test-support/fixtures.js";
import { createIModelFromFile } from "@modelhub/test-support/flows.js";
import type { TestHub } from "../support/hub.js";
import { startTestHub } from "../support/hub.js";

type Handler = (request: IncomingMessage, body: Buffer, response: ServerResponse, count: number) => void;

/** A loopback HTTP server answering with `handler`; `requests` counts what it received. */
async function fakeServer(
  handler: Handler,
): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => handler(request, Buffer.concat(chunks), response, ++count));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const apiError = (response: ServerResponse, status: number, code: string, headers: Record<string, string> = {}) => {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify({ error: { code, message: `${code} happened.` } }));
};
const iModelJson = { iModel: { id: "m1", name: "m" } };

describe("@modelhub/client", () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "modelhub-client-"));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("tries a 429 again after its retry-after (seconds), then returns the answer", async () => {
    const times: number[] = [];
    const server = await fakeServer((_req, _body, res, n) => {
      times.push(Date.now());
      if (n < 3) return apiError(res, 429, "TooManyRequests", { "retry-after": n === 1 ? "1" : "0" });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(iModelJson));
    });
    try {
      const client = new ModelHubClient({ url: server.url, accessToken: "alice" });
      assert.deepEqual(await client.getIModel("m1"), iModelJson.iModel);
      assert.equal(server.requests(), 3);
      // The first wait honoured retry-after: 1 (with margin for timers).
      assert.ok(times[1]! - times[0]! >= 900, `waited ${times[1]! - times[0]!} ms`);
    } finally {
      await server.close();
    }
  });

  it("tries a POST again on 503 with retry-after, not on 503 without it (it may have been done); gives up after `attempts`", async () => {
    const busy = await fakeServer((_req, _body, res, n) => {
      if (n === 1) return apiError(res, 503, "ServerBusy", { "retry-after": "0" });
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify(iModelJson));
    });
    const failing = await fakeServer((_req, _body, res) => apiError(res, 503, "ServiceUnavailable"));
    const limited = await fakeServer((_req, _body, res) =>
      apiError(res, 429, "TooManyRequests", { "retry-after": "0" }),
    );
    try {
      const created = await new ModelHubClient({ url: busy.url, accessToken: "alice" }).createIModel({
        iTwinId: "t",
        name: "m",
      });
      assert.equal(created.id, "m1");
      assert.equal(busy.requests(), 2);

      await assert.rejects(
        new ModelHubClient({ url: failing.url, accessToken: "alice" }).createIModel({ iTwinId: "t", name: "m" }),
        (err: unknown) => {
          assert.ok(err instanceof ModelHubError);
          assert.equal(err.status, 503);
          assert.equal(err.code, "ServiceUnavailable");
          return true;
        },
      );
      assert.equal(failing.requests(), 1);

      await assert.rejects(
        new ModelHubClient({ url: limited.url, accessToken: "alice", retry: { attempts: 3 } }).getIModel("m1"),
        /TooManyRequests happened/,
      );
      assert.equal(limited.requests(), 3);
    } finally {
      await Promise.all([busy.close(), failing.close(), limited.close()]);
    }
  });

  it("the one retry policy: a GET is sent again on 500/502/504 and on no answer; a POST only when the caller marks it idempotent", async () => {
    const statuses = [500, 502, 504];
    const flaky = await fakeServer((_req, _body, res, n) => {
      if (n <= statuses.length) return apiError(res, statuses[n - 1]!, "Flaky");
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(iModelJson));
    });
    const broken = await fakeServer((_req, _body, res) => apiError(res, 502, "BadGateway"));
    const closed = await fakeServer(() => undefined);
    await closed.close();
    try {
      const retries: string[] = [];
      const client = new ModelHubClient({
        url: flaky.url,
        accessToken: "alice",
        retry: { baseDelayMs: 1 },
        onRetry: (e) => retries.push(`${e.method} ${e.reason} ${e.retry}/${e.maxRetries}`),
      });
      assert.deepEqual(await client.getIModel("m1"), iModelJson.iModel);
      assert.equal(flaky.requests(), 4);
      assert.deepEqual(retries, ["GET HTTP 500 1/4", "GET HTTP 502 2/4", "GET HTTP 504 3/4"]);

      const post = new ModelHubClient({
        url: broken.url,
        accessToken: "alice",
        retry: { baseDelayMs: 1, attempts: 3 },
      });
      await assert.rejects(
        post.send("POST", "", { body: {} }),
        (err: unknown) => err instanceof ModelHubError && err.status === 502,
      );
      assert.equal(broken.requests(), 1, "a POST that may have been done is not sent again");
      await assert.rejects(
        post.send("POST", "", { body: {}, idempotent: true }),
        (err: unknown) => err instanceof ModelHubError && err.status === 502,
      );
      assert.equal(broken.requests(), 1 + 3, "one the caller marks idempotent is, `attempts` times in all");

      const unreachable = new ModelHubClient({
        url: closed.url,
        accessToken: "alice",
        retry: { baseDelayMs: 1, attempts: 2 },
      });
      let tries = 0;
      await assert.rejects(
        unreachable.send("GET", "/m1", { onRetry: () => tries++ }),
        (err: unknown) => err instanceof ModelHubError && err.status === 0 && err.code === "NetworkError",
      );
      assert.equal(tries, 1, "a GET without an answer is tried again");
      tries = 0;
      await assert.rejects(
        unreachable.send("POST", "", { body: {}, onRetry: () => tries++ }),
        (err: unknown) => err instanceof ModelHubError && err.code === "NetworkError",
      );
      assert.equal(tries, 0, "a POST without an answer is not");
    } finally {
      await Promise.all([flaky.close(), broken.close()]);
    }
  });

  it("sends every request through a pluggable transport, with a token asked anew for each try", async () => {
    const seen: string[] = [];
    const server = await fakeServer((req, _body, res, n) => {
      seen.push(String(req.headers.authorization));
      if (n === 1) return apiError(res, 503, "ServerBusy", { "retry-after": "0" });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(iModelJson));
    });
    try {
      const sent: string[] = [];
      const inner = fetchTransport();
      const transport: Transport = (request) => {
        sent.push(`${request.method} ${new URL(request.url).pathname}`);
        return inner(request);
      };
      let token = 0;
      const client = new ModelHubClient({ url: server.url, accessToken: () => `t${++token}`, transport });
      assert.deepEqual(await client.getIModel("m1"), iModelJson.iModel);
      assert.deepEqual(sent, ["GET /imodels/m1", "GET /imodels/m1"]);
      assert.deepEqual(seen, ["Bearer t1", "Bearer t2"]);
      // A derived client carries its own authorization on the same transport.
      assert.deepEqual(
        await client.with({ authorization: (attempt) => `Bearer scoped${attempt}` }).getIModel("m1"),
        iModelJson.iModel,
      );
      assert.equal(seen.at(-1), "Bearer scoped0");
      assert.equal(sent.length, 3);
    } finally {
      await server.close();
    }
  });

  it("sends the whole file again when the storage answers 503 ServerBusy, and reports progress up to the size", async () => {
    const path = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const bodies: Buffer[] = [];
    const storage = await fakeServer((req, body, res, n) => {
      bodies.push(body);
      assert.equal(req.headers["x-ms-blob-type"], "BlockBlob");
      if (n === 1) {
        res.writeHead(503, { "retry-after": "0", "content-type": "application/xml" });
        return res.end(
          '<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>Busy.</Message></Error>',
        );
      }
      res.writeHead(201).end();
    });
    try {
      const seen: number[] = [];
      await uploadFile(`${storage.url}/blob`, path, { onProgress: (done) => seen.push(done) });
      const file = await readFile(path);
      assert.equal(storage.requests(), 2);
      assert.ok(bodies[1]!.equals(file), "the second try carried the whole file");
      assert.equal(seen.at(-1), file.length);
      for (let i = 1; i < seen.length; i++)
        assert.ok(seen[i]! >= seen[i - 1]! || seen[i] === 0, "progress restarts at 0 only on a new try");
    } finally {
      await storage.close();
    }
  });

  it("an upload the storage refuses throws its XML error code", async () => {
    const path = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    const storage = await fakeServer((_req, _body, res) => {
      res.writeHead(403, { "content-type": "application/xml" });
      res.end(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Signature expired.</Message></Error>',
      );
    });
    try {
      await assert.rejects(
        uploadFile(`${storage.url}/blob`, path),
        (err: unknown) => err instanceof ModelHubError && err.code === "AuthenticationFailed" && err.status === 403,
      );
    } finally {
      await storage.close();
    }
  });

  describe("against a real hub", () => {
    let hub: TestHub;
    let version0: string;
    before(async () => {
      hub = await startTestHub();
      version0 = await makeVersion0(join(tmpdir(), "modelhub-fixtures"));
    });
    after(async () => {
      await hub?.close();
    });

    it("downloads a baseline in ranged GETs through its storage link: the exact bytes, progress to the end, nothing left over", async () => {
      const iModel = await createIModelFromFile(hub, version0);
      const client = new ModelHubClient({ url: hub.url, accessToken: "alice" });
      const baseline = await client.getBaselineFile(iModel.id as string);
      assert.ok(baseline._links.download);
      const ranges: string[] = [];
      const counting = (url: string, init: RequestInit) => {
        ranges.push(new Headers(init.headers).get("range") ?? "none");
        return fetch(url, init);
      };
      const target = join(work, "baseline.bim");
      const progress: [number, number | undefined][] = [];
      const size = await downloadFile(baseline._links.download.href, target, {
        chunkBytes: 64 * 1024,
        fetch: counting,
        onProgress: (done, total) => progress.push([done, total]),
      });
      // The hub stamps the baseline with the iModel's ids: compare with one plain GET of the same link.
      const expected = Buffer.from(await (await fetch(baseline._links.download.href)).arrayBuffer());
      assert.equal(expected.length, (await stat(version0)).size);
      assert.equal(size, expected.length);
      assert.equal(
        createHash("sha256")
          .update(await readFile(target))
          .digest("hex"),
        createHash("sha256").update(expected).digest("hex"),
      );
      assert.equal(ranges.length, Math.ceil(expected.length / (64 * 1024)), `one GET per 64 KiB: ${ranges.join(", ")}`);
      assert.equal(ranges[1], `bytes=${64 * 1024}-${128 * 1024 - 1}`);
      assert.deepEqual(progress.at(-1), [expected.length, expected.length]);
      assert.deepEqual(await readdir(work).then((names) => names.filter((n) => n.endsWith(".part"))), []);
    });

    it("a download cut off by the server fails and leaves neither the file nor a .part", async () => {
      const storage = await fakeServer((_req, _body, res, n) => {
        if (n === 1) {
          res.writeHead(206, { "content-range": "bytes 0-9/30", "content-length": "10" });
          return res.end(Buffer.alloc(10, 1));
        }
        res
          .writeHead(500, { "content-type": "application/xml" })
          .end("<Error><Code>InternalError</Code><Message>Disk on fire.</Message></Error>");
      });
      try {
        const target = join(work, "cut.bin");
        await assert.rejects(
          downloadFile(`${storage.url}/blob`, target, { chunkBytes: 10, retry: { baseDelayMs: 1 } }),
          (err: unknown) => err instanceof ModelHubError && err.code === "InternalError",
        );
        assert.equal(
          storage.requests(),
          1 + 5,
          "the failed range was asked again under the policy (5 tries), the first one not",
        );
        await assert.rejects(stat(target));
        await assert.rejects(stat(`${target}.part`));
      } finally {
        await storage.close();
      }
    });

    it("a failed initialization is reported with the hub's reason", async () => {
      const client = new ModelHubClient({ url: `${hub.url}/imodels/`, accessToken: "Bearer alice" });
      assert.equal(client.apiBase, `${hub.url}/imodels`);
      const junk = join(work, "junk.bim");
      await writeFile(junk, Buffer.alloc(5000, 3));
      await assert.rejects(
        client.createIModelFromFile({ iTwinId: "12121212-1111-4111-8111-111111111111", name: "junk", path: junk }),
        (err: unknown) =>
          err instanceof ModelHubError &&
          err.code === "iModelInitializationFailed" &&
          /not an iModel/.test(err.message),
      );
    });
  });
});
