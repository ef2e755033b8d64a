import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { BlobInfo, BlobStore } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import type { WriteVerdict } from "../../domain/uploads/upload-service.js";
import { OUT_OF_SPACE_RETRY_AFTER_SECONDS, isOutOfSpace } from "../out-of-space.js";
import type { Permission, UrlSigner } from "./url-signer.js";
import type { UploadSlots } from "./upload-slots.js";
import type { Actor } from "../../domain/context.js";
import type { AuthFailureGate } from "../auth-failures.js";
import { SIGNED_LINK } from "../authz/rules.js";
import { query } from "../schemas.js";

import {
  BodyTooLarge,
  abortOnClose,
  azureHeaders,
  capped,
  keyOf,
  parseBlockList,
  parseRange,
  quote,
  readAll,
  readSmallBody,
  refuseBusy,
  refuseTooLarge,
  refuseWrite,
  sendXmlError,
  storageKey,
  withBlobHeaders,
} from "./storage-http.js";

export { parseBlockList, parseRange } from "./storage-http.js";
export { storageUrl } from "./url-signer.js";

/** Blobs up to this size are read whole and sent in one write. */
const SMALL_BLOB_BYTES = 256 * 1024;

type Query = Record<string, string | undefined>;

/**
 * The hub's own file storage, speaking the Azure Blob subset the official clients use (imodels-api.md §7):
 * Put Blob, Put Block, Put Block List, and GET/HEAD with `x-ms-range`/`Range`. Plain HTTP PUT/GET works too.
 * Bodies are streamed straight to the blob store, never parsed or buffered.
 */
export interface StorageRouteOptions {
  blobStore: BlobStore;
  signer: UrlSigner;
  /** Whether a link may (still) write this blob; asked before a write and again once it is stored. */
  checkWrite?: (key: string) => Promise<WriteVerdict>;
  onStored?: (key: string, info: BlobInfo) => void;
  /** Slots every upload takes once its link is verified, per user the link was issued to (none: no limit). */
  uploads?: UploadSlots;
  /** Links failing their signature count against their client's address (see AuthFailureGate). */
  failures?: AuthFailureGate;
}

export const storageRoutes: FastifyPluginAsync<StorageRouteOptions> = async (
  app,
  { blobStore, signer, checkWrite, onStored, uploads, failures },
) => {
  // The user a verified link was issued to: the audit log records it as the upload's user.
  app.decorateRequest("actor", null as unknown as Actor);
  // Bodies (hundreds of MB, any content type or none) are never parsed here: the handlers stream `request.raw`.
  // A catch-all parser that does not touch the payload also keeps fastify's bodyLimit out of the way.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, _payload, done) => done(null));

  // Azure-style XML errors for whatever else goes wrong here (storage clients only look at the status).
  app.setErrorHandler((err: { statusCode?: number; message?: string }, request, reply) => {
    if (reply.sent || reply.raw.headersSent) return;
    const status =
      typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, "storage request failed");
    return status === 500
      ? sendXmlError(reply, 500, "InternalError", "The server encountered an internal error. Please retry the request.")
      : sendXmlError(reply, status, "InvalidInput", err.message ?? "The request is not valid.");
  });

  // Other methods (POST, DELETE, PATCH, OPTIONS…) and paths under /storage: Azure's answer, not the API's JSON.
  app.setNotFoundHandler((request, reply) =>
    ["GET", "HEAD", "PUT"].includes(request.method)
      ? sendXmlError(reply, 400, "InvalidUri", "The blob path is not valid.")
      : sendXmlError(
          reply,
          405,
          "UnsupportedHttpVerb",
          `The resource doesn't support the HTTP verb ${request.method}.`,
        ),
  );

  /** The link's verdict: false (answered 403), or the size limit (infinite without one) and user it signed. */
  const authorize = (
    request: FastifyRequest,
    reply: FastifyReply,
    key: string,
    permission: Permission,
  ): false | { maxBytes: number; user: string } => {
    const retryAfterSeconds = failures?.blockedFor(request.raw);
    if (retryAfterSeconds !== undefined) {
      void reply.header("retry-after", String(retryAfterSeconds));
      sendXmlError(
        reply,
        503,
        "ServerBusy",
        "Too many requests with invalid links came from this address; retry later.",
      );
      return false;
    }
    const verdict = signer.verify(key, request.query as Query, permission);
    if (verdict.ok) {
      if (verdict.user !== undefined) request.actor = { userId: verdict.user };
      return { maxBytes: verdict.maxBytes ?? Number.POSITIVE_INFINITY, user: verdict.user ?? "" };
    }
    failures?.failed(request.raw);
    sendXmlError(reply, 403, "AuthenticationFailed", `Server failed to authenticate the request. ${verdict.reason}`);
    return false;
  };

  // The signed link (one object, one verb, an expiry) is the authorization: API routes that checked permissions hand them out.
  const upload = {
    summary: "Upload a file or a block through a signed link (Azure Blob subset)",
    authz: SIGNED_LINK,
    audit: { action: "storage.upload", target: (p: Query) => storageKey(p["*"]) },
  };
  const bytes = { "application/octet-stream": { schema: { type: "string", format: "binary" } } };
  const uploadSchema = {
    querystring: query({
      comp: {
        type: "string",
        enum: ["block", "blocklist"],
        description: "Put Block / Put Block List (Azure); none: the whole file",
      },
      blockid: "The block's id (comp=block)",
    }),
    body: { content: bytes },
    response: { 201: { description: "Stored (ETag and Last-Modified of the blob)" } },
  };
  app.put("/modelhub/*", { schema: uploadSchema, config: upload }, async (request, reply) => {
    const key = keyOf(request);
    if (!key) return sendXmlError(reply, 400, "InvalidUri", "The blob path is not valid.");
    const link = authorize(request, reply, key, "w");
    if (!link) return reply;
    const busy = uploads?.tryTake(reply, link.user);
    if (busy) return refuseBusy(reply, busy, uploads!);
    // A valid signature is not enough: the object must still be waiting for this upload (a completed changeset,
    // a received baseline or a checkpoint is never written through a link), and no larger than declared — in the
    // link itself and where the hub keeps what the client declared.
    const checked = checkWrite ? await checkWrite(key) : ({ ok: true, maxBytes: Number.POSITIVE_INFINITY } as const);
    if (!checked.ok) return refuseWrite(reply, checked);
    const verdict = { ok: true, maxBytes: Math.min(checked.maxBytes, link.maxBytes) } as const;
    const declaredLength = Number(request.headers["content-length"] ?? "0");
    if (declaredLength > verdict.maxBytes) return refuseTooLarge(reply, verdict.maxBytes);
    // Still stored after the write? The object may have been completed (or deleted) while the body arrived.
    const stillWritable = async (info: BlobInfo): Promise<FastifyReply | undefined> => {
      const after = checkWrite ? await checkWrite(key) : verdict;
      if (after.ok && info.size <= Math.min(after.maxBytes, link.maxBytes)) return undefined;
      await blobStore.delete(key);
      return after.ok ? refuseTooLarge(reply, Math.min(after.maxBytes, link.maxBytes)) : refuseWrite(reply, after);
    };
    const query = request.query as Query;
    const abort = abortOnClose(request.raw);
    const body = capped(request.raw, verdict.maxBytes);
    try {
      if (query.comp === "block") {
        if (!query.blockid) return sendXmlError(reply, 400, "InvalidQueryParameterValue", "blockid is required.");
        // All the blocks staged for the key together, not only this one, stay within the declared size.
        await blobStore.stageBlock(key, query.blockid, body, {
          signal: abort.signal,
          maxStagedBytes: verdict.maxBytes,
        });
        return azureHeaders(reply.code(201)).send();
      }
      if (query.comp === "blocklist") {
        const ids = parseBlockList(await readSmallBody(request.raw));
        if (!ids) return sendXmlError(reply, 400, "InvalidXmlDocument", "XML specified is not syntactically valid.");
        const info = await blobStore.commitBlocks(key, ids);
        const refused = await stillWritable(info);
        if (refused) return refused;
        onStored?.(key, info);
        return withBlobHeaders(azureHeaders(reply.code(201)), info).send();
      }
      if (query.comp !== undefined)
        return sendXmlError(reply, 400, "InvalidQueryParameterValue", `comp=${query.comp} is not supported.`);
      const blobType = request.headers["x-ms-blob-type"];
      if (blobType !== undefined && blobType !== "BlockBlob") {
        return sendXmlError(
          reply,
          400,
          "InvalidHeaderValue",
          `Only block blobs are stored here, not '${String(blobType)}'.`,
        );
      }
      const info = await blobStore.put(key, body, { signal: abort.signal });
      const refused = await stillWritable(info);
      if (refused) return refused;
      onStored?.(key, info);
      return withBlobHeaders(azureHeaders(reply.code(201)), info).send();
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        // The rest of the body is not read: close the connection after the answer.
        void reply.header("connection", "close");
        return sendXmlError(reply, 413, "RequestBodyTooLarge", err.message);
      }
      if (isOutOfSpace(err)) {
        // The store removed the partial file; the rest of the body is not read. Retryable once space is freed.
        void reply.header("connection", "close").header("retry-after", String(OUT_OF_SPACE_RETRY_AFTER_SECONDS));
        return sendXmlError(
          reply,
          503,
          "ServerBusy",
          "The server is out of disk space. Please retry the request later.",
        );
      }
      // The client went away mid-body: the store has already thrown the partial data away; nobody reads an answer.
      if (abort.signal.aborted || (!request.raw.complete && request.raw.destroyed)) return reply;
      if (err instanceof BlobStoreError) {
        if (err.code === "TooLarge") {
          void reply.header("connection", "close");
          return sendXmlError(reply, 413, "RequestBodyTooLarge", err.message);
        }
        if (err.code === "TooManyBlocks") return sendXmlError(reply, 409, "BlockCountExceedsLimit", err.message);
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
    const msRange = request.headers["x-ms-range"];
    const rangeHeader = typeof msRange === "string" ? msRange : request.headers.range;
    // The answer must describe the bytes it sends, though the blob may be replaced at any time. A plain GET opens
    // the blob once and describes what it opened; a HEAD or a ranged GET looks first (a range needs the size), and a
    // ranged GET then opens its bytes and starts over if the blob changed in between.
    const openWhole = !head && rangeHeader === undefined;
    for (let attempt = 0; ; attempt++) {
      let blob = openWhole ? await blobStore.get(key) : undefined;
      const info = openWhole ? blob?.info : await blobStore.stat(key);
      if (!info) return sendXmlError(reply, 404, "BlobNotFound", "The specified blob does not exist.");
      const ifMatch = request.headers["if-match"];
      if (
        ifMatch &&
        ifMatch.trim() !== "*" &&
        !ifMatch
          .split(",")
          .map((t) => t.trim())
          .includes(quote(info.etag))
      ) {
        blob?.stream.destroy();
        return sendXmlError(
          reply,
          412,
          "ConditionNotMet",
          "The condition specified using HTTP conditional header(s) is not met.",
        );
      }
      const range = rangeHeader === undefined ? undefined : parseRange(rangeHeader, info.size);
      if (range === "malformed" && typeof msRange === "string") {
        return sendXmlError(reply, 400, "InvalidHeaderValue", "The value for x-ms-range is not in the correct format.");
      }
      if (range === "unsatisfiable") {
        void reply.header("content-range", `bytes */${info.size}`);
        return sendXmlError(
          reply,
          416,
          "InvalidRange",
          "The range specified is invalid for the current size of the resource.",
        );
      }
      // A malformed `Range` is ignored (RFC 9110 §14.2): the whole blob is sent.
      const byteRange = range === "malformed" ? undefined : range;
      if (!head && !blob) {
        blob = await blobStore.get(key, byteRange);
        if (!blob) return sendXmlError(reply, 404, "BlobNotFound", "The specified blob does not exist.");
        if (blob.info.etag !== info.etag) {
          blob.stream.destroy();
          if (attempt < 3) continue;
          return sendXmlError(reply, 503, "ServerBusy", "The blob is being replaced; retry the request.");
        }
      }
      withBlobHeaders(azureHeaders(reply), info)
        .header("accept-ranges", "bytes")
        .header("content-type", "application/octet-stream")
        .header("x-ms-blob-type", "BlockBlob");
      const length = byteRange ? byteRange.end - byteRange.start + 1 : info.size;
      if (byteRange) {
        void reply.code(206).header("content-range", `bytes ${byteRange.start}-${byteRange.end}/${info.size}`);
      } else {
        void reply.code(200);
      }
      void reply.header("content-length", String(length));
      if (!blob || length === 0) {
        blob?.stream.destroy();
        return reply.send();
      }
      const stream = blob.stream;
      // Most changesets are a few KiB: sent with the headers in one write instead of piped chunk by chunk.
      if (length <= SMALL_BLOB_BYTES) return reply.send(await readAll(stream));
      // A client that goes away mid-download must not keep the file open.
      reply.raw.on("close", () => stream.destroy());
      return reply.send(stream);
    }
  };

  // An explicit HEAD route: fastify's automatic one would answer a body-less reply with `Content-Length: 0`, and
  // @azure/storage-blob sizes parallel downloads from HEAD (getProperties).
  const download = { summary: "Download a file (or a range of it) through a signed link", authz: SIGNED_LINK };
  const downloadSchema = {
    headers: query({
      range: "bytes=a-b",
      "x-ms-range": "bytes=a-b (Azure)",
      "if-match": "The ETag the blob must still have",
    }),
    response: {
      200: { description: "The file", content: bytes },
      206: { description: "The range asked for", content: bytes },
    },
  };
  app.route({
    method: ["GET", "HEAD"],
    url: "/modelhub/*",
    schema: downloadSchema,
    config: download,
    handler: (request, reply) => read(request, reply, request.method === "HEAD"),
  });
};
