import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MODELHUB } from "./cli.js";

export interface HubProcess {
  url: string;
  dataDir: string;
  /** The `modelhub serve` process id (for /proc readings and kill -9). */
  pid: number;
  /** Resolves when the process has exited (however it ended). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, wait for the exit; removes the data directory if this helper made it. */
  stop(): Promise<void>;
  /** SIGKILL (a crash: nothing is flushed or closed), wait for the exit; the data directory is kept. */
  kill(): Promise<void>;
  /**
   * A full garbage collection in the hub, through its inspector (`inspect: true`): memory figures then count what
   * the hub keeps, not garbage V8 has not collected yet (it does so on its own schedule, up to half a minute later).
   */
  collectGarbage(): Promise<void>;
}

export interface HubProcessOptions {
  dataDir?: string;
  args?: readonly string[];
  logLevel?: string;
  /** A fixed port (default 0: a free one), e.g. to restart a hub where its clients expect it. */
  port?: number;
  /** Called with each chunk the process writes to stdout (its log lines). */
  onStdout?: (text: string) => void;
  /** Variables added to this process's environment (e.g. AZURE_STORAGE_CONNECTION_STRING). */
  env?: Readonly<Record<string, string>>;
  /** Opens the hub's inspector on a free loopback port, for `collectGarbage`. */
  inspect?: boolean;
}

/**
 * A real `modelhub serve` process (built, or from source when the build is behind: see ./cli.ts) on a free loopback
 * port, ready once it printed `modelhub listening on …`. Used by tests and benchmarks that need the hub in a process of its own.
 */
export async function startHubProcess(options: HubProcessOptions = {}): Promise<HubProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "modelhub-hubproc-")));
  const inspectPort = options.inspect ? await freePort() : undefined;
  const child = spawn(
    process.execPath,
    [
      ...(inspectPort !== undefined ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
      ...MODELHUB,
      "serve",
      "--port",
      String(options.port ?? 0),
      "--data",
      dataDir,
      "--log-level",
      options.logLevel ?? "warn",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...options.env } },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let listening = false;
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      options.onStdout?.(d.toString());
      if (listening) return; // keep draining the pipe, stop collecting
      out += d.toString();
      const m = /modelhub listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        listening = true;
        resolve(m[1]!);
      }
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`modelhub serve exited with ${signal ?? code} before listening`)),
    );
  });
  return {
    url,
    dataDir,
    pid: child.pid!,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async collectGarbage() {
      if (inspectPort === undefined) throw new Error("start the hub with inspect: true");
      const [target] = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as {
        webSocketDebuggerUrl: string;
      }[];
      // Node 20 has WebSocket behind a flag: a short helper process speaks the inspector protocol.
      const helper = spawn(
        process.execPath,
        [
          "--experimental-websocket",
          "--no-warnings",
          "-e",
          `const ws = new WebSocket(process.argv[1]);
           ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
           ws.onmessage = (m) => { if (JSON.parse(m.data).id === 1) { ws.close(); process.exit(0); } };
           ws.onerror = () => process.exit(1);`,
          target!.webSocketDebuggerUrl,
        ],
        { stdio: "inherit" },
      );
      const code = await new Promise<number | null>((resolve) => helper.once("exit", resolve));
      if (code !== 0) throw new Error("the hub's garbage collection through its inspector failed");
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A TCP port free right now on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
