/**
 * Long synchronous work shares the event loop in slices: SQLite statements (better-sqlite3 runs them on this
 * thread), loops over 10,000 lock ids. Awaiting a resolved promise does not let anything else run (the
 * continuation is a microtask), so a chain of such steps — a whole transaction, or every transaction queued on the
 * write connection — would otherwise hold the loop from its first step to its last while `/health`, other users'
 * requests and timers wait.
 */

/** Longest stretch of synchronous work before other callbacks get a turn. */
export const SLICE_MS = 4;

/** When the current stretch of synchronous work began, or undefined when none is being measured. */
let sliceStart: number | undefined;

/**
 * Called between steps of long work: resolves at once while the current stretch of synchronous work (this callback
 * and the microtasks it started) is shorter than {@link SLICE_MS}, else after the event loop has served what is
 * waiting (I/O, timers). A stretch is measured from the first call in it; the measure ends when the loop moves on.
 */
export function yieldIfBusy(): Promise<void> | undefined {
  const now = performance.now();
  if (sliceStart === undefined) {
    sliceStart = now;
    setImmediate(endSlice);
    return undefined;
  }
  if (now - sliceStart < SLICE_MS) return undefined;
  return new Promise<void>((resolve) => setImmediate(resolve));
}

function endSlice(): void {
  sliceStart = undefined;
}
