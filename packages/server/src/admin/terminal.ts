// Everything the command line prints goes through a Printer. What it prints comes from the hub (names, user ids,
// storage keys, error messages that quote input), from files and from the command line: a line feed or carriage
// return in such a value would forge a line of output (an audit entry that never happened), an escape sequence would
// drive the reader's terminal. A Printer writes one line per call and escapes every control character inside it
// (util/text.ts), so no value can start a line or reach the terminal raw. eslint.config.js keeps
// process.stdout/stderr.write out of the CLI's other files.
import { escapeControls } from "../util/text.js";

export interface Printer {
  /** One line; its control characters (line breaks included) are shown escaped, never obeyed. */
  line(text: string): void;
  lines(texts: readonly string[]): void;
  /** One JSON document (see jsonLine): on one line, or indented by `indent` spaces. */
  json(value: unknown, indent?: number): void;
}

/** A Printer on `write` (the process's stdout, stderr, or a test's capture). */
export function printer(write: (text: string) => void): Printer {
  return {
    line: (text) => write(`${escapeControls(text)}\n`),
    lines: (texts) => {
      if (texts.length > 0) write(`${texts.map(escapeControls).join("\n")}\n`);
    },
    json: (value, indent) => write(`${jsonLine(value, indent)}\n`),
  };
}

export const stdout: Printer = printer((text) => void process.stdout.write(text));
export const stderr: Printer = printer((text) => void process.stderr.write(text));

/**
 * JSON text with the control characters JSON.stringify leaves raw (DEL, C1 controls, line and paragraph separators,
 * bidirectional overrides) written as `\u` escapes too: the same JSON value, safe on a terminal.
 */
export function jsonLine(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Rows as aligned columns (two spaces apart), each cell escaped before it is measured. */
export function tableLines(rows: readonly (readonly string[])[]): string[] {
  const cells = rows.map((row) => row.map(escapeControls));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "));
}

// ---- the command line's contract (see docs/cli.md): exit codes, errors, times, broken pipes

/** 0 done, 1 the hub (or the machine) refused or failed, 2 a usage mistake (nothing was done). */
export type ExitCode = 0 | 1 | 2;

/** Whether this run asked for JSON (`--json` anywhere on the command line): its errors are then JSON too. */
export function jsonRequested(argv: readonly string[] = process.argv): boolean {
  return argv.slice(2).includes("--json");
}

/**
 * Reports why a command did not do its work and ends the process with `exitCode`: one line on stderr
 * (`modelhub <command>: <message>`), or under `--json` one JSON object on stderr shaped like the API's error body
 * (`{"error":{"code","message","command","exitCode"}}`). Nothing is written to stdout, so a consumer of stdout never
 * mistakes an error for a result.
 */
export function fail(
  command: string,
  message: string,
  exitCode: 1 | 2,
  code = exitCode === 2 ? "UsageError" : "Failed",
  json = jsonRequested(),
): never {
  if (json) stderr.json({ error: { code, message, command: `modelhub ${command}`.trim(), exitCode } });
  else stderr.line(`modelhub${command ? ` ${command}` : ""}: ${message}`);
  process.exit(exitCode);
}

/** The command line's one timestamp style: UTC to the second, `2026-12-07 03:55:01Z` (`-` for none). */
export function timestamp(iso: string | null | undefined): string {
  if (!iso) return "-";
  const time = Date.parse(iso);
  return Number.isNaN(time)
    ? iso
    : new Date(time)
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
}

/**
 * `modelhub … | head` closes the pipe after a few lines: the next write fails with EPIPE, which would end the process
 * with a stack trace. A reader that stopped reading wanted no more: end quietly, as success.
 */
function quietOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}
quietOnBrokenPipe(process.stdout);
quietOnBrokenPipe(process.stderr);

/**
 * Whether a delete may go ahead: `--yes` says so; on a terminal the user is asked (the answer must be "y" or "yes");
 * without a terminal to ask and without `--yes`, the command refuses (usage error, exit 2) rather than delete
 * unasked from a script.
 */
export async function confirmDelete(
  command: string,
  what: string,
  yes: boolean | undefined,
  json = jsonRequested(),
): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    fail(command, `refusing to delete ${what} without --yes (there is no terminal to ask).`, 2, "UsageError", json);
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${escapeControls(`Delete ${what}? This cannot be undone. [y/N] `)}`);
    if (!/^y(es)?$/i.test(answer.trim())) fail(command, "nothing deleted.", 1, "Cancelled", json);
  } finally {
    rl.close();
  }
}
