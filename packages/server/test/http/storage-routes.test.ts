import "reflect-metadata"; // the iTwin object-storage clients use inversify decorators
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import type { ClientRequest } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, beforeEach, describe, it } from "node:test";
import { BlockBlobClient } from "@azure/storage-blob";
import { createDefaultClientStorage } from "@itwin/imodels-access-backend/lib/cjs/DefaultClientStorage.js";
import Fastify from "fastify";
import type { FastifyInstance } from "fastify";
import { FsBlobStore } from "../../src/adapters/blob/fs-blob-store.js";
import { parseBlockList, parseRange, storageRoutes, storageUrl } from "../../src/http/storage/storage-routes.js";
import { UrlSigner, loadOrCreateSecret } from "../../src/http/storage/url-signer.js";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The object-storage-azure the official clients load (3.x, nested under imodels-access-backend). */
const requireFromAccess = createRequire(createRequire(import.meta.url).resolve("@itwin/imodels-access-backend"));
const objectStorageAzureVersion = (requireFromAccess("@itwin/object-storage-azure/package.json") as { version: string })
  .version;

/** Mirrors the app's query parser (src/http/query.ts): `%xx` decoded, `+` kept, the first occurrence wins. */
function parseQuery(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const key = decodeURIComponent(eq >= 0 ? part.slice(0, eq) : part);
    if (!(key in out)) out[key] = eq >= 0 ? decodeURIComponent(part.slice(eq + 1)) : "";
  }
  return out;
}

interface Seen {
  method: string;
  path: string;
  comp?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Waits until `check` holds, polling; fails the test after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Descriptors of this process that point at `path` (Linux /proc). */
async function openDescriptors(path: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir("/proc/self/fd")) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => "")) === path) count++;
  }
  return count;
}

describe("storage routes (Azure Blob subset over the fs blob store)", () => {
  let dir: string;
  let root: string;
  let app: FastifyInstance;
  let origin: string;
  let signer: UrlSigner;
  let blobStore: FsBlobStore;
  let seen: Seen[] = [];
  const url = (key: string, permission: "r" | "w", ttl = 600) => storageUrl(origin, key, signer, permission, ttl);
  const file = async (name: string, size: number) => {
    const data = randomBytes(size);
    const path = join(dir, name);
    await writeFile(path, data);
    return { data, path };
  };
  const tempFiles = () => readdir(join(root, ".tmp"));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-storage-"));
    root = join(dir, "blobs");
    blobStore = new FsBlobStore(root);
    signer = new UrlSigner(await loadOrCreateSecret(dir));
    // forceCloseConnections: a keep-alive socket whose last response was finishing while close() looked for idle
    // ones would otherwise hold close() until the keep-alive timeout.
    app = Fastify({ routerOptions: { querystringParser: parseQuery }, forceCloseConnections: true });
    // As in the real app, JSON parsing exists outside the storage plugin; the plugin must not be affected by it.
    app.addHook("onRequest", async (request) => {
      const query = request.query as Record<string, string>;
      seen.push({
        method: request.method,
        path: request.url.split("?")[0]!,
        comp: query.comp,
        headers: { ...request.headers },
      });
    });
    await app.register(storageRoutes, { prefix: "/storage", blobStore, signer });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    assert.ok(address && typeof address === "object");
    origin = `http://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen = [];
  });

  it("keeps one signing secret per data directory, readable by the owner only", async () => {
    const again = await loadOrCreateSecret(dir);
    assert.equal((await stat(join(dir, "secret.key"))).mode & 0o777, 0o600);
    assert.equal(again.length, 32);
    const query = parseQuery(signer.sign("files/x", "r", 60));
    assert.deepEqual(new UrlSigner(again).verify("files/x", query, "r"), { ok: true });
    // Several processes starting at once agree on one secret; a fresh directory gets a different one.
    const other = await mkdtemp(join(tmpdir(), "modelhub-secret-"));
    try {
      const secrets = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSecret(join(other, "data"))));
      assert.equal(new Set(secrets.map((s) => s.toString("hex"))).size, 1);
      assert.notEqual(secrets[0]!.toString("hex"), again.toString("hex"));
      assert.deepEqual((await readdir(join(other, "data"))).sort(), ["secret.key"]);
      await writeFile(join(other, "data", "secret.key"), Buffer.alloc(5));
      await assert.rejects(loadOrCreateSecret(join(other, "data")), /at least 32/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it("storageUrl builds path-style Azure URLs with encoded segments", () => {
    const href = storageUrl("http://127.0.0.1:3000", "files/m/a b+c#.cs", signer, "r", 60);
    const parsed = new URL(href);
    assert.equal(parsed.pathname, "/storage/modelhub/files/m/a%20b%2Bc%23.cs");
    assert.deepEqual(Object.keys(parseQuery(parsed.search.slice(1))), ["sgv", "se", "sp", "sn", "sig"]);
  });

  it("@azure/storage-blob: single-shot uploadFile and downloadToFile round-trip the bytes", async () => {
    const { data, path } = await file("single.bin", 2 * 1024 * 1024 + 17);
    const key = "files/m1/changesets/single.cs";
    await new BlockBlobClient(url(key, "w")).uploadFile(path);
    const puts = seen.filter((r) => r.method === "PUT");
    assert.equal(puts.length, 1);
    assert.equal(puts[0]!.headers["x-ms-blob-type"], "BlockBlob");
    assert.equal(puts[0]!.headers["content-type"], "application/octet-stream");
    const out = join(dir, "single.out");
    const response = await new BlockBlobClient(url(key, "r")).downloadToFile(out);
    assert.equal(response.contentLength, data.length);
    assert.equal(sha256(await readFile(out)), sha256(data));
    const properties = await new BlockBlobClient(url(key, "r")).getProperties();
    assert.equal(properties.contentLength, data.length);
    assert.equal(properties.blobType, "BlockBlob");
  });

  it("@azure/storage-blob: block upload (Put Block + Put Block List) and ranged parallel download", async () => {
    const { data, path } = await file("blocks.bin", 3 * 1024 * 1024 + 12345);
    const key = "files/m1/baseline/with space+plus.bim";
    await new BlockBlobClient(url(key, "w")).uploadFile(path, {
      blockSize: 1024 * 1024,
      maxSingleShotSize: 1024 * 1024,
      concurrency: 3,
    });
    assert.deepEqual(
      seen.filter((r) => r.method === "PUT").map((r) => r.comp),
      ["block", "block", "block", "block", "blocklist"],
    );
    assert.equal(sha256(await readFile(join(root, key))), sha256(data));
    assert.deepEqual(await readdir(join(root, ".blocks")), [], "staged blocks are removed after the commit");
    seen = [];
    // downloadToBuffer first asks for properties (HEAD), then fetches x-ms-range slices in parallel.
    const buffer = await new BlockBlobClient(url(key, "r")).downloadToBuffer(0, undefined, {
      blockSize: 512 * 1024,
      concurrency: 4,
    });
    assert.equal(sha256(buffer), sha256(data));
    assert.equal(seen[0]!.method, "HEAD");
    const ranged = seen.filter((r) => r.method === "GET" && typeof r.headers["x-ms-range"] === "string");
    assert.equal(ranged.length, 7);
  });

  it("the official clients' default storage (azure and google types) uploads and downloads by URL", async () => {
    assert.match(objectStorageAzureVersion, /^3\./);
    const storage = createDefaultClientStorage();
    for (const storageType of ["azure", "google"]) {
      seen = [];
      const { data, path } = await file(`${storageType}.bin`, 1024 * 1024 + 3);
      const key = `files/m2/changesets/${storageType}.cs`;
      await storage.upload({ url: url(key, "w"), storageType, data: path });
      const put = seen.find((r) => r.method === "PUT")!;
      if (storageType === "google") {
        // Plain axios: a chunked stream labelled as a form.
        assert.equal(put.headers["content-type"], "application/x-www-form-urlencoded");
        assert.equal(put.headers["transfer-encoding"], "chunked");
        assert.equal(put.headers["content-length"], undefined);
      } else {
        assert.equal(put.headers["x-ms-blob-type"], "BlockBlob");
      }
      const localPath = join(dir, `${storageType}.out`);
      await storage.download({ url: url(key, "r"), storageType, transferType: "local", localPath });
      assert.equal(sha256(await readFile(localPath)), sha256(data), storageType);
      const stream = await storage.download({ url: url(key, "r"), storageType, transferType: "stream" });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      assert.equal(sha256(Buffer.concat(chunks)), sha256(data), storageType);
      // Re-uploads to the same URL (client retries) replace the blob.
      const second = await file(`${storageType}-2.bin`, 4096);
      await storage.upload({ url: url(key, "w"), storageType, data: second.path });
      const buffer = await storage.download({ url: url(key, "r"), storageType, transferType: "buffer" });
      assert.equal(sha256(buffer), sha256(second.data));
    }
  });

  it("plain fetch: PUT with any content type or none, chunked or not; GET, HEAD and ranges", async () => {
    const data = randomBytes(100_000);
    const key = "files/m3/plain.bin";
    const put = await fetch(url(key, "w"), {
      method: "PUT",
      body: data,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(put.status, 201);
    const etag = put.headers.get("etag");
    assert.match(etag ?? "", /^".+"$/);
    assert.ok(put.headers.get("last-modified"));
    assert.ok(put.headers.get("x-ms-request-id"));
    assert.ok(put.headers.get("x-ms-version"));

    // Chunked (no content-length, no content type), as a stream body is sent.
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(data.subarray(0, 40_000));
        controller.enqueue(data.subarray(40_000));
        controller.close();
      },
    });
    const put2 = await fetch(url(key, "w"), { method: "PUT", body: chunked, duplex: "half" } as RequestInit);
    assert.equal(put2.status, 201);
    assert.notEqual(put2.headers.get("etag"), etag);
    for (const [name, type] of [
      ["json", "application/json"],
      ["xml", "application/xml"],
      ["text", "text/plain"],
    ] as const) {
      const response = await fetch(url(`files/m3/${name}.bin`, "w"), {
        method: "PUT",
        body: "{not json <or xml",
        headers: { "content-type": type },
      });
      assert.equal(response.status, 201, type);
      assert.equal(await readFile(join(root, `files/m3/${name}.bin`), "utf8"), "{not json <or xml");
    }
    const appendBlob = await fetch(url("files/m3/append.bin", "w"), {
      method: "PUT",
      body: "x",
      headers: { "x-ms-blob-type": "AppendBlob" },
    });
    assert.equal(appendBlob.status, 400);
    assert.equal(appendBlob.headers.get("x-ms-error-code"), "InvalidHeaderValue");
    await appendBlob.arrayBuffer();

    const get = await fetch(url(key, "r"));
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("content-length"), String(data.length));
    assert.equal(get.headers.get("accept-ranges"), "bytes");
    assert.equal(get.headers.get("content-type"), "application/octet-stream");
    assert.equal(get.headers.get("x-ms-blob-type"), "BlockBlob");
    assert.ok(get.headers.get("last-modified"));
    const currentEtag = get.headers.get("etag")!;
    assert.equal(currentEtag, put2.headers.get("etag"));
    assert.equal(sha256(Buffer.from(await get.arrayBuffer())), sha256(data));

    const head = await fetch(url(key, "r"), { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(data.length));
    assert.equal(head.headers.get("etag"), currentEtag);

    // What BackendIModelsAccess.downloadV1Checkpoint asks first (imodels-api.md §7.6).
    const range = await fetch(url(key, "r"), { headers: { range: "bytes=0-0" } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get("content-range"), `bytes 0-0/${data.length}`);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), data.subarray(0, 1));

    // The SDK's resume request; x-ms-range wins over Range.
    const msRange = await fetch(url(key, "r"), {
      headers: { "x-ms-range": "bytes=99000-", range: "bytes=0-1", "if-match": currentEtag },
    });
    assert.equal(msRange.status, 206);
    assert.equal(msRange.headers.get("content-range"), `bytes 99000-99999/${data.length}`);
    assert.equal(msRange.headers.get("content-length"), "1000");
    assert.deepEqual(Buffer.from(await msRange.arrayBuffer()), data.subarray(99_000));

    const suffix = await fetch(url(key, "r"), { headers: { range: "bytes=-10" } });
    assert.equal(suffix.status, 206);
    assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), data.subarray(data.length - 10));
    const pastEnd = await fetch(url(key, "r"), { headers: { range: "bytes=99990-200000" } });
    assert.equal(pastEnd.status, 206);
    assert.equal(pastEnd.headers.get("content-range"), `bytes 99990-99999/${data.length}`);
    assert.deepEqual(Buffer.from(await pastEnd.arrayBuffer()), data.subarray(99_990));

    const beyond = await fetch(url(key, "r"), { headers: { range: "bytes=100000-" } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get("content-range"), `bytes */${data.length}`);
    assert.equal(beyond.headers.get("x-ms-error-code"), "InvalidRange");
    await beyond.arrayBuffer();

    // A malformed Range is ignored; a malformed x-ms-range is refused.
    const odd = await fetch(url(key, "r"), { headers: { range: "bytes=0-1,5-6" } });
    assert.equal(odd.status, 200);
    assert.equal((await odd.arrayBuffer()).byteLength, data.length);
    const badMs = await fetch(url(key, "r"), { headers: { "x-ms-range": "lines=1-2" } });
    assert.equal(badMs.status, 400);
    await badMs.arrayBuffer();

    const stale = await fetch(url(key, "r"), { headers: { "x-ms-range": "bytes=0-9", "if-match": '"stale"' } });
    assert.equal(stale.status, 412);
    assert.equal(stale.headers.get("x-ms-error-code"), "ConditionNotMet");
    await stale.arrayBuffer();
    const anyEtag = await fetch(url(key, "r"), { headers: { "if-match": "*" } });
    assert.equal(anyEtag.status, 200);
    await anyEtag.arrayBuffer();
  });

  it("refuses bad, expired, foreign and under-privileged signatures with 403 AuthenticationFailed", async () => {
    const key = "files/m4/secret.bin";
    await blobStore.put(key, Readable.from([Buffer.from("secret")]));
    const expectDenied = async (response: Response) => {
      assert.equal(response.status, 403);
      assert.equal(response.headers.get("x-ms-error-code"), "AuthenticationFailed");
      assert.match(
        await response.text(),
        /^<\?xml version="1\.0" encoding="utf-8"\?><Error><Code>AuthenticationFailed<\/Code><Message>/,
      );
    };
    const good = url(key, "r");
    assert.equal((await fetch(good)).status, 200);
    await expectDenied(await fetch(good.replace(/sig=.(.*)$/, "sig=A$1"))); // tampered signature
    await expectDenied(await fetch(good.replace(/se=\d+/, (m) => `se=${Number(m.slice(3)) + 1}`))); // extended expiry
    await expectDenied(await fetch(`${origin}/storage/modelhub/${key}`)); // no signature
    await expectDenied(await fetch(url(key, "r", -10))); // expired
    await expectDenied(await fetch(url("files/m4/other.bin", "r").replace("other.bin", "secret.bin"))); // another blob's
    await expectDenied(await fetch(url(key, "w"))); // a write link cannot read
    await expectDenied(await fetch(url(key, "r"), { method: "PUT", body: "overwrite" })); // a read link cannot write
    await expectDenied(await fetch(url(key, "r").replace("sp=r", "sp=w"), { method: "PUT", body: "overwrite" }));
    await expectDenied(await fetch(url(key, "w", -10), { method: "PUT", body: "overwrite" }));
    await expectDenied(await fetch(`${url(key, "r")}&comp=block&blockid=QUFB`, { method: "PUT", body: "overwrite" }));
    await expectDenied(
      await fetch(new UrlSigner(randomBytes(32)).sign(key, "r", 60).replace(/^/, `${origin}/storage/modelhub/${key}?`)),
    );
    assert.equal(await readFile(join(root, key), "utf8"), "secret");
    // The SDK surfaces the refusal as an error too.
    await assert.rejects(
      new BlockBlobClient(url(key, "r")).upload("x", 1),
      (err: { statusCode?: number }) => err.statusCode === 403,
    );
    await assert.rejects(
      new BlockBlobClient(url(key, "w")).downloadToBuffer(),
      (err: { statusCode?: number }) => err.statusCode === 403,
    );
  });

  it("an upload link names its size: a larger upload is refused (413, nothing kept), a changed size is a bad signature", async () => {
    const key = "files/m4b/sized.bin";
    const sized = storageUrl(origin, key, signer, "w", 600, 10);
    assert.match(sized, /[?&]sz=10&/);
    const tooLarge = await fetch(sized, { method: "PUT", body: Buffer.alloc(11, 1) });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.headers.get("x-ms-error-code"), "RequestBodyTooLarge");
    assert.equal(await blobStore.stat(key), undefined);
    const widened = await fetch(sized.replace("sz=10", "sz=11"), { method: "PUT", body: Buffer.alloc(11, 1) });
    assert.equal(widened.status, 403);
    assert.equal(widened.headers.get("x-ms-error-code"), "AuthenticationFailed");
    const dropped = await fetch(sized.replace("sz=10&", ""), { method: "PUT", body: Buffer.alloc(11, 1) });
    assert.equal(dropped.status, 403, "the size cannot be removed from the link either");
    assert.equal(await blobStore.stat(key), undefined);
    assert.equal((await fetch(sized, { method: "PUT", body: Buffer.alloc(10, 1) })).status, 201);
    assert.equal((await blobStore.stat(key))?.size, 10);
  });

  it("answers a missing blob with 404 BlobNotFound, bad paths and block lists with 400", async () => {
    const missing = await fetch(url("files/m5/none.bin", "r"));
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-ms-error-code"), "BlobNotFound");
    assert.match(await missing.text(), /<Code>BlobNotFound<\/Code>/);
    const missingHead = await fetch(url("files/m5/none.bin", "r"), { method: "HEAD" });
    assert.equal(missingHead.status, 404);
    const outside = await fetch(`${origin}/storage/modelhub/other/x?${signer.sign("other/x", "r", 60)}`);
    assert.equal(outside.status, 400);
    await outside.arrayBuffer();

    const key = "files/m5/blocks.bin";
    const block = await fetch(`${url(key, "w")}&comp=block&blockid=QUFB`, { method: "PUT", body: "AAA" });
    assert.equal(block.status, 201);
    const noId = await fetch(`${url(key, "w")}&comp=block`, { method: "PUT", body: "AAA" });
    assert.equal(noId.status, 400);
    await noId.arrayBuffer();
    const badXml = await fetch(`${url(key, "w")}&comp=blocklist`, {
      method: "PUT",
      body: "<BlockList><Latest>QUFB</Latest>",
      headers: { "content-type": "application/xml" },
    });
    assert.equal(badXml.status, 400);
    assert.equal(badXml.headers.get("x-ms-error-code"), "InvalidXmlDocument");
    assert.match(await badXml.text(), /^<\?xml [^>]*\?><Error><Code>InvalidXmlDocument<\/Code><Message>/);
    const unknown = await fetch(`${url(key, "w")}&comp=blocklist`, {
      method: "PUT",
      body: '<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>QUFB</Latest><Uncommitted>QkJC</Uncommitted></BlockList>',
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.headers.get("x-ms-error-code"), "InvalidBlockList");
    await unknown.arrayBuffer();
    assert.equal((await fetch(url(key, "r"))).status, 404);
    const commit = await fetch(`${url(key, "w")}&comp=blocklist`, {
      method: "PUT",
      body: "<BlockList><Committed>QUFB</Committed><Latest>QUFB</Latest></BlockList>",
    });
    assert.equal(commit.status, 201);
    assert.match(commit.headers.get("etag") ?? "", /^".+"$/);
    assert.equal(await (await fetch(url(key, "r"))).text(), "AAAAAA");
    // An empty list makes an empty blob, as in Azure.
    const empty = await fetch(`${url(key, "w")}&comp=blocklist`, { method: "PUT", body: "<BlockList></BlockList>" });
    assert.equal(empty.status, 201);
    const emptyGet = await fetch(url(key, "r"));
    assert.equal(emptyGet.headers.get("content-length"), "0");
    assert.equal((await emptyGet.arrayBuffer()).byteLength, 0);
    const tooBig = await fetch(`${url(key, "w")}&comp=blocklist`, {
      method: "PUT",
      body: Buffer.alloc(9 * 1024 * 1024, 0x20),
    });
    assert.equal(tooBig.status, 413);
    await tooBig.arrayBuffer();
  });

  it("streams uploads to disk while they arrive (nothing buffered whole)", async () => {
    const key = "files/m8/streamed.bin";
    const target = new URL(url(key, "w"));
    const first = randomBytes(4 * 1024 * 1024);
    const second = randomBytes(4 * 1024 * 1024);
    const req = httpRequest({
      host: target.hostname,
      port: target.port,
      method: "PUT",
      path: target.pathname + target.search,
    });
    const answered = new Promise<number>((resolve, reject) => {
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
    });
    req.write(first);
    // Half the body is on its way and the request is not finished: the server must already be writing it.
    await until("the first half on disk", async () => {
      for (const name of await tempFiles()) {
        if ((await stat(join(root, ".tmp", name)).catch(() => undefined))?.size === first.length) return true;
      }
      return false;
    });
    assert.equal(await blobStore.stat(key), undefined, "invisible until complete");
    req.end(second);
    assert.equal(await answered, 201);
    assert.equal(sha256(await readFile(join(root, key))), sha256(Buffer.concat([first, second])));
    assert.deepEqual(await tempFiles(), []);
  });

  it("a client that aborts mid-upload (blob or block) leaves the previous blob and no temp file", async () => {
    const key = "files/m6/abort.bin";
    await fetch(url(key, "w"), { method: "PUT", body: "previous" });
    for (const suffix of ["", "&comp=block&blockid=QUFB"]) {
      const target = new URL(url(key, "w") + suffix);
      let req: ClientRequest | undefined;
      const closed = new Promise<void>((resolve) => {
        req = httpRequest({
          host: target.hostname,
          port: target.port,
          method: "PUT",
          path: target.pathname + target.search,
          headers: { "content-length": String(10 * 1024 * 1024) },
        });
        req.on("error", () => resolve());
        req.on("close", () => resolve());
      });
      req!.write(randomBytes(256 * 1024));
      await until("the upload to reach the disk", async () => (await tempFiles()).length > 0);
      req!.destroy();
      await closed;
      await until("the temp file to go", async () => (await tempFiles()).length === 0);
    }
    assert.deepEqual(await readdir(join(root, ".blocks")), []);
    assert.equal(await (await fetch(url(key, "r"))).text(), "previous");
    const commit = await fetch(`${url(key, "w")}&comp=blocklist`, {
      method: "PUT",
      body: "<BlockList><Latest>QUFB</Latest></BlockList>",
    });
    assert.equal(commit.status, 400, "the aborted block was not staged");
    await commit.arrayBuffer();
  });

  it(
    "a client that goes away mid-download does not keep the file open or break the server",
    { skip: !existsSync("/proc/self/fd") },
    async () => {
      const key = "files/m7/big.bin";
      await fetch(url(key, "w"), { method: "PUT", body: randomBytes(16 * 1024 * 1024) });
      const path = join(root, key);
      const controller = new AbortController();
      const response = await fetch(url(key, "r"), { signal: controller.signal });
      const reader = response.body!.getReader();
      await reader.read();
      assert.equal(await openDescriptors(path), 1, "the server is streaming from the file");
      controller.abort();
      await assert.rejects(reader.read());
      await until("the server to close the file", async () => (await openDescriptors(path)) === 0);
      const again = await fetch(url(key, "r"), { headers: { range: "bytes=0-3" } });
      assert.equal(again.status, 206);
      assert.equal((await again.arrayBuffer()).byteLength, 4);
    },
  );
});

describe("storage wire helpers", () => {
  it("parseRange", () => {
    assert.deepEqual(parseRange("bytes=0-9", 100), { start: 0, end: 9 });
    assert.deepEqual(parseRange("bytes=90-", 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange("bytes=90-500", 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange("bytes=-5", 100), { start: 95, end: 99 });
    assert.deepEqual(parseRange("bytes=-500", 100), { start: 0, end: 99 });
    assert.equal(parseRange("bytes=100-", 100), "unsatisfiable");
    assert.equal(parseRange("bytes=0-", 0), "unsatisfiable");
    assert.equal(parseRange("bytes=-0", 100), "unsatisfiable");
    for (const bad of ["bytes=", "bytes=-", "bytes=5-3", "bytes=0-1,3-4", "items=0-1", "bytes=a-b"])
      assert.equal(parseRange(bad, 100), "malformed", bad);
  });

  it("parseBlockList", () => {
    const sdk =
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><BlockList><Latest>QQ==</Latest><Latest>Qg==</Latest></BlockList>';
    assert.deepEqual(parseBlockList(sdk), ["QQ==", "Qg=="]);
    assert.deepEqual(
      parseBlockList(
        "\uFEFF<BlockList>\n  <Committed>a</Committed>\n  <Uncommitted> b </Uncommitted>\n  <Latest>c&amp;</Latest>\n</BlockList>\n",
      ),
      ["a", "b", "c&"],
    );
    assert.deepEqual(parseBlockList("<BlockList/>"), []);
    for (const bad of [
      "",
      "<BlockList>",
      "<BlockList><Latest>a</Committed></BlockList>",
      "<BlockList><Latest>a</Latest>x</BlockList>",
      "<BlockList><Latest></Latest></BlockList>",
      "<Other/>",
      "<BlockList></BlockList><BlockList></BlockList>",
    ]) {
      assert.equal(parseBlockList(bad), undefined, bad);
    }
    // 50,000 ids (Azure's maximum) parse quickly.
    const ids = Array.from({ length: 50_000 }, (_, i) =>
      Buffer.from(`${"x".repeat(58)}${String(i).padStart(6, "0")}`).toString("base64"),
    );
    const started = Date.now();
    assert.deepEqual(
      parseBlockList(`<BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`),
      ids,
    );
    assert.ok(Date.now() - started < 2000);
  });
});
