import { fork } from "node:child_process";
import { agentScript } from "@modelhub/test-support/agent-script.js";

export type AgentAnswer<T> =
  { ok: true; result: T } | { ok: false; error: { name?: string; errorNumber?: number; message?: string } };

export interface ITwinAgent {
  /** Runs one of the agent host's commands (download, insert, push, pull, acked, …); throws if it failed. */
  do<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T>;
  /** Disconnects (the agent closes its briefcases and shuts iTwin.js down), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/**
 * An iTwin.js user in a process of its own: backend-access's agent host (unmodified BriefcaseDb code over
 * @modelhub/backend-access), started by path (see test-support's agentScript) so that server tests need not compile backend-access's test files.
 */
export async function startITwinAgent(hubUrl: string, user: string): Promise<ITwinAgent> {
  const host = agentScript();
  const child = fork(host.script, [hubUrl, user], {
    execArgv: host.execArgv,
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env: { ...process.env, ...host.env },
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`agent exited with ${code}`)));
  });
  let nextId = 1;
  const pending = new Map<number, (answer: AgentAnswer<unknown>) => void>();
  child.on("message", (m: { id?: number } & AgentAnswer<unknown>) => {
    if (m.id === undefined) return;
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  // A dead agent answers nothing: fail what waits on it instead of hanging the test.
  child.once("exit", (code, signal) => {
    for (const settle of pending.values())
      settle({ ok: false, error: { name: "AgentExited", message: `agent exited with ${signal ?? code}` } });
    pending.clear();
  });
  return {
    async do<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
      const id = nextId++;
      const answer = await new Promise<AgentAnswer<unknown>>((resolve) => {
        pending.set(id, resolve);
        child.send({ id, command, args });
      });
      if (!answer.ok) throw new Error(`${command} failed: ${JSON.stringify(answer.error)}`);
      return answer.result as T;
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
