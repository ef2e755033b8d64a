/**
 * Text that comes from outside and is kept or printed.
 *
 * Kept: PostgreSQL's TEXT cannot hold U+0000 (the whole statement fails), and a UTF-16 surrogate without its pair is
 * not Unicode (PostgreSQL's JSON refuses it; written as UTF-8 it silently becomes U+FFFD). The hub refuses both at its
 * edge (http/input-guard.ts), so a value is stored the same on SQLite and PostgreSQL or not at all.
 *
 * Printed: control characters are storable, but a carriage return or line feed forges a line of output and an escape
 * sequence drives the reader's terminal. Whatever prints text that came from outside escapes them first
 * ({@link escapeControls}).
 */
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * C0 controls (tab, line feed, carriage return and escape among them), DEL, C1 controls (U+0085 is a line break
 * to some readers, U+009B an escape sequence to some terminals), the line and paragraph separators, the
 * bidirectional overrides and isolates (they reorder what is shown), and lone surrogates.
 */
/* eslint-disable no-control-regex -- finding control characters is the point */
const CONTROL =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/* eslint-enable no-control-regex */
const SHORT_ESCAPES: Readonly<Record<string, string>> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Whether every database the hub supports can keep `text` as it is (no NUL, no lone surrogate). */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * Where in a parsed JSON value (keys included) the first string that is not storable is, as a property path
 * (`lockedObjects[0].objectIds[3]`, `` for the value itself), or undefined when every string is storable.
 */
export function unstorablePath(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return isStorableText(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorablePath(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      const at = path === "" ? key : `${path}.${key}`;
      if (!isStorableText(key)) return at;
      const found = unstorablePath(inner, at);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Whether `text` holds a character {@link escapeControls} would escape. */
export function hasControls(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}

/**
 * `text` with every control character (see CONTROL) written as a visible escape: `\n`, `\r`, `\t`, else `\uXXXX`.
 * One line stays one line and a terminal shows what was sent instead of obeying it. Backslashes are left as they
 * are (readable paths); a literal `\n` and an escaped line feed then look alike, but neither breaks the line.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
