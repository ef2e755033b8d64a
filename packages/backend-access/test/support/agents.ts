import type { ChildProcess } from "node:child_process";
import { fork, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** A real `modelhub serve` process on a free loopback port. */
export async function startHubProcess(): Promise<{ url: string; stop(): Promise<void> }> {
  const data = await mkdtemp(join(tmpdir(), "modelhub-hubproc-"));
  const cli = fileURLToPath(new URL("../../../server/src/cli.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", cli, "serve", "--port", "0", "--data", data, "--log-level", "warn"], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /modelhub listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`hub exited with ${code}`)));
  });
  return {
    url,
    async stop() {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
      await rm(data, { recursive: true, force: true });
    },
  };
}
