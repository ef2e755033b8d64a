import { statSync } from "node:fs";

/**
 * Briefcases kept open between worker calls (the summary briefcases of change-summarizer.ts). Opening one (schemas, caches) took ~25 ms of CPU, twice per push (the
 * summary, then the apply of the changeset), and that work competed with the pushes themselves for the machine's
 * cores. A briefcase is reused only while its path still names the same file: the server deletes and replaces its
 * cached briefcases (dropBriefcase, a new base from a checkpoint) without telling the worker.
 */
export class KeptOpen<Db extends { close(): void }> {
  readonly #open = new Map<string, { db: Db; file: string; timer: NodeJS.Timeout }>();

  constructor(
    /** Closed after this long without a call (their memory and file handles are not kept for good). */
    private readonly idleMs: number,
    /** At most this many (several iModels pushed at once each keep theirs). */
    private readonly max: number,
  ) {}

  /** The open briefcase at `path`, if one is kept and the path still names its file; it is the caller's until kept. */
  take(path: string): Db | undefined {
    const entry = this.#open.get(path);
    if (!entry) return undefined;
    this.#open.delete(path);
    clearTimeout(entry.timer);
    if (fileIdentity(path) === entry.file) return entry.db;
    entry.db.close();
    return undefined;
  }

  keep(path: string, db: Db): void {
    const file = fileIdentity(path);
    if (file === undefined) return db.close();
    const timer = setTimeout(() => this.close(path), this.idleMs);
    timer.unref();
    this.#open.set(path, { db, file, timer });
    for (const oldest of this.#open.keys()) {
      if (this.#open.size <= this.max) break;
      this.close(oldest);
    }
  }

  close(path: string): void {
    const entry = this.#open.get(path);
    if (!entry) return;
    this.#open.delete(path);
    clearTimeout(entry.timer);
    entry.db.close();
  }
}

/** Device and inode of the file at `path` (undefined when there is none): a file replaced under the name differs. */
function fileIdentity(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}
