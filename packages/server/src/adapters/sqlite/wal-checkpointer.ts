import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** How often the WAL is looked at (one stat) and, when it was written since, checkpointed. */
const INTERVAL_MS = 500;
/** Wait before a checkpointer thread that died is started again. */
const RESTART_MS = 1000;

/**
 * The worker thread's code: its own connection to the file, one PASSIVE checkpoint per message (it never waits for
 * readers or writers: it copies what it can). CommonJS, evaluated: nothing to resolve at run time but the driver.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma("cache_size = -1000");
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [result] = db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ ok: true, frames: result.log, checkpointed: result.checkpointed });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err) });
  }
});
`;

/**
 * Checkpoints a SQLite file's write-ahead log on a thread of its own. SQLite's automatic checkpoint runs inside the
 * COMMIT that crosses 1,000 WAL pages, on the committing connection — for the hub, on the event loop: copying the
 * pages into the database and fsyncing held every request for 10–40 ms, and for 150 ms after a briefcase released
 * 200,000 locks. The hub's connections therefore never checkpoint (openSqliteDatabase sets `wal_autocheckpoint = 0`)
 * and this thread does, whenever the WAL was written since its last run.
 */
export class WalCheckpointer {
  readonly #walPath: string;
  readonly #timer: NodeJS.Timeout;
  #worker: Worker | undefined;
  #busy = false;
  #lastWrite = 0;
  #restartAt = 0;
  #closed = false;

  constructor(
    private readonly path: string,
    private readonly warn: (message: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {
    this.#walPath = `${path}-wal`;
    this.#timer = setInterval(() => this.#tick(), INTERVAL_MS).unref();
  }

  #tick(): void {
    if (this.#busy || this.#closed) return;
    let written: number;
    try {
      written = statSync(this.#walPath).mtimeMs;
    } catch {
      return; // no WAL (yet): nothing to do
    }
    if (written === this.#lastWrite) return;
    const worker = this.#ensureWorker();
    if (!worker) return;
    this.#busy = true;
    this.#lastWrite = written;
    worker.postMessage("checkpoint");
  }

  #ensureWorker(): Worker | undefined {
    if (this.#worker) return this.#worker;
    if (Date.now() < this.#restartAt) return undefined;
    // Plain CommonJS: none of the process's flags (a loader, --inspect) apply to it.
    const worker = new Worker(WORKER, {
      eval: true,
      execArgv: [],
      workerData: { path: this.path, driver: createRequire(import.meta.url).resolve("better-sqlite3") },
    });
    worker.unref();
    worker.on("message", (result: { ok: boolean; error?: string }) => {
      this.#busy = false;
      if (!result.ok) {
        this.warn("the WAL checkpoint failed; it is tried again", { error: result.error });
        this.#lastWrite = 0;
      }
    });
    worker.on("error", (err) =>
      this.warn("the WAL checkpoint thread failed; it is started again", { err: String(err) }),
    );
    worker.on("exit", () => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#busy = false;
      this.#lastWrite = 0;
      this.#restartAt = Date.now() + RESTART_MS;
    });
    this.#worker = worker;
    return worker;
  }

  /** Stops the thread (its connection closes; the last connection to close checkpoints what is left). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("close");
    // A checkpoint in progress finishes first; a thread that does not end is stopped.
    const stop = setTimeout(() => void worker.terminate(), 5000);
    await exited;
    clearTimeout(stop);
  }
}
