import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface AgentError {
  name?: string;
  errorNumber?: number;
  message?: string;
  briefcaseId?: number;
}

export type AgentResult<T = unknown> = { ok: true; result: T } | { ok: false; error: AgentError };

/** One child process running iTwin.js users (see agent-host.ts). */
export class Agent {
  #nextId = 1;
  readonly #pending = new Map<number, (r: AgentResult) => void>();
  private constructor(private readonly child: ChildProcess) {
    child.on("message", (m: { id?: number } & AgentResult) => {
      if (m.id === undefined) return;
      this.#pending.get(m.id)?.(m);
      this.#pending.delete(m.id);
    });
  }

  static async start(mode: string, user?: string, appRoot?: string): Promise<Agent> {
    const script = fileURLToPath(new URL("./agent-host.ts", import.meta.url));
    const child = fork(script, user ? [mode, user] : [mode], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: appRoot ? { ...process.env, MODELHUB_AGENT_ROOT: appRoot } : process.env,
    });
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`agent exited with ${code}`)));
    });
    return new Agent(child);
  }

  /** Runs a command; resolves with its outcome (errors included, as data). */
  try<T = unknown>(command: string, args: Record<string, unknown> = {}): Promise<AgentResult<T>> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve as (r: AgentResult) => void);
      this.child.send({ id, command, args });
    });
  }

  /** Runs a command and throws if it failed. */
  async do<T = unknown>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    const r = await this.try<T>(command, args);
    if (!r.ok) throw new Error(`${command} failed: ${JSON.stringify(r.error)}`);
    return r.result;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A real `modelhub serve` process on a free loopback port (the shared helper of the server's test support). */
export { startHubProcess } from "../../../server/test/support/hub-process.js";
