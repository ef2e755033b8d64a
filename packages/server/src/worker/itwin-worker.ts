import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { IModelFileWorker } from "../ports/imodel-file-worker.js";
import { FileRejected } from "../ports/imodel-file-worker.js";
import type { WorkerRequest, WorkerResponse } from "./protocol.js";

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** The child the request was sent to: only its exit rejects the request. */
  child: ChildProcess;
}

export interface ITwinWorkerOptions {
  /** Scratch directory of the child (its iTwin.js cache). */
  workDir: string;
  /** A request that takes longer kills the child (it is respawned for the next one). */
  requestTimeoutMs?: number;
}

/**
 * The server side of the iTwin.js worker process. Starts the child on first use, sends one request at a time
 * (the child queues too), rejects pending requests if the child dies, and starts a fresh child for the next request.
 * This process never loads the native iModel library itself.
 */
export class ITwinWorker implements IModelFileWorker {
  #child: ChildProcess | undefined;
  #ready: Promise<ChildProcess> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #closed = false;

  constructor(private readonly options: ITwinWorkerOptions) {}

  /** Process id of the running child, if any (for diagnostics and fault tests). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  initializeBaseline(args: { inputPath: string; outputPath: string; iModelId: string; iTwinId: string }) {
    return this.#call<{ fileSize: number; changesetId: string }>("initializeBaseline", args);
  }

  createEmptyBaseline(args: { outputPath: string; iModelId: string; iTwinId: string; rootSubjectName: string; rootSubjectDescription?: string }) {
    return this.#call<{ fileSize: number }>("createEmptyBaseline", args);
  }

  computeChangesetId(args: { parentId: string; pathname: string }) {
    return this.#call<{ id: string }>("computeChangesetId", args);
  }

  makeCheckpoint(args: { basePath: string; outputPath: string; changesets: { id: string; index: number; parentId: string; pathname: string; changesType: number }[] }) {
    return this.#call<{ fileSize: number; changesetId: string }>("makeCheckpoint", args);
  }

  inspect(args: { path: string }) {
    return this.#call<{ iModelId: string; iTwinId: string; changesetId: string; changesetIndex?: number; briefcaseId: number }>("inspect", args);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // The child exits when its IPC channel closes (after shutting IModelHost down); a stuck one is killed.
    if (child.connected) child.disconnect();
    else child.kill("SIGKILL");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async #call<T>(op: WorkerRequest["op"], args: object): Promise<T> {
    if (this.#closed) throw new Error("The iTwin.js worker is closed.");
    const child = await this.#start();
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = this.options.requestTimeoutMs ?? 10 * 60_000;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`iTwin.js worker did not answer '${op}' within ${timeoutMs} ms; it was restarted.`));
        // Detach it first so the next request starts a fresh child instead of queueing behind the dying one.
        this.#detach(child);
        child.kill("SIGKILL");
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, child });
      if (!child.connected) {
        // It is dying: its exit handler rejects this request, unless it already ran.
        if (child.exitCode !== null || child.signalCode !== null) this.#failPending(child, exitError(child.exitCode, child.signalCode, ""));
        return;
      }
      child.send({ id, op, args: args as Record<string, unknown> } satisfies WorkerRequest, (err) => {
        // The channel closed under us (the child is dying); the exit handler rejects the request.
        if (err) child.kill("SIGKILL");
      });
    });
  }

  #detach(child: ChildProcess): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#ready = undefined;
  }

  #failPending(child: ChildProcess, reason: Error): void {
    for (const [id, pending] of this.#pending) {
      if (pending.child !== child) continue;
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(reason);
    }
  }

  #start(): Promise<ChildProcess> {
    if (this.#ready) return this.#ready;
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      const runningTs = import.meta.url.endsWith(".ts");
      const entry = new URL(runningTs ? "./itwin-worker-main.ts" : "./itwin-worker-main.js", import.meta.url);
      const child = fork(fileURLToPath(entry), [], {
        execArgv: runningTs ? ["--import", "tsx"] : [],
        env: { ...process.env, MODELHUB_WORKER_DIR: this.options.workDir },
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      this.#child = child;
      // A failed send or kill surfaces here; the 'exit' handler does the bookkeeping.
      child.on("error", () => undefined);
      child.on("message", (message: WorkerResponse | { ready: true }) => {
        if ("ready" in message) return resolve(child);
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.ok) pending.resolve(message.result);
        else pending.reject(message.error.rejected ? new FileRejected(message.error.message) : new Error(message.error.message));
      });
      child.once("exit", (code, signal) => {
        this.#detach(child);
        const reason = exitError(code, signal, stderr);
        reject(reason);
        this.#failPending(child, reason);
      });
    });
    this.#ready = ready;
    ready.catch(() => undefined);
    return ready;
  }
}

function exitError(code: number | null, signal: NodeJS.Signals | null, stderr: string): Error {
  const last = stderr.trim().split("\n").at(-1);
  return new Error(`iTwin.js worker exited with ${signal ? `signal ${signal}` : `code ${code}`}${last ? `: ${last}` : ""}`);
}
