import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { BlobInfo, BlobStore, ByteRange } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import type { Permission, UrlSigner } from "./url-signer.js";

const API_VERSION = "2024-08-04";
const MAX_BLOCK_LIST_BYTES = 4 * 1024 * 1024;

type Query = Record<string, string | undefined>;

/**
 * The hub's own file storage, speaking the Azure Blob subset the official clients use (imodels-api.md §7):
 * Put Blob, Put Block, Put Block List, and GET/HEAD with `x-ms-range`/`Range`. Plain HTTP PUT/GET works too.
 * Bodies are streamed straight to the blob store, never parsed or buffered.
 */
export const storageRoutes: FastifyPluginAsync<{ blobStore: BlobStore; signer: UrlSigner }> = async (app, { blobStore, signer }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));

  const authorize = (request: FastifyRequest, reply: FastifyReply, key: string, permission: Permission): boolean => {
    const verdict = signer.verify(key, request.query as Query, permission);
    if (verdict.ok) return true;
    sendXmlError(reply, 403, "AuthenticationFailed", `Server failed to authenticate the request. ${verdict.reason}`);
    return false;
  };

  app.put("/modelhub/*", async (request, reply) => {
    const key = keyOf(request);
    if (!key) return sendXmlError(reply, 400, "InvalidUri", "The blob path is not valid.");
    if (!authorize(request, reply, key, "w")) return reply;
    const query = request.query as Query;
    const abort = abortOnClose(request.raw);
    try {
      if (query.comp === "block") {
        if (!query.blockid) return sendXmlError(reply, 400, "InvalidQueryParameterValue", "blockid is required.");
        await blobStore.stageBlock(key, query.blockid, request.raw, { signal: abort.signal });
        return azureHeaders(reply.code(201)).send();
      }
      if (query.comp === "blocklist") {
        const ids = parseBlockList(await readSmallBody(request.raw));
        if (!ids) return sendXmlError(reply, 400, "InvalidXmlDocument", "XML specified is not syntactically valid.");
        const info = await blobStore.commitBlocks(key, ids);
        return withBlobHeaders(azureHeaders(reply.code(201)), info).send();
      }
      if (query.comp !== undefined) return sendXmlError(reply, 400, "InvalidQueryParameterValue", `comp=${query.comp} is not supported.`);
      const info = await blobStore.put(key, request.raw, { signal: abort.signal });
      return withBlobHeaders(azureHeaders(reply.code(201)), info).send();
    } catch (err) {
      // The client went away mid-body: the store has already thrown the partial data away; nobody reads an answer.
      if (abort.signal.aborted || (!request.raw.complete && request.raw.destroyed)) return reply;
      if (err instanceof BlobStoreError) {
        return sendXmlError(reply, 400, err.code, err.message);
      }
      if (err instanceof BodyTooLarge) return sendXmlError(reply, 413, "RequestBodyTooLarge", err.message);
      throw err;
    } finally {
      abort.dispose();
    }
  });

  const read = async (request: FastifyRequest, reply: FastifyReply, head: boolean) => {
    const key = keyOf(request);
    if (!key) return sendXmlError(reply, 400, "InvalidUri", "The blob path is not valid.");
    if (!authorize(request, reply, key, "r")) return reply;
    const info = await blobStore.stat(key);
    if (!info) return sendXmlError(reply, 404, "BlobNotFound", "The specified blob does not exist.");
    const ifMatch = request.headers["if-match"];
    if (ifMatch && ifMatch !== "*" && !ifMatch.split(",").map((t) => t.trim()).includes(quote(info.etag))) {
      return sendXmlError(reply, 412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.");
    }
    const rangeHeader = (request.headers["x-ms-range"] as string | undefined) ?? request.headers.range;
    let range: ByteRange | undefined;
    if (rangeHeader) {
      range = parseRange(rangeHeader, info.size);
      if (!range) {
        void reply.header("content-range", `bytes */${info.size}`);
        return sendXmlError(reply, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
      }
    }
    withBlobHeaders(azureHeaders(reply), info)
      .header("accept-ranges", "bytes")
      .header("content-type", "application/octet-stream")
      .header("x-ms-blob-type", "BlockBlob");
    if (range) {
      void reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${info.size}`).header("content-length", String(range.end - range.start + 1));
    } else {
      void reply.code(200).header("content-length", String(info.size));
    }
    if (head || info.size === 0) return reply.send();
    const blob = await blobStore.get(key, range);
    if (!blob) return sendXmlError(reply, 404, "BlobNotFound", "The specified blob does not exist.");
    // Fastify ends the file stream when the response finishes; a client that goes away must not keep the file open.
    reply.raw.on("close", () => blob.stream.destroy());
    return reply.send(blob.stream);
  };

  // An explicit HEAD route: fastify's automatic one would answer a body-less reply with `Content-Length: 0`, and
  // @azure/storage-blob sizes parallel downloads from HEAD (getProperties).
  app.route({ method: ["GET", "HEAD"], url: "/modelhub/*", handler: (request, reply) => read(request, reply, request.method === "HEAD") });
};

function keyOf(request: FastifyRequest): string | undefined {
  const rest = (request.params as { "*": string })["*"];
  let key: string;
  try {
    key = rest.split("/").map(decodeURIComponent).join("/");
  } catch {
    return undefined;
  }
  if (!key.startsWith("files/") || key.split("/").some((s) => s === "" || s === "." || s === "..")) return undefined;
  return key;
}

function quote(etag: string): string {
  return `"${etag}"`;
}

function azureHeaders(reply: FastifyReply): FastifyReply {
  return reply.header("x-ms-request-id", randomUUID()).header("x-ms-version", API_VERSION).header("date", new Date().toUTCString());
}

function withBlobHeaders(reply: FastifyReply, info: BlobInfo): FastifyReply {
  return reply
    .header("etag", quote(info.etag))
    .header("last-modified", info.lastModified.toUTCString())
    .header("x-ms-request-server-encrypted", "false");
}

function sendXmlError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
  return azureHeaders(reply.code(status)).header("x-ms-error-code", code).header("content-type", "application/xml").send(body);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]!);
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → an inclusive range within the blob, or undefined if unsatisfiable. */
export function parseRange(header: string, size: number): ByteRange | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return undefined;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) return undefined;
  return { start, end };
}

class BodyTooLarge extends Error {}

async function readSmallBody(stream: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > MAX_BLOCK_LIST_BYTES) throw new BodyTooLarge(`A block list may be at most ${MAX_BLOCK_LIST_BYTES} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The ids of `<BlockList><Latest|Committed|Uncommitted>id</…>…</BlockList>`, in order. */
export function parseBlockList(xml: string): string[] | undefined {
  const body = /<BlockList>([\s\S]*)<\/BlockList>/.exec(xml)?.[1];
  if (body === undefined) return undefined;
  const ids: string[] = [];
  const pattern = /<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/g;
  let rest = body;
  for (const m of body.matchAll(pattern)) {
    ids.push(m[2]!.trim());
    rest = rest.replace(m[0], "");
  }
  if (rest.trim() !== "" || ids.length === 0) return undefined;
  return ids;
}

/** An AbortSignal that fires when the client goes away before the body ended. */
function abortOnClose(raw: IncomingMessage): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onClose = () => {
    if (!raw.complete) controller.abort();
  };
  raw.on("close", onClose);
  return { signal: controller.signal, dispose: () => raw.off("close", onClose) };
}
