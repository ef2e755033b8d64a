import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { agentScript } from "@modelhub/test-support/agent-script.js";

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
    // A dead agent answers nothing: fail what waits on it instead of hanging the test.
    child.once("exit", (code, signal) => {
      for (const settle of this.#pending.values())
        settle({ ok: false, error: { name: "AgentExited", message: `agent exited with ${signal ?? code}` } });
      this.#pending.clear();
    });
  }

  /** `env` adds variables, e.g. MODELHUB_AGENT_RETRY (a JSON RetryPolicy for the agent's ModelHubAccess). */
  static async start(mode: string, user?: string, appRoot?: string, env: Record<string, string> = {}): Promise<Agent> {
    // agent-host.ts, as JavaScript when the build is current (see agentScript).
    const host = agentScript();
    const child = fork(host.script, user ? [mode, user] : [mode], {
      execArgv: host.execArgv,
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: { ...process.env, ...host.env, ...(appRoot ? { MODELHUB_AGENT_ROOT: appRoot } : {}), ...env },
    });
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`agent exited with ${code}`)));
    });
    return new Agent(child);
  }

  get pid(): number {
    return this.child.pid!;
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
export { startHubProcess } from "@modelhub/test-support/hub-process.js";
