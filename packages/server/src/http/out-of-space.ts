/** Seconds a client is asked to wait before retrying a write that failed for lack of disk space. */
export const OUT_OF_SPACE_RETRY_AFTER_SECONDS = 60;

const CODES = new Set(["ENOSPC", "EDQUOT", "SQLITE_FULL"]);

/**
 * Whether `err` says the disk (or the user's quota) is full: ENOSPC / EDQUOT from the file system, SQLITE_FULL from
 * the metadata database. Such a write failed as a whole (temp files and transactions are rolled back), so the
 * request may be retried once space is freed: a 503, not a 500. Errors that wrap another (`cause`) are looked into.
 */
export function isOutOfSpace(err: unknown): boolean {
  let current = err;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
