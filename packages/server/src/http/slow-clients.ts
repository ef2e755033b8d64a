import { readFileSync, readdirSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";

/** An upload must move at least this many bytes per stall timeout, or it is cut off. */
export const UPLOAD_PROGRESS_BYTES = 64 * 1024;

/**
 * Slowest average an upload may keep (after the stall timeout): 16 KiB/s, 128 kbit/s, below any uplink a team works
 * over even when the Azure SDK sends five blocks of a large baseline at once. A 100 MB changeset then has 1.8 hours.
 */
export const DEFAULT_UPLOAD_MIN_BYTES_PER_SECOND = 16 * 1024;

export interface BodyWatchOptions {
  /** Whole-body deadline of an API (JSON) request, from its headers on. */
  apiBodyTimeoutMs: number;
  /** Longest time an upload may go without UPLOAD_PROGRESS_BYTES of progress. */
  uploadStallTimeoutMs: number;
  /**
   * Slowest average an upload may keep: one of n bytes must end within the stall timeout plus n / this many
   * seconds, and is cut as soon as it falls behind that pace (0: no bound on the total time).
   */
  uploadMinBytesPerSecond: number;
  /** Says why a connection was cut (a warning: the client misbehaved, the hub did not fail). */
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Writes the 408 answer (headers and body) of a request whose body came too slowly. */
export type TimeoutAnswer = (res: ServerResponse) => void;

interface Watched {
  raw: IncomingMessage;
  res: ServerResponse;
  kind: "api" | "upload";
  started: number;
  progressAt: number;
  progressBytes: number;
  /** The socket's byte count when the body started. */
  startBytes: number;
  /** When the last pass looked, and how long the hub itself was the slow side (data waiting unread) until then. */
  checkedAt: number;
  excusedMs: number;
  answer: TimeoutAnswer;
}

/**
 * Bounds how long a request body may take, so a slow or stalled client cannot hold a connection, a descriptor or
 * a temporary file for as long as it likes. API bodies (small JSON) get a deadline; uploads (files of any size on
 * any link) must keep making progress (no stall) and keep a minimum average rate, which bounds their total time by
 * their size; both are measured from the socket's byte count without touching the stream. Time the hub itself
 * needs to consume data (disk backpressure, a handler not reading yet) is not held against the client. One timer
 * serves all requests and runs only while some body is in flight.
 */
export class BodyWatch {
  readonly #watched = new Set<Watched>();
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BodyWatchOptions) {
    this.#tickMs = Math.max(20, Math.min(1000, Math.floor(Math.min(options.apiBodyTimeoutMs, options.uploadStallTimeoutMs) / 4)));
  }

  /** Watches `raw`'s body until it is complete or the connection closes; requests without a body are ignored. */
  watch(raw: IncomingMessage, res: ServerResponse, kind: "api" | "upload", answer: TimeoutAnswer): void {
    if (raw.complete || !hasBody(raw)) return;
    const now = Date.now();
    const bytes = raw.socket?.bytesRead ?? 0;
    const entry: Watched = { raw, res, kind, started: now, progressAt: now, progressBytes: bytes, startBytes: bytes, checkedAt: now, excusedMs: 0, answer };
    this.#watched.add(entry);
    raw.once("close", () => this.#forget(entry));
    raw.once("end", () => this.#forget(entry));
    this.#timer ??= setInterval(() => this.check(Date.now()), this.#tickMs).unref();
  }

  get watching(): number {
    return this.#watched.size;
  }

  /** One pass over the bodies in flight (called by the timer). */
  check(now: number): void {
    for (const entry of this.#watched) {
      const { raw } = entry;
      if (raw.complete || raw.destroyed) {
        this.#forget(entry);
        continue;
      }
      if (entry.kind === "api") {
        if (now - entry.started > this.options.apiBodyTimeoutMs) this.#cut(entry, `the body did not arrive within ${this.options.apiBodyTimeoutMs} ms`);
        continue;
      }
      const bytes = raw.socket?.bytesRead ?? 0;
      // Data waiting in the request stream: the hub, not the client, is the slow side right now.
      const hubSlow = raw.readableLength > 0;
      if (hubSlow) entry.excusedMs += now - entry.checkedAt;
      entry.checkedAt = now;
      if (bytes - entry.progressBytes >= UPLOAD_PROGRESS_BYTES || hubSlow) {
        entry.progressAt = now;
        entry.progressBytes = bytes;
      } else if (now - entry.progressAt > this.options.uploadStallTimeoutMs) {
        this.#cut(entry, `the upload sent less than ${UPLOAD_PROGRESS_BYTES} bytes in ${this.options.uploadStallTimeoutMs} ms`);
        continue;
      }
      const rate = this.options.uploadMinBytesPerSecond;
      const received = bytes - entry.startBytes;
      const clientMs = now - entry.started - entry.excusedMs;
      if (rate > 0 && clientMs > this.options.uploadStallTimeoutMs + (received / rate) * 1000) {
        this.#cut(entry, `the upload sent ${received} bytes in ${Math.round(clientMs / 1000)} s, less than ${rate} bytes/s on average`);
      }
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watched.clear();
  }

  #forget(entry: Watched): void {
    this.#watched.delete(entry);
    if (this.#watched.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Answers 408 if nothing was answered yet, then closes the connection (the rest of the body is not awaited). */
  #cut(entry: Watched, reason: string): void {
    this.#forget(entry);
    const { raw, res } = entry;
    this.options.warn({ method: raw.method, url: raw.url?.split("?")[0], reason }, "slow request body: connection closed");
    const socket = raw.socket;
    const destroy = () => {
      if (!raw.destroyed) raw.destroy();
      socket?.destroy();
    };
    if (res.headersSent || !res.writable) return destroy();
    entry.answer(res);
    // The answer is small; a client that does not read it either is not waited for.
    const fallback = setTimeout(destroy, 1000).unref();
    res.once("finish", () => {
      clearTimeout(fallback);
      destroy();
    });
  }
}

function hasBody(raw: IncomingMessage): boolean {
  if (raw.headers["transfer-encoding"] !== undefined) return true;
  const length = Number(raw.headers["content-length"] ?? 0);
  return !(length === 0 || Number.isNaN(length));
}

/** The process's soft limit on open files (Linux: /proc/self/limits), or undefined when unknown or unlimited. */
export function descriptorLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m && m[1] !== "unlimited" ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Descriptors open right now (Linux), or undefined. */
export function openDescriptors(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

/** Descriptors kept back from connections: the database and its WAL, the worker's pipes, job files, logs. */
export const RESERVED_DESCRIPTORS = 64;

/**
 * How many connections fit in the descriptor limit: each may hold its socket and one file (an upload's temporary
 * file or a download), after what is open now and a reserve for the rest of the hub. Undefined = no known limit.
 */
export function connectionsForDescriptors(limit: number | undefined, open: number): number | undefined {
  if (limit === undefined) return undefined;
  return Math.max(1, Math.floor((limit - open - RESERVED_DESCRIPTORS) / 2));
}

export interface RawErrorAnswer {
  status: number;
  contentType: string;
  body: string;
  /** More headers, e.g. Azure's `x-ms-error-code`. */
  headers?: Readonly<Record<string, string>>;
  /** The refused request was a HEAD: the answer has no body (RFC 9110 §9.3.2). */
  head?: boolean;
}

/**
 * Writes an answer straight to a socket whose request could not be parsed (no request or reply objects exist),
 * then closes it.
 */
export function answerOnSocket(socket: Socket, answer: RawErrorAnswer, err: Error): void {
  if (socket.writable) {
    const length = Buffer.byteLength(answer.body);
    const extra = Object.entries(answer.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join("");
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? "Error"}\r\nContent-Type: ${answer.contentType}\r\nContent-Length: ${length}\r\n${extra}Connection: close\r\n\r\n${answer.head ? "" : answer.body}`,
    );
  }
  socket.destroy(err);
}

/** The HTTP status for a client error Node's parser raised (see http's 'clientError' event). */
export function statusOfClientError(code: string | undefined): number {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT" || code === "ERR_HTTP_HEADERS_TIMEOUT") return 408;
  if (code === "HPE_HEADER_OVERFLOW") return 431;
  return 400;
}

export interface RequestLine {
  method: string;
  path: string;
}

/** The request line's method and path, when the bytes the parser choked on still hold them. */
export function requestLineOfRawPacket(rawPacket: unknown): RequestLine | undefined {
  if (!Buffer.isBuffer(rawPacket) || rawPacket.length === 0) return undefined;
  const first = rawPacket[0]! | 0x20; // a letter, in either case: most body chunks are skipped here
  if (first < 0x61 || first > 0x7a) return undefined;
  const m = /^([A-Za-z]+) (\/\S*)/.exec(rawPacket.subarray(0, 256).toString("latin1"));
  return m ? { method: m[1]!.toUpperCase(), path: m[2]! } : undefined;
}

/**
 * The request line each connection sent last, so that a request the parser refuses in a later packet than its
 * first (a bad or oversized header arriving after the request line, as over any real network once headers pass one
 * TCP segment) is still answered in its area's shape: the parser's error only holds the packet it choked on, and
 * Node exposes no other way to see a request's first bytes. The price: listening to a socket's data makes Node parse
 * it in JavaScript instead of C++ (`unconsume`). Measured on the project's 2-core VM, one 200 MB upload over
 * loopback: about 0.9 s of hub CPU instead of 0.6, 150–160 MB/s instead of 220–230 (still above a 1 Gbit/s link);
 * the few-KB changesets of ordinary pushes do not show it. `follow` is the one line to remove to trade back.
 */
export class RequestLines {
  readonly #lines = new WeakMap<Socket, RequestLine>();

  /** Follows every connection `server` accepts from now on. */
  follow(server: Server): void {
    server.on("connection", (socket: Socket) => {
      socket.on("data", (chunk: Buffer) => {
        const line = requestLineOfRawPacket(chunk);
        if (line) this.#lines.set(socket, line);
      });
    });
  }

  /** The request line of the packet the parser refused, else the one `socket` sent last. */
  of(socket: Socket, rawPacket: unknown): RequestLine | undefined {
    return requestLineOfRawPacket(rawPacket) ?? this.#lines.get(socket);
  }
}
