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
    this.#tickMs = Math.max(
      20,
      Math.min(1000, Math.floor(Math.min(options.apiBodyTimeoutMs, options.uploadStallTimeoutMs) / 4)),
    );
  }

  /** Watches `raw`'s body until it is complete or the connection closes; requests without a body are ignored. */
  watch(raw: IncomingMessage, res: ServerResponse, kind: "api" | "upload", answer: TimeoutAnswer): void {
    if (raw.complete || !hasBody(raw)) return;
    const now = Date.now();
    const bytes = raw.socket?.bytesRead ?? 0;
    const entry: Watched = {
      raw,
      res,
      kind,
      started: now,
      progressAt: now,
      progressBytes: bytes,
      startBytes: bytes,
      checkedAt: now,
      excusedMs: 0,
      answer,
    };
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
        if (now - entry.started > this.options.apiBodyTimeoutMs)
          this.#cut(entry, `the body did not arrive within ${this.options.apiBodyTimeoutMs} ms`);
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
        this.#cut(
          entry,
          `the upload sent less than ${UPLOAD_PROGRESS_BYTES} bytes in ${this.options.uploadStallTimeoutMs} ms`,
        );
        continue;
      }
      const rate = this.options.uploadMinBytesPerSecond;
      const received = bytes - entry.startBytes;
      const clientMs = now - entry.started - entry.excusedMs;
      if (rate > 0 && clientMs > this.options.uploadStallTimeoutMs + (received / rate) * 1000) {
        this.#cut(
          entry,
          `the upload sent ${received} bytes in ${Math.round(clientMs / 1000)} s, less than ${rate} bytes/s on average`,
        );
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
    this.options.warn(
      { method: raw.method, url: raw.url?.split("?")[0], reason },
      "slow request body: connection closed",
    );
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
export function answerOnSocket(socket: Socket, answer: RawErrorAnswer, err?: Error): void {
  if (socket.writable) {
    const length = Buffer.byteLength(answer.body);
    const extra = Object.entries(answer.headers ?? {})
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
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

const LINE_AT_START = /^([A-Za-z]+) (\/\S*)/;
const FULL_LINES = /(?:^|\r\n)([A-Za-z]+) (\/\S*) HTTP\/1\.[01]\r\n/g;
const AZURE_HEADER = /\r\nx-ms-[A-Za-z0-9-]+:/i;

/**
 * The request line in a packet the parser choked on: the last complete one before the place it failed (a pipelined
 * request after another), else one the packet starts with (even cut short).
 */
export function requestLineOfRawPacket(rawPacket: unknown, bytesParsed?: unknown): RequestLine | undefined {
  if (!Buffer.isBuffer(rawPacket) || rawPacket.length === 0) return undefined;
  const end =
    typeof bytesParsed === "number" && bytesParsed > 0
      ? Math.min(rawPacket.length, bytesParsed + 256)
      : rawPacket.length;
  const text = rawPacket.subarray(0, end).toString("latin1");
  let last: RegExpExecArray | undefined;
  for (const m of text.matchAll(FULL_LINES)) last = m;
  const m = last ?? LINE_AT_START.exec(text) ?? undefined;
  return m ? { method: m[1]!.toUpperCase(), path: m[2]! } : undefined;
}

/**
 * What a request the HTTP parser refused had asked for, as far as can be told, so that it is answered in its area's
 * shape: the parser's error only holds the packet it choked on, which need not hold the request line (a bad or
 * oversized header sent after it, as over any real network once a head passes one TCP segment). In order:
 * 1. a request line in that packet;
 * 2. for a connection's first request, its first packet, which the hub reads itself before Node's parser takes the
 *    socket over (it then parses in C++ as before: reading every packet in JavaScript instead costs large uploads
 *    about 40 % more CPU and API requests about 10 % more time, measured);
 * 3. for a later request of a kept-alive connection: `x-ms-` headers in the refused packet (every Azure client sends
 *    them) mean storage; else the area of the connection's previous request (a connection serves one client library).
 */
export class RequestLines {
  readonly #first = new WeakMap<Socket, RequestLine>();
  readonly #previous = new WeakMap<Socket, RequestLine>();
  /** Connections whose first packet has not come yet. */
  readonly #waiting = new Set<Socket>();

  /**
   * Reads each new connection's first packet, then hands the socket (with the packet put back) to `server`'s own
   * HTTP handling. A connection that sends nothing within `timeoutMs` is given to `silent` (as Node's headers timeout
   * would have): it answers and closes it.
   */
  peekFirstPackets(server: Server, timeoutMs: number, silent: (socket: Socket) => void): void {
    const handlers = server.listeners("connection") as ((socket: Socket) => void)[];
    server.removeAllListeners("connection");
    server.on("connection", (socket: Socket) => {
      const onError = () => socket.destroy();
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(socket);
        socket.off("error", onError).off("close", done);
      };
      const timer = setTimeout(() => {
        done();
        silent(socket);
      }, timeoutMs).unref();
      this.#waiting.add(socket);
      socket.on("error", onError).once("close", done);
      socket.once("data", (chunk: Buffer) => {
        done();
        socket.pause();
        const line = requestLineOfRawPacket(chunk);
        if (line) this.#first.set(socket, line);
        socket.unshift(chunk);
        for (const handler of handlers) handler.call(server, socket);
        socket.resume();
      });
    });
  }

  /** Closes the connections that have not sent anything yet (the server is closing). */
  closeWaiting(): void {
    for (const socket of this.#waiting) socket.destroy();
    this.#waiting.clear();
  }

  /** A request whose head was parsed on `socket`: the connection's previous one for the next. */
  parsed(socket: Socket, line: RequestLine): void {
    this.#previous.set(socket, line);
  }

  of(socket: Socket, err: { rawPacket?: unknown; bytesParsed?: unknown }): RequestLine | undefined {
    const inPacket = requestLineOfRawPacket(err.rawPacket, err.bytesParsed);
    if (inPacket) return inPacket;
    const previous = this.#previous.get(socket);
    if (!previous) return this.#first.get(socket);
    if (
      Buffer.isBuffer(err.rawPacket) &&
      AZURE_HEADER.test(`\r\n${err.rawPacket.subarray(0, 16 * 1024).toString("latin1")}`)
    )
      return { method: "GET", path: "/storage/" };
    return previous;
  }
}
