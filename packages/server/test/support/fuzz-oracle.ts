// What the fuzzer checks on each answer (no 5xx, the documented error shapes) and whether the hub's data changed
// (metadata digest and blob listing). See fuzz.test.ts.
import { createHash } from "node:crypto";
import type { Dirent } from "node:fs";
import { readdirSync, statSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import Database from "better-sqlite3";
import { HUB_ERROR_CODES } from "@modelhub/protocol";
import type { FuzzRequest } from "./fuzz-routes.js";

const MEDIA_TYPE = "application/vnd.bentley.itwin-platform.v2+json";
const KNOWN_CODES = new Set<string>(HUB_ERROR_CODES);

export interface FuzzAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends `request` verbatim (its target is not re-encoded or normalized, unlike fetch). */
export function send(base: URL, agent: http.Agent, request: FuzzRequest, timeoutMs: number): Promise<FuzzAnswer> {
  return new Promise((resolve, reject) => {
    const body =
      request.body === undefined
        ? undefined
        : "text" in request.body
          ? Buffer.from(request.body.text, "utf8")
          : Buffer.from(request.body.base64, "base64");
    const named: Record<string, string> = { ...request.headers };
    if (body) named["content-length"] = String(body.length);
    // Two Host lines (RFC 9112 §3.2 says 400) can only be written as raw header pairs.
    const headers = request.duplicateHost
      ? ["Host", base.host, "Host", base.host, ...Object.entries(named).flat()]
      : named;
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        method: request.method,
        path: request.path,
        headers,
        agent,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Where a request went: the API's JSON errors, storage's XML errors, or the health probe. */
export function areaOfPath(path: string): "api" | "storage" | "health" | "web" | "other" {
  const p = path.split("?")[0]!;
  if (p === "/" || p === "/ui/config" || p.startsWith("/assets/") || p === "/docs" || p === "/openapi.json")
    return "web";
  if (p === "/imodels" || p.startsWith("/imodels/")) return "api";
  if (p.startsWith("/storage/")) return "storage";
  if (p === "/health" || p === "/ready" || p === "/metrics") return "health";
  return "other";
}

/** A short description of what is wrong with the answer, or undefined if it is in its documented shape. */
export function judge(request: FuzzRequest, answer: FuzzAnswer): string | undefined {
  const { status, headers, body } = answer;
  if (status >= 500) return `5xx: ${status}`;
  if (status < 200 || (status >= 300 && status < 400)) return `unexpected status ${status}`;
  const area = areaOfPath(request.path);
  const type = String(headers["content-type"] ?? "");
  const head = request.method === "HEAD";
  const text = body.toString("utf8");
  if ((status === 429 || status === 503) && headers["retry-after"] === undefined)
    return `${status} without retry-after`;
  // Parser refusals (e.g. a header over 16 KiB: 431) may come first; otherwise two Host lines are a 400.
  if (request.duplicateHost && status !== 400 && status !== 431) return `two Host headers answered ${status}`;

  if (area === "storage") {
    if (status < 400) return undefined;
    const code = headers["x-ms-error-code"];
    if (typeof code !== "string" || code === "")
      return `storage error ${status} without x-ms-error-code (content-type '${type}')`;
    if (!type.startsWith("application/xml")) return `storage error ${status} with content-type '${type}'`;
    if (head) return undefined;
    const m = /^<\?xml[^>]*\?><Error><Code>([^<]+)<\/Code><Message>[^<]*<\/Message>.*<\/Error>$/s.exec(text);
    if (!m) return `storage error ${status} body is not Azure XML`;
    if (m[1] !== code) return `storage error code ${m[1]} differs from x-ms-error-code ${code}`;
    return undefined;
  }

  if (area === "health" && (request.method === "GET" || head)) {
    const probe = request.path.split("?")[0];
    // A request that is not valid HTTP (e.g. raw non-ASCII bytes in its target) or too big may be refused as such.
    if (status === 400 || status === 414 || status === 431) return apiError(type, text, head, status);
    if (status !== 200) return `${probe} answered ${status}`;
    if (head) return undefined;
    if (probe === "/metrics")
      return type.startsWith("text/plain") && /^# (HELP|TYPE) /m.test(text)
        ? undefined
        : `/metrics is not Prometheus text (${type})`;
    const expected = probe === "/health" ? "ok" : "ready";
    return (JSON.parse(text) as { status?: unknown }).status === expected
      ? undefined
      : `${probe} body ${text.slice(0, 80)}`;
  }

  // The web UI: its page (HTML, or a plain 404 saying how to build it), its configuration (JSON) and its files; a
  // missing file is the API's JSON 404.
  if (area === "web" && (request.method === "GET" || head) && status < 400) {
    const path = request.path.split("?")[0]!;
    if (path === "/") return type.startsWith("text/html") ? undefined : `the UI page with content-type '${type}'`;
    if (path === "/docs")
      return type.startsWith("text/html") ? undefined : `the API reference page with content-type '${type}'`;
    if (path === "/openapi.json")
      return head || (type.startsWith("application/json") && text.startsWith('{"openapi":"3.1.0"'))
        ? undefined
        : `/openapi.json body ${text.slice(0, 80)}`;
    if (path === "/ui/config")
      return head || /^\{"authMode":"(open|tokens|oidc)"\}$/.test(text)
        ? undefined
        : `/ui/config body ${text.slice(0, 80)}`;
    return undefined;
  }
  if (
    area === "web" &&
    request.method === "GET" &&
    status === 404 &&
    request.path.split("?")[0] === "/" &&
    type.startsWith("text/plain")
  )
    return undefined;

  // Thumbnails are images, and an upload answers 201 without a body (as the cloud does).
  if (area === "api" && status < 400 && /^\/imodels\/[^/]+\/thumbnail$/.test(request.path.split("?")[0]!)) {
    if (request.method === "PUT") return body.length === 0 ? undefined : "thumbnail upload answered with a body";
    return /^image\/(png|jpeg)$/.test(type) ? undefined : `thumbnail with content-type '${type}'`;
  }

  // API and everything else: JSON, the API's media type on API paths and on every error (the API's error body).
  if (status >= 400) return apiError(type, text, head, status);
  const mediaOk =
    area === "api" ? type.startsWith(MEDIA_TYPE) : type.startsWith(MEDIA_TYPE) || type.startsWith("application/json");
  if (status === 204) return body.length === 0 ? undefined : "204 with a body";
  // Clone and fork: 202 Accepted with the new iModel in Location and no body, as the cloud answers.
  if (status === 202 && body.length === 0) return headers.location ? undefined : "202 without a location";
  if (!mediaOk) return `${status} with content-type '${type}'`;
  if (head) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" ? undefined : `${status} body is not a JSON object`;
  } catch {
    return `${status} body is not JSON`;
  }
}

/** What is wrong with an API error answer (media type and body), if anything; wherever it came from. */
function apiError(type: string, text: string, head: boolean, status: number): string | undefined {
  if (!type.startsWith(MEDIA_TYPE)) return `${status} error with content-type '${type}', not the API's`;
  if (head) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return `${status} body is not JSON`;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } }).error;
  if (!error || typeof error.code !== "string" || typeof error.message !== "string")
    return `${status} error body is not {"error":{"code","message"}}`;
  if (!KNOWN_CODES.has(error.code)) return `${status} error code '${error.code}' is not one of the API's codes`;
  return undefined;
}

/** Tables whose rows record requests (the audit log), which rejected requests are expected to add to. */
const RECORD_TABLES = new Set(["audit_log", "sqlite_sequence"]);

/**
 * Watches the hub's data: the metadata database through a read-only connection (`PRAGMA data_version` moves when
 * any other connection commits, which is free to ask; a digest of every table's rows ordered by primary key, for
 * the record) and the blob files (path, size, inode, mtime).
 */
export class DataWatch {
  readonly #db: Database.Database;
  #version = 0;
  #digest: Map<string, string> = new Map();
  #listing = "";

  constructor(
    dataDir: string,
    private readonly blobsDir = join(dataDir, "blobs"),
  ) {
    this.#db = new Database(join(dataDir, "metadata.db"), { readonly: true, fileMustExist: true });
    this.rebaseline();
  }

  /** Takes the current state as the one later checks compare with. */
  rebaseline(): void {
    this.#version = this.#dataVersion();
    this.#digest = this.digest();
    this.#listing = this.listing();
  }

  /**
   * What changed since the baseline (cheap: data_version and the blob listing); `full` also compares the digest.
   * The audit log is left out: recording refused requests is its job.
   */
  changes(full: boolean): string[] {
    const changes: string[] = [];
    const version = this.#dataVersion();
    if (version !== this.#version || full) {
      const now = this.digest();
      let recorded = false;
      for (const [table, hash] of now) {
        if (this.#digest.get(table) === hash) continue;
        if (RECORD_TABLES.has(table)) recorded = true;
        else changes.push(`table ${table}`);
      }
      for (const table of this.#digest.keys()) if (!now.has(table)) changes.push(`table ${table} gone`);
      // A commit that left every row as it was (e.g. an UPDATE to the same values) still says something wrote.
      if (version !== this.#version && changes.length === 0 && !recorded)
        changes.push("a commit with no visible change");
    }
    const listing = this.listing();
    if (listing !== this.#listing) changes.push(`blobs: ${diffLines(this.#listing, listing)}`);
    return changes;
  }

  /** The metadata's commit counter and the blob listing: equal snapshots mean nothing was written in between. */
  snapshot(): string {
    return `${this.#dataVersion()}\n${this.listing()}`;
  }

  /** Jobs still queued or running (their writes are expected, so checks wait for them). */
  busyJobs(): number {
    return (
      this.#db.prepare("SELECT count(*) AS n FROM jobs WHERE state IN ('queued', 'running')").get() as { n: number }
    ).n;
  }

  /** sha256 of each table's rows, ordered by primary key. */
  digest(): Map<string, string> {
    const result = new Map<string, string>();
    for (const { name, rowsInKeyOrder } of this.#tables()) {
      if (!rowsInKeyOrder) {
        // Append-only and growing with every request: its newest row says whether something was added.
        const newest =
          name === "audit_log"
            ? this.#statement("SELECT max(seq) AS seq FROM audit_log").get()
            : this.#statement(`SELECT * FROM "${name}"`).all();
        result.set(name, JSON.stringify(newest));
        continue;
      }
      const rows = rowsInKeyOrder.raw().all();
      result.set(
        name,
        createHash("sha256")
          .update(
            JSON.stringify(rows, (_k, v: unknown) =>
              typeof v === "bigint" ? v.toString() : Buffer.isBuffer(v) ? v.toString("base64") : v,
            ),
          )
          .digest("hex"),
      );
    }
    return result;
  }

  // Every audited request commits, so the digest runs after nearly every request: its statements are prepared once
  // (preparing them each time was a third of the fuzz run). A table whose columns change gets a new statement.
  readonly #statements = new Map<string, Database.Statement>();
  /**
   * The tables and the statement that reads each one's rows, for one schema version: listing the tables and their
   * columns (PRAGMA table_info) on every digest was a fifth of the fuzz run's CPU. Any change to a table or its
   * columns moves schema_version, and the list is read again.
   */
  #tableList: { schema: number; tables: { name: string; rowsInKeyOrder?: Database.Statement }[] } | undefined;

  #tables(): { name: string; rowsInKeyOrder?: Database.Statement }[] {
    const schema = (this.#statement("PRAGMA schema_version").get() as { schema_version: number }).schema_version;
    if (this.#tableList?.schema !== schema) {
      const names = this.#statement(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      ).all() as { name: string }[];
      this.#tableList = {
        schema,
        tables: names.map(({ name }) =>
          RECORD_TABLES.has(name) ? { name } : { name, rowsInKeyOrder: this.#rowsInKeyOrder(name) },
        ),
      };
    }
    return this.#tableList.tables;
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    return statement;
  }

  #rowsInKeyOrder(table: string): Database.Statement {
    const info = this.#statement(`PRAGMA table_info("${table}")`).all() as { name: string; pk: number }[];
    const pk = info
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => `"${c.name}"`);
    return this.#statement(
      `SELECT * FROM "${table}" ORDER BY ${pk.length > 0 ? pk.join(", ") : "rowid"} /* ${info.map((c) => c.name).join(",")} */`,
    );
  }

  /** Every file under the blob directory (temp files and staged blocks included) with size, inode and mtime. */
  listing(): string {
    const lines: string[] = [];
    const walk = (dir: string) => {
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else {
          const s = statSync(path, { throwIfNoEntry: false });
          if (s) lines.push(`${path.slice(this.blobsDir.length)} ${s.size} ${s.ino} ${s.mtimeMs}`);
        }
      }
    };
    walk(this.blobsDir);
    return lines.sort().join("\n");
  }

  close(): void {
    this.#db.close();
  }

  #dataVersion(): number {
    return this.#db.pragma("data_version", { simple: true }) as number;
  }
}

function diffLines(before: string, after: string): string {
  const a = new Set(before.split("\n"));
  const b = new Set(after.split("\n"));
  const gone = [...a].filter((l) => l && !b.has(l)).map((l) => `-${l}`);
  const added = [...b].filter((l) => l && !a.has(l)).map((l) => `+${l}`);
  return [...gone, ...added].slice(0, 6).join(", ");
}
