// What the storage routes share: reading a blob key from the path, blob and Azure headers, XML errors, Range and
// Put Block List parsing, bounded bodies, and the refusals of a write (busy, too large, not allowed).
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { BlobInfo, ByteRange } from "../../ports/blob-store.js";
import type { WriteVerdict } from "../../domain/uploads/upload-service.js";
import { hasControls } from "../../util/text.js";
import { sendAzureError, withAzureHeaders } from "./azure-xml.js";
import type { SlotRefusal, UploadSlots } from "./upload-slots.js";
import { UPLOAD_RETRY_AFTER_SECONDS } from "./upload-slots.js";

/**
 * Largest Put Block List body. Azure allows 50,000 blocks with ids up to 64 bytes (88 base64 characters); wrapped in
 * `<Uncommitted>…</Uncommitted>` that is about 5.6 MB, so 8 MiB fits every legal list.
 */
export const MAX_BLOCK_LIST_BYTES = 8 * 1024 * 1024;

/** The blob key of a storage path (the audit log's target of an upload). */
export function storageKey(rest: string | undefined): string | null {
  if (rest === undefined) return null;
  try {
    return rest.split("/").map(decodeURIComponent).join("/");
  } catch {
    return rest;
  }
}

/** A small stream's bytes (stream/consumers' buffer() goes through a Blob: slower for this). */
export async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export function keyOf(request: FastifyRequest): string | undefined {
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

export function quote(etag: string): string {
  return `"${etag}"`;
}

export const azureHeaders = withAzureHeaders;

export function withBlobHeaders(reply: FastifyReply, info: BlobInfo): FastifyReply {
  return reply
    .header("etag", quote(info.etag))
    .header("last-modified", info.lastModified.toUTCString())
    .header("x-ms-request-server-encrypted", "false");
}

/** Every storage error goes through here (docs/errors.md lists the codes, kept in sync by errors-doc.test.ts). */
export function sendXmlError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
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

export class BodyTooLarge extends Error {}

/** Azure's answers for a link that may no longer write (see WriteVerdict). */
export function refuseWrite(reply: FastifyReply, verdict: Extract<WriteVerdict, { ok: false }>): FastifyReply {
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
export function refuseBusy(reply: FastifyReply, why: SlotRefusal, slots: UploadSlots): FastifyReply {
  const message =
    why === "hub"
      ? `The hub is already receiving ${slots.limit} uploads (--max-uploads); retry after ${UPLOAD_RETRY_AFTER_SECONDS} s.`
      : `This link's user already has ${slots.perUser} uploads running (--max-uploads-per-user); retry after ${UPLOAD_RETRY_AFTER_SECONDS} s.`;
  void reply.header("retry-after", String(UPLOAD_RETRY_AFTER_SECONDS)).header("connection", "close");
  return sendXmlError(reply, 503, "ServerBusy", message);
}

export function refuseTooLarge(reply: FastifyReply, maxBytes: number): FastifyReply {
  void reply.header("connection", "close");
  return sendXmlError(
    reply,
    413,
    "RequestBodyTooLarge",
    `The request body is larger than the ${maxBytes} bytes declared for this file.`,
  );
}

/** The request body, failing with BodyTooLarge as soon as more than `maxBytes` arrive. */
export function capped(body: IncomingMessage, maxBytes: number): Readable {
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
export function readSmallBody(stream: IncomingMessage): Promise<string> {
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

export const XML_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' };

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
export function abortOnClose(raw: IncomingMessage): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onClose = () => {
    if (!raw.complete) controller.abort();
  };
  raw.on("close", onClose);
  return { signal: controller.signal, dispose: () => raw.off("close", onClose) };
}
