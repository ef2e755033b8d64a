import "reflect-metadata"; // the iTwin object-storage clients use inversify decorators
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BlockBlobClient } from "@azure/storage-blob";
import Fastify from "fastify";
import type { FastifyInstance } from "fastify";
import { FsBlobStore } from "../../src/adapters/blob/fs-blob-store.js";
import { storageRoutes } from "../../src/http/storage/storage-routes.js";
import { UrlSigner, loadOrCreateSecret, storageUrl } from "../../src/http/storage/url-signer.js";

/**
 * The @itwin/object-storage-azure the official clients really use (3.x, nested under imodels-access-backend; the
 * hoisted copy is core-backend's 2.x). Typed here by the calls the clients make (imodels-api.md §7.1).
 */
interface UrlClientStorage {
  upload(input: { url: string; storageType: string; data: string }): Promise<void>;
  download(input: { url: string; storageType: string; transferType: "local"; localPath: string }): Promise<string>;
  download(input: { url: string; storageType: string; transferType: "stream" }): Promise<NodeJS.ReadableStream>;
}
const requireFromAccess = createRequire(createRequire(import.meta.url).resolve("@itwin/imodels-access-backend"));
const objectStorageAzure = requireFromAccess("@itwin/object-storage-azure") as {
  AzureClientStorage: new (factory: unknown) => UrlClientStorage;
  BlockBlobClientWrapperFactory: new () => unknown;
};
const objectStorageAzureVersion = (requireFromAccess("@itwin/object-storage-azure/package.json") as { version: string }).version;

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mirrors the app's query parser: `%xx` decoded, `+` kept, the first occurrence wins. */
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

describe("storage routes (Azure Blob subset over the fs blob store)", () => {
  let dir: string;
  let root: string;
  let app: FastifyInstance;
  let origin: string;
  let signer: UrlSigner;
  let blobStore: FsBlobStore;
  const url = (key: string, permission: "r" | "w", ttl = 600) => storageUrl(origin, key, signer, permission, ttl);
  const file = async (name: string, size: number) => {
    const data = randomBytes(size);
    const path = join(dir, name);
    await writeFile(path, data);
    return { data, path };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "modelhub-storage-"));
    root = join(dir, "blobs");
    blobStore = new FsBlobStore(root);
    signer = new UrlSigner(await loadOrCreateSecret(dir));
    // forceCloseConnections: a keep-alive socket whose last response was finishing while close() looked for idle
    // ones would otherwise hold close() until the keep-alive timeout (72 s).
    app = Fastify({ routerOptions: { querystringParser: parseQuery }, forceCloseConnections: true });
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

  it("keeps one signing secret per data directory, readable by the owner only", async () => {
    const again = await loadOrCreateSecret(dir);
    const s = await import("node:fs/promises").then((fs) => fs.stat(join(dir, "secret.key")));
    assert.equal(s.mode & 0o777, 0o600);
    assert.equal(again.length, 32);
    const query = parseQuery(signer.sign("files/x", "r", 60));
    assert.deepEqual(new UrlSigner(again).verify("files/x", query, "r"), { ok: true });
  });

  it("@azure/storage-blob: single-shot uploadFile and downloadToFile round-trip the bytes", async () => {
    const { data, path } = await file("single.bin", 2 * 1024 * 1024 + 17);
    const key = "files/m1/changesets/single.cs";
    await new BlockBlobClient(url(key, "w")).uploadFile(path);
    const out = join(dir, "single.out");
    const response = await new BlockBlobClient(url(key, "r")).downloadToFile(out);
    assert.equal(response.contentLength, data.length);
    assert.equal(sha256(await readFile(out)), sha256(data));
  });

  it("@azure/storage-blob: block upload (Put Block + Put Block List) and ranged parallel download", async () => {
    const { data, path } = await file("blocks.bin", 3 * 1024 * 1024 + 12345);
    const key = "files/m1/baseline/with space+plus.bim";
    await new BlockBlobClient(url(key, "w")).uploadFile(path, { blockSize: 1024 * 1024, maxSingleShotSize: 1024 * 1024, concurrency: 3 });
    assert.equal(sha256((await readFile(join(root, key)))), sha256(data));
    assert.deepEqual(await readdir(join(root, ".blocks")), [], "staged blocks are removed after the commit");
    // downloadToBuffer first asks for properties (HEAD), then fetches x-ms-range slices in parallel.
    const buffer = await new BlockBlobClient(url(key, "r")).downloadToBuffer(0, undefined, { blockSize: 512 * 1024, concurrency: 4 });
    assert.equal(sha256(buffer), sha256(data));
  });

  it("@itwin/object-storage-azure AzureClientStorage (as the official clients use it) uploads and downloads by URL", async () => {
    assert.match(objectStorageAzureVersion, /^3\./);
    const storage = new objectStorageAzure.AzureClientStorage(new objectStorageAzure.BlockBlobClientWrapperFactory());
    const { data, path } = await file("itwin.bin", 1024 * 1024 + 3);
    const key = "files/m2/changesets/abc.cs";
    await storage.upload({ url: url(key, "w"), storageType: "azure", data: path });
    const localPath = join(dir, "itwin.out");
    await storage.download({ url: url(key, "r"), storageType: "azure", transferType: "local", localPath });
    assert.equal(sha256(await readFile(localPath)), sha256(data));
    const stream = await storage.download({ url: url(key, "r"), storageType: "azure", transferType: "stream" });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    assert.equal(sha256(Buffer.concat(chunks)), sha256(data));
  });

  it("plain fetch: PUT with any content type or none, chunked or not; GET, HEAD and ranges", async () => {
    const data = randomBytes(100_000);
    const key = "files/m3/plain.bin";
    const put = await fetch(url(key, "w"), { method: "PUT", body: data, headers: { "content-type": "application/x-www-form-urlencoded" } });
    assert.equal(put.status, 201);
    const etag = put.headers.get("etag");
    assert.match(etag ?? "", /^".+"$/);
    assert.ok(put.headers.get("last-modified"));
    assert.ok(put.headers.get("x-ms-request-id"));

    // Chunked (no content-length), as axios sends streams.
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(data.subarray(0, 40_000));
        controller.enqueue(data.subarray(40_000));
        controller.close();
      },
    });
    const put2 = await fetch(url(key, "w"), { method: "PUT", body: chunked, duplex: "half" } as RequestInit);
    assert.equal(put2.status, 201);
    const put3 = await fetch(url("files/m3/json.bin", "w"), { method: "PUT", body: "{not json", headers: { "content-type": "application/json" } });
    assert.equal(put3.status, 201);
    assert.equal((await readFile(join(root, "files/m3/json.bin"), "utf8")), "{not json");

    const get = await fetch(url(key, "r"));
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("content-length"), String(data.length));
    assert.equal(get.headers.get("accept-ranges"), "bytes");
    assert.equal(get.headers.get("content-type"), "application/octet-stream");
    assert.equal(get.headers.get("x-ms-blob-type"), "BlockBlob");
    const currentEtag = get.headers.get("etag")!;
    assert.equal(sha256(Buffer.from(await get.arrayBuffer())), sha256(data));

    const head = await fetch(url(key, "r"), { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(data.length));
    assert.equal(head.headers.get("etag"), currentEtag);

    const range = await fetch(url(key, "r"), { headers: { range: "bytes=0-0" } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get("content-range"), `bytes 0-0/${data.length}`);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), data.subarray(0, 1));

    const msRange = await fetch(url(key, "r"), { headers: { "x-ms-range": "bytes=99000-", "if-match": currentEtag } });
    assert.equal(msRange.status, 206);
    assert.equal(msRange.headers.get("content-range"), `bytes 99000-99999/${data.length}`);
    assert.equal(msRange.headers.get("content-length"), "1000");
    assert.deepEqual(Buffer.from(await msRange.arrayBuffer()), data.subarray(99_000));

    const beyond = await fetch(url(key, "r"), { headers: { range: "bytes=100000-" } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get("content-range"), `bytes */${data.length}`);
    await beyond.arrayBuffer();

    const stale = await fetch(url(key, "r"), { headers: { "x-ms-range": "bytes=0-9", "if-match": '"stale"' } });
    assert.equal(stale.status, 412);
    assert.equal(stale.headers.get("x-ms-error-code"), "ConditionNotMet");
    await stale.arrayBuffer();
  });

  it("refuses bad, expired, foreign and under-privileged signatures with 403 AuthenticationFailed", async () => {
    const key = "files/m4/secret.bin";
    await blobStore.put(key, (await import("node:stream")).Readable.from([Buffer.from("secret")]));
    const expectDenied = async (response: Response) => {
      assert.equal(response.status, 403);
      assert.equal(response.headers.get("x-ms-error-code"), "AuthenticationFailed");
      assert.match(await response.text(), /^<\?xml version="1\.0" encoding="utf-8"\?><Error><Code>AuthenticationFailed<\/Code><Message>/);
    };
    const good = url(key, "r");
    await expectDenied(await fetch(good.replace(/sig=.(.*)$/, "sig=A$1")));
    await expectDenied(await fetch(good.replace(/se=\d+/, (m) => `se=${Number(m.slice(3)) + 1}`)));
    await expectDenied(await fetch(`${origin}/storage/modelhub/${key}`));
    await expectDenied(await fetch(url(key, "r", -10)));
    await expectDenied(await fetch(url("files/m4/other.bin", "r").replace("other.bin", "secret.bin")));
    await expectDenied(await fetch(url(key, "w")));
    await expectDenied(await fetch(url(key, "r"), { method: "PUT", body: "overwrite" }));
    await expectDenied(await fetch(url(key, "r", -10).replace("sp=r", "sp=w"), { method: "PUT", body: "overwrite" }));
    assert.equal(await readFile(join(root, key), "utf8"), "secret");
    // The SDK surfaces the refusal as an error too.
    await assert.rejects(new BlockBlobClient(url(key, "r")).upload("x", 1), (err: { statusCode?: number }) => err.statusCode === 403);
  });

  it("answers a missing blob with 404 BlobNotFound and bad block lists with 400", async () => {
    const missing = await fetch(url("files/m5/none.bin", "r"));
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-ms-error-code"), "BlobNotFound");
    assert.match(await missing.text(), /<Code>BlobNotFound<\/Code>/);

    const key = "files/m5/blocks.bin";
    const block = await fetch(`${url(key, "w")}&comp=block&blockid=QUFB`, { method: "PUT", body: "AAA" });
    assert.equal(block.status, 201);
    const badXml = await fetch(`${url(key, "w")}&comp=blocklist`, { method: "PUT", body: "<BlockList><Latest>QUFB</Latest>", headers: { "content-type": "application/xml" } });
    assert.equal(badXml.status, 400);
    assert.equal(badXml.headers.get("x-ms-error-code"), "InvalidXmlDocument");
    assert.match(await badXml.text(), /<Code>InvalidXmlDocument<\/Code>/);
    const unknown = await fetch(`${url(key, "w")}&comp=blocklist`, {
      method: "PUT",
      body: "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>QUFB</Latest><Uncommitted>QkJC</Uncommitted></BlockList>",
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.headers.get("x-ms-error-code"), "InvalidBlockList");
    await unknown.arrayBuffer();
    assert.equal((await fetch(url(key, "r"))).status, 404);
    const commit = await fetch(`${url(key, "w")}&comp=blocklist`, { method: "PUT", body: "<BlockList><Committed>QUFB</Committed><Latest>QUFB</Latest></BlockList>" });
    assert.equal(commit.status, 201);
    assert.equal(await (await fetch(url(key, "r"))).text(), "AAAAAA");
  });

  it("a client that aborts mid-upload leaves the previous blob and no temp file", async () => {
    const key = "files/m6/abort.bin";
    await fetch(url(key, "w"), { method: "PUT", body: "previous" });
    const target = new URL(url(key, "w"));
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: target.hostname, port: target.port, method: "PUT", path: target.pathname + target.search, headers: { "content-length": String(10 * 1024 * 1024) } });
      req.on("error", () => resolve());
      req.write(randomBytes(256 * 1024), () => setTimeout(() => req.destroy(), 100));
      req.on("close", () => resolve());
    });
    for (let i = 0; i < 50 && (await readdir(join(root, ".tmp"))).length > 0; i++) await sleep(20);
    assert.deepEqual(await readdir(join(root, ".tmp")), []);
    assert.equal(await (await fetch(url(key, "r"))).text(), "previous");
  });

  it("a client that goes away mid-download does not break the server", async () => {
    const key = "files/m7/big.bin";
    await fetch(url(key, "w"), { method: "PUT", body: randomBytes(8 * 1024 * 1024) });
    const controller = new AbortController();
    const response = await fetch(url(key, "r"), { signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await assert.rejects(reader.read());
    const again = await fetch(url(key, "r"), { headers: { range: "bytes=0-3" } });
    assert.equal(again.status, 206);
    assert.equal((await again.arrayBuffer()).byteLength, 4);
  });
});
