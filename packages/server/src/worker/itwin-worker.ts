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
    child.disconnect();
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
        child.kill("SIGKILL");
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ id, op, args: args as Record<string, unknown> } satisfies WorkerRequest);
    });
  }

  #start(): Promise<ChildProcess> {
    if (this.#ready) return this.#ready;
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      const entry = new URL(import.meta.url.endsWith(".ts") ? "./itwin-worker-main.ts" : "./itwin-worker-main.js", import.meta.url);
      const child = fork(fileURLToPath(entry), [], {
        execArgv: import.meta.url.endsWith(".ts") ? ["--import", "tsx"] : [],
        env: { ...process.env, MODELHUB_WORKER_DIR: this.options.workDir },
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      this.#child = child;
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
        if (this.#child === child) {
          this.#child = undefined;
          this.#ready = undefined;
        }
        const reason = new Error(`iTwin.js worker exited with ${signal ? `signal ${signal}` : `code ${code}`}${stderr ? `: ${stderr.trim().split("\n").at(-1)}` : ""}`);
        reject(reason);
        for (const [id, pending] of this.#pending) {
          clearTimeout(pending.timer);
          this.#pending.delete(id);
          pending.reject(reason);
        }
      });
    });
    this.#ready = ready;
    ready.catch(() => undefined);
    return ready;
  }
}
