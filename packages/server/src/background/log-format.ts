// How `modelhub serve` writes its log: JSON lines (pino's own, for log collectors) or, on a terminal, one readable
// line per event. Both carry the same facts; the human form drops what a person reading a terminal does not need
// (pid, host name) and writes a request as `time LEVEL user METHOD path status duration`.
import { escapeControls } from "../util/text.js";

export type LogFormat = "human" | "json";

export const LOG_FORMATS: readonly LogFormat[] = ["human", "json"];

/** The format when none is asked for: human on a terminal, JSON when the output goes to a file or a pipe. */
export function defaultLogFormat(isTTY: boolean | undefined): LogFormat {
  return isTTY ? "human" : "json";
}

const LEVELS: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/** Fields pino (or the request line) always writes, shown in their own place or not at all. */
const HIDDEN = new Set(["level", "time", "pid", "hostname", "msg", "v"]);

/** `2026-12-07 03:55:01.123Z`: UTC, the one timestamp style of the command line, with milliseconds. */
export function logTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace("T", " ");
}

type Record_ = Record<string, unknown>;

function value(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
  if (v instanceof Object) return JSON.stringify(v);
  return String(v);
}

function errorText(err: unknown): { message: string; stack?: string } {
  if (err && typeof err === "object") {
    const e = err as { message?: unknown; stack?: unknown; type?: unknown };
    const message = typeof e.message === "string" ? e.message : JSON.stringify(err);
    return typeof e.stack === "string" ? { message, stack: e.stack } : { message };
  }
  return { message: String(err) };
}

/**
 * One pino JSON line as text lines: the first is the event (`time LEVEL message key=value…`), an error's stack trace
 * follows indented. Everything that came from outside (paths, user ids, messages) has its control characters escaped,
 * so a request cannot forge a log line or drive the terminal.
 */
export function humanLines(line: string): string[] {
  let record: Record_;
  try {
    record = JSON.parse(line) as Record_;
  } catch {
    return [escapeControls(line.replace(/\n$/, ""))];
  }
  const time = typeof record.time === "number" ? logTime(record.time) : String(record.time ?? "");
  const level = (LEVELS[Number(record.level)] ?? String(record.level)).padEnd(5);
  const req = record.req as { method?: string; url?: string } | undefined;
  const res = record.res as { statusCode?: number } | undefined;
  if (record.msg === "request completed" && req && res) {
    const ms =
      typeof record.responseTime === "number"
        ? `${record.responseTime < 10 ? record.responseTime.toFixed(1) : Math.round(record.responseTime)} ms`
        : "";
    const user = typeof record.user === "string" && record.user !== "" ? record.user : "-";
    return [
      escapeControls(
        `${time} ${level} ${user} ${req.method ?? "?"} ${req.url ?? "?"} ${res.statusCode ?? "?"} ${ms}`.trimEnd(),
      ),
    ];
  }
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, v] of Object.entries(record)) {
    if (HIDDEN.has(key) || v === undefined) continue;
    if (key === "err" || key === "error") {
      const e = errorText(v);
      fields.push(`${key}=${value(e.message)}`);
      stack = e.stack;
      continue;
    }
    fields.push(`${key}=${value(v)}`);
  }
  const head = escapeControls(
    `${time} ${level} ${String(record.msg ?? "")}${fields.length > 0 ? `  ${fields.join(" ")}` : ""}`,
  );
  // The stack repeats the message (which may span lines: it is in err=… already); only its frames follow, indented,
  // each escaped on its own, so nothing in a message can start a line of the log.
  const frames =
    stack
      ?.split("\n")
      .filter((l) => /^\s+at /.test(l))
      .map((l) => `    ${escapeControls(l.trim())}`) ?? [];
  return [head, ...frames];
}

/** A pino destination (anything with `write(line)`) that writes human lines to `write`. */
export function humanLogStream(write: (text: string) => void): { write(chunk: string): void } {
  return {
    write(chunk: string) {
      // pino writes one JSON document per call, ending in a line feed; tolerate several anyway.
      for (const line of chunk.split("\n")) if (line.trim() !== "") write(`${humanLines(line).join("\n")}\n`);
    },
  };
}
