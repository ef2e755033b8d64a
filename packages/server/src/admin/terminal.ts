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
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Rows as aligned columns (two spaces apart), each cell escaped before it is measured. */
export function tableLines(rows: readonly (readonly string[])[]): string[] {
  const cells = rows.map((row) => row.map(escapeControls));
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "));
}
