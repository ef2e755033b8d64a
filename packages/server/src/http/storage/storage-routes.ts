import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { BlobInfo, BlobStore, ByteRange } from "../../ports/blob-store.js";
import { BlobStoreError } from "../../ports/blob-store.js";
import type { WriteVerdict } from "../../domain/uploads/upload-service.js";
import { hasControls } from "../../util/text.js";
import { OUT_OF_SPACE_RETRY_AFTER_SECONDS, isOutOfSpace } from "../out-of-space.js";
import { sendAzureError, withAzureHeaders } from "./azure-xml.js";
import type { Permission, UrlSigner } from "./url-signer.js";
import type { SlotRefusal, UploadSlots } from "./upload-slots.js";
import { UPLOAD_RETRY_AFTER_SECONDS } from "./upload-slots.js";
import type { Actor } from "../../domain/context.js";
import type { AuthFailureGate } from "../auth-failures.js";
import { SIGNED_LINK } from "../authz/rules.js";
import { query } from "../schemas.js";

export { storageUrl } from "./url-signer.js";

/** Blobs up to this size are read whole and sent in one write. */
const SMALL_BLOB_BYTES = 256 * 1024;
/**
 * Largest Put Block List body. Azure allows 50,000 blocks with ids up to 64 bytes (88 base64 characters); wrapped in
 * `<Uncommitted>…</Uncommitted>` that is about 5.6 MB, so 8 MiB fits every legal list.
 */
const MAX_BLOCK_LIST_BYTES = 8 * 1024 * 1024;

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

/** The blob key of a storage path (the audit log's target of an upload). */
function storageKey(rest: string | undefined): string | null {
  if (rest === undefined) return null;
  try {
    return rest.split("/").map(decodeURIComponent).join("/");
  } catch {
    return rest;
  }
}

/** A small stream's bytes (stream/consumers' buffer() goes through a Blob: slower for this). */
async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function keyOf(request: FastifyRequest): string | undefined {
  const rest = (request.params as { "*": string })["*"];
  let key: string;
  try {
    key = rest.split("/").map(decodeURIComponent).join("/");
  } catch {
    return undefined;
  }
  // No control characters either: a blob name is printed (the audit log, doctor) and names a file.
  if (
    !key.startsWith("files/") ||
    key.includes("\\") ||
    hasControls(key) ||
    key.split("/").some((s) => s === "" || s === "." || s === "..")
  )
    return undefined;
  return key;
}

function quote(etag: string): string {
  return `"${etag}"`;
}

const azureHeaders = withAzureHeaders;

function withBlobHeaders(reply: FastifyReply, info: BlobInfo): FastifyReply {
  return reply
    .header("etag", quote(info.etag))
    .header("last-modified", info.lastModified.toUTCString())
    .header("x-ms-request-server-encrypted", "false");
}

/** Every storage error goes through here (docs/errors.md lists the codes, kept in sync by errors-doc.test.ts). */
function sendXmlError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return sendAzureError(reply, status, code, message);
}

/**
 * `bytes=a-b`, `bytes=a-`, `bytes=-n` → an inclusive range within the blob (an end past the blob is cut to it);
 * "unsatisfiable" when it starts past the end; "malformed" for anything else (including several ranges).
 */
export function parseRange(header: string, size: number): ByteRange | "unsatisfiable" | "malformed" {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return "malformed";
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < start) return "malformed";
  if (start >= size) return "unsatisfiable";
  const end = m[2] === "" ? size - 1 : Number(m[2]);
  return { start, end: Math.min(end, size - 1) };
}

class BodyTooLarge extends Error {}

/** Azure's answers for a link that may no longer write (see WriteVerdict). */
function refuseWrite(reply: FastifyReply, verdict: Extract<WriteVerdict, { ok: false }>): FastifyReply {
  switch (verdict.reason) {
    case "completed":
      return sendXmlError(
        reply,
        409,
        "BlobImmutableDueToPolicy",
        `This operation is not permitted as the blob is immutable. ${verdict.message}`,
      );
    case "gone":
      return sendXmlError(
        reply,
        403,
        "AuthorizationFailure",
        `This request is not authorized to perform this operation. ${verdict.message}`,
      );
    case "notUploadable":
      return sendXmlError(
        reply,
        403,
        "AuthorizationPermissionMismatch",
        `This request is not authorized to perform this operation using this permission. ${verdict.message}`,
      );
  }
}

/** All upload slots of the hub, or of the link's user, are taken: answered before the body is read. */
function refuseBusy(reply: FastifyReply, why: SlotRefusal, slots: UploadSlots): FastifyReply {
  const message =
    why === "hub"
      ? `The hub is already receiving ${slots.limit} uploads (--max-uploads); retry after ${UPLOAD_RETRY_AFTER_SECONDS} s.`
      : `This link's user already has ${slots.perUser} uploads running (--max-uploads-per-user); retry after ${UPLOAD_RETRY_AFTER_SECONDS} s.`;
  void reply.header("retry-after", String(UPLOAD_RETRY_AFTER_SECONDS)).header("connection", "close");
  return sendXmlError(reply, 503, "ServerBusy", message);
}

function refuseTooLarge(reply: FastifyReply, maxBytes: number): FastifyReply {
  void reply.header("connection", "close");
  return sendXmlError(
    reply,
    413,
    "RequestBodyTooLarge",
    `The request body is larger than the ${maxBytes} bytes declared for this file.`,
  );
}

/** The request body, failing with BodyTooLarge as soon as more than `maxBytes` arrive. */
function capped(body: IncomingMessage, maxBytes: number): Readable {
  if (!Number.isFinite(maxBytes)) return body;
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > maxBytes)
        return done(new BodyTooLarge(`The request body is larger than the ${maxBytes} bytes declared for this file.`));
      done(null, chunk);
    },
  });
  body.on("error", (err) => limiter.destroy(err));
  return body.pipe(limiter);
}

/**
 * Reads a body of at most MAX_BLOCK_LIST_BYTES. A longer one is refused without destroying the request, so node
 * discards the rest and the client still reads the answer.
 */
function readSmallBody(stream: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total <= MAX_BLOCK_LIST_BYTES) return void chunks.push(chunk);
      stream.off("data", onData).off("end", onEnd).off("error", reject);
      reject(new BodyTooLarge(`A block list may be at most ${MAX_BLOCK_LIST_BYTES} bytes.`));
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString("utf8"));
    stream.on("data", onData).once("end", onEnd).once("error", reject);
  });
}

const XML_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' };

/**
 * The ids of `<BlockList><Latest|Committed|Uncommitted>id</…>…</BlockList>` in order (an empty list is allowed,
 * as in Azure), or undefined if the body is anything else. One linear pass; no general XML parser needed.
 */
export function parseBlockList(xml: string): string[] | undefined {
  const body = /^\uFEFF?\s*(?:<\?xml[^?]*\?>)?\s*(?:<BlockList\s*\/>|<BlockList>([\s\S]*)<\/BlockList>)\s*$/.exec(xml);
  if (!body) return undefined;
  const inner = body[1] ?? "";
  const item = /\s*<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/y;
  const ids: string[] = [];
  let at = 0;
  for (;;) {
    item.lastIndex = at;
    const m = item.exec(inner);
    if (!m) break;
    const raw = m[2]!.trim();
    if (raw === "" || /&(?!(?:lt|gt|amp|apos|quot);)/.test(raw)) return undefined;
    const id = raw.replace(/&(lt|gt|amp|apos|quot);/g, (_, name: string) => XML_ENTITIES[name]!);
    ids.push(id);
    at = item.lastIndex;
  }
  return inner.slice(at).trim() === "" ? ids : undefined;
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
