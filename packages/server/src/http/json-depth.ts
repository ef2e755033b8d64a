/** Deepest array/object nesting an API body may have; the API's own bodies need fewer than ten levels. */
export const MAX_JSON_DEPTH = 64;
/**
 * Most values an API body may list (counted by the commas between them): a lock request names at most 10,000 ids,
 * every other body a handful. 2 MiB of `"0x1",` is 330,000 strings to parse, hold and throw away before the lock
 * route could say that 10,000 is the limit; now it is refused unparsed.
 */
export const MAX_JSON_VALUES = 25_000;

/**
 * Why JSON text is refused before it is parsed, or undefined: it nests arrays/objects deeper than `depthLimit` (a
 * body of 100,000 nested arrays parses, but then blows the stack of anything recursive that touches it:
 * JSON.stringify, a logger), or separates more than `valueLimit` values. One pass, strings skipped.
 */
export function jsonShapeProblem(
  text: string,
  depthLimit = MAX_JSON_DEPTH,
  valueLimit = MAX_JSON_VALUES,
): string | undefined {
  let depth = 0;
  let separators = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string, escapes included: brackets and commas inside it are text.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > depthLimit) return `The body nests arrays or objects deeper than ${depthLimit} levels.`;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c) {
      if (++separators > valueLimit) return `The body lists more than ${valueLimit} values.`;
    }
  }
  return undefined;
}
