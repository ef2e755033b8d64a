import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { IModelFileWorker } from "../../ports/imodel-file-worker.js";
import { FileRejected } from "../../ports/imodel-file-worker.js";
import type { RawChangesetSummary, SummarizeArgs } from "../../ports/change-summary-store.js";
import type { WorkerITwin, WorkerPing, WorkerPong, WorkerReady, WorkerRequest, WorkerResponse } from "./ipc.js";

export interface ITwinWorkerOptions {
  /** Scratch directory of the child (its iTwin.js cache). */
  workDir: string;
  /** Longest a request may run once sent (not counting its wait in the queue); then the child is killed and
   * replaced, and the request rejected. Default 10 minutes. */
  requestTimeoutMs?: number;
  /** Longest the child may take to get IModelHost up (normally 1-2 s). Default 2 minutes. */
  startTimeoutMs?: number;
  /** How long close() lets the child shut IModelHost down before killing it. Default 10 s. */
  closeGraceMs?: number;
  /** Told each time a child is up, with the iTwin.js it runs (the hub logs it). */
  onStart?: (itwin: WorkerITwin) => void;
}

export interface InspectResult {
  iModelId: string;
  iTwinId: string;
  changesetId: string;
  changesetIndex?: number;
  briefcaseId: number;
  /** The file carries the NoLocking local value (its briefcases use no lock server). */
  noLocks: boolean;
}

/**
 * What `/ready` reports of the worker. `starting`: no child is up (never started, or it died and is being
 * replaced); `unresponsive`: the child did not answer a ping in time; `busy`: a request is running (it has its own
 * time limit, after which the child is killed and replaced).
 */
export type WorkerHealth =
  | { ok: true; state: "idle" | "busy"; pid: number | undefined; itwin: WorkerITwin | undefined }
  | { ok: false; state: "starting" | "unresponsive" | "closed"; reason: string };

interface Job {
  op: WorkerRequest["op"];
  args: object;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface InFlight {
  id: number;
  child: ChildProcess;
  timer: NodeJS.Timeout;
  settle(err: Error | undefined, value?: unknown): void;
}

/**
 * The server side of the iTwin.js worker process. The child starts on first use (or on start()); requests are
 * queued here and sent one at a time, each with its own time limit. If the child dies, the request it was running
 * is rejected ("iTwin.js worker exited with …") and the next request starts a fresh child. This process never loads
 * @itwin/core-backend or the native library.
 */
export class ITwinWorker implements IModelFileWorker {
  #child: ChildProcess | undefined;
  #ready: Promise<ChildProcess> | undefined;
  #nextId = 1;
  readonly #queue: Job[] = [];
  #inFlight: InFlight | undefined;
  #pumping = false;
  #closed = false;
  /** The child once its IModelHost is up (until it exits). */
  #up: ChildProcess | undefined;
  #starts = 0;
  #itwin: WorkerITwin | undefined;
  #nextPing = 1;
  readonly #pongs = new Map<number, () => void>();

  constructor(private readonly options: ITwinWorkerOptions) {}

  /** Children started to replace one that exited or was killed (a metric: each is a crash, a kill or a timeout). */
  get restarts(): number {
    return Math.max(0, this.#starts - 1);
  }

  /**
   * Whether the worker can take a request now. The child starts on demand, so a probe is such a demand: with no
   * child up, one is started and the answer is `starting` until its IModelHost is up. An idle child must answer a
   * ping (handled outside its request queue) within `timeoutMs`.
   */
  async health(timeoutMs = 5000): Promise<WorkerHealth> {
    if (this.#closed) return { ok: false, state: "closed", reason: closedError().message };
    const child = this.#up;
    if (!child) {
      this.#start().catch(() => undefined);
      return { ok: false, state: "starting", reason: "The iTwin.js worker process is starting." };
    }
    if (this.#inFlight?.child === child) return { ok: true, state: "busy", pid: child.pid, itwin: this.#itwin };
    try {
      await this.#ping(child, timeoutMs);
      return { ok: true, state: "idle", pid: child.pid, itwin: this.#itwin };
    } catch (err) {
      // A request that started meanwhile may hold the child's event loop (native calls are synchronous).
      if (this.#inFlight?.child === child && this.#up === child)
        return { ok: true, state: "busy", pid: child.pid, itwin: this.#itwin };
      return { ok: false, state: "unresponsive", reason: (err as Error).message };
    }
  }

  /** The iTwin.js the worker runs (known once a child has started). */
  get itwin(): WorkerITwin | undefined {
    return this.#itwin;
  }

  /** Process id of the running child, if any (for diagnostics and fault tests). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the child now (IModelHost takes a second or two) instead of on the first request. */
  async start(): Promise<void> {
    if (this.#closed) throw closedError();
    await this.#start();
  }

  initializeBaseline(args: {
    inputPath: string;
    outputPath: string;
    iModelId: string;
    iTwinId: string;
    noLocks?: boolean;
    resetParentChangeset?: boolean;
  }) {
    return this.#call<{ fileSize: number; changesetId: string; changesetIndex?: number }>("initializeBaseline", args);
  }

  createEmptyBaseline(args: {
    outputPath: string;
    iModelId: string;
    iTwinId: string;
    rootSubjectName: string;
    rootSubjectDescription?: string;
    noLocks?: boolean;
  }) {
    return this.#call<{ fileSize: number }>("createEmptyBaseline", args);
  }

  computeChangesetId(args: { parentId: string; pathname: string }) {
    return this.#call<{ id: string }>("computeChangesetId", { parentId: args.parentId, pathname: args.pathname });
  }

  makeCheckpoint(args: {
    basePath: string;
    outputPath: string;
    changesets: { id: string; index: number; parentId: string; pathname: string; changesType: number }[];
  }) {
    return this.#call<{ fileSize: number; changesetId: string }>("makeCheckpoint", args);
  }

  uploadCheckpointBlocks(args: Parameters<NonNullable<IModelFileWorker["uploadCheckpointBlocks"]>>[0]) {
    return this.#call<{ blockSize: number }>("uploadCheckpointBlocks", args);
  }

  deleteCheckpointBlocks(args: Parameters<NonNullable<IModelFileWorker["deleteCheckpointBlocks"]>>[0]) {
    return this.#call<{ deleted: string[] }>("deleteCheckpointBlocks", args);
  }

  /** Labels, classes and models of elements of a checkpoint (the web UI's lock list). */
  describeElements(args: { path: string; ids: readonly string[] }) {
    return this.#call<DescribedElements>("describeElements", { path: args.path, ids: [...args.ids] });
  }

  inspect(args: { path: string }) {
    return this.#call<InspectResult>("inspect", args);
  }

  /** Element-level summaries of changesets (see change-summarizer.ts). */
  summarizeChangesets(args: SummarizeArgs) {
    return this.#call<{ summaries: RawChangesetSummary[]; changesetId: string }>("summarizeChangesets", args);
  }

  /** Rejects queued requests, lets the child finish the running one and shut down (killed after the grace time). */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const job of this.#queue.splice(0)) job.reject(closedError());
    }
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    if (child.connected) child.disconnect();
    else child.kill("SIGKILL");
    const timer = setTimeout(() => child.kill("SIGKILL"), this.options.closeGraceMs ?? 10_000);
    await exited;
    clearTimeout(timer);
  }

  #ping(child: ChildProcess, timeoutMs: number): Promise<void> {
    const id = this.#nextPing++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pongs.delete(id);
        reject(new Error(`The iTwin.js worker did not answer a ping within ${timeoutMs} ms.`));
      }, timeoutMs);
      this.#pongs.set(id, () => {
        this.#pongs.delete(id);
        clearTimeout(timer);
        resolve();
      });
      // A channel that is closing fails the send; the timeout then reports it.
      if (child.connected) child.send({ ping: id } satisfies WorkerPing, () => undefined);
    });
  }

  #call<T>(op: WorkerRequest["op"], args: object): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ op, args, resolve: resolve as (value: unknown) => void, reject });
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (let job = this.#queue.shift(); job; job = this.#queue.shift()) {
        try {
          job.resolve(await this.#run(job));
        } catch (err) {
          job.reject(err as Error);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  async #run(job: Job): Promise<unknown> {
    if (this.#closed) throw closedError();
    const child = await this.#start();
    const id = this.#nextId++;
    const timeoutMs = this.options.requestTimeoutMs ?? 10 * 60_000;
    return new Promise<unknown>((resolve, reject) => {
      const inFlight: InFlight = {
        id,
        child,
        timer: setTimeout(() => {
          inFlight.settle(
            new Error(`iTwin.js worker did not answer '${job.op}' within ${timeoutMs} ms; it was restarted.`),
          );
          // Detach it first so the next request starts a fresh child instead of waiting for this one to die.
          this.#detach(child);
          child.kill("SIGKILL");
        }, timeoutMs),
        settle: (err, value) => {
          if (this.#inFlight !== inFlight) return;
          this.#inFlight = undefined;
          clearTimeout(inFlight.timer);
          if (err) reject(err);
          else resolve(value);
        },
      };
      this.#inFlight = inFlight;
      if (!child.connected) {
        // Dying between start and send: the exit handler settles this request, unless it already ran.
        if (child.exitCode !== null || child.signalCode !== null)
          inFlight.settle(exitError(child.exitCode, child.signalCode, ""));
        return;
      }
      child.send({ id, op: job.op, args: job.args as Record<string, unknown> } satisfies WorkerRequest, (err) => {
        // The channel closed under us (the child is dying); its exit handler settles the request.
        if (err) child.kill("SIGKILL");
      });
    });
  }

  #detach(child: ChildProcess): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#ready = undefined;
    this.#up = undefined;
  }

  #start(): Promise<ChildProcess> {
    if (this.#ready) return this.#ready;
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      // Under tests the server runs from its .ts sources (tsx); the child then must too, unless the tests name the
      // built worker (MODELHUB_WORKER_ENTRY: @modelhub/test-support does when the build is current, since a worker
      // start through tsx costs ~0.7 s more CPU and a test run starts hundreds).
      const runningTs = import.meta.url.endsWith(".ts");
      const builtEntry = runningTs ? process.env.MODELHUB_WORKER_ENTRY || undefined : undefined;
      const fromSources = runningTs && !builtEntry;
      const entry =
        builtEntry ??
        fileURLToPath(new URL(runningTs ? "./itwin-worker-main.ts" : "./itwin-worker-main.js", import.meta.url));
      const child = fork(entry, [], {
        execArgv: fromSources ? ["--import", import.meta.resolve("tsx")] : [],
        env: { ...process.env, MODELHUB_WORKER_DIR: this.options.workDir },
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      this.#child = child;
      this.#starts++;
      // A child that never gets IModelHost up is killed (its exit rejects the request waiting for it).
      const startTimer = setTimeout(() => child.kill("SIGKILL"), this.options.startTimeoutMs ?? 2 * 60_000);
      // A failed send or kill surfaces here; the 'exit' handler does the bookkeeping.
      child.on("error", () => undefined);
      child.on("message", (message: WorkerResponse | WorkerReady | WorkerPong) => {
        if ("ready" in message) {
          clearTimeout(startTimer);
          this.#itwin = message.itwin;
          this.options.onStart?.(message.itwin);
          if (this.#child === child) this.#up = child;
          return resolve(child);
        }
        if ("pong" in message) return this.#pongs.get(message.pong)?.();
        const inFlight = this.#inFlight;
        if (!inFlight || inFlight.id !== message.id || inFlight.child !== child) return;
        if (message.ok) inFlight.settle(undefined, message.result);
        else
          inFlight.settle(
            message.error.kind === "rejected"
              ? new FileRejected(message.error.message)
              : new Error(message.error.message),
          );
      });
      child.once("exit", (code, signal) => {
        clearTimeout(startTimer);
        this.#detach(child);
        const reason = this.#closed ? closedError() : exitError(code, signal, stderr);
        reject(reason);
        if (this.#inFlight?.child === child) this.#inFlight.settle(reason);
      });
    });
    this.#ready = ready;
    ready.catch(() => undefined);
    return ready;
  }
}

function closedError(): Error {
  return new Error("The iTwin.js worker is closed.");
}

function exitError(code: number | null, signal: NodeJS.Signals | null, stderr: string): Error {
  const last = stderr.trim().split("\n").at(-1);
  return new Error(
    `iTwin.js worker exited with ${signal ? `signal ${signal}` : `code ${code}`}${last ? `: ${last}` : ""}`,
  );
}

/** What `describeElements` answers: the ids the file has (others are left out), and the changeset it is at. */
export interface DescribedElements {
  elements: {
    id: string;
    className: string;
    label: string | null;
    model: { id: string; className: string | null; label: string | null } | null;
  }[];
  changesetId: string;
}
