import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface HubProcess {
  url: string;
  dataDir: string;
  /** SIGTERM, wait for the exit; removes the data directory if this helper made it. */
  stop(): Promise<void>;
}

/**
 * A real `modelhub serve` process (from source, through tsx) on a free loopback port, ready once it printed
 * `modelhub listening on …`. Used by tests and benchmarks that need the hub in a process of its own.
 */
export async function startHubProcess(options: { dataDir?: string; args?: readonly string[]; logLevel?: string } = {}): Promise<HubProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "modelhub-hubproc-")));
  const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", cli, "serve", "--port", "0", "--data", dataDir, "--log-level", options.logLevel ?? "warn", ...(options.args ?? [])],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /modelhub listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`modelhub serve exited with ${code} before listening`)));
  });
  return {
    url,
    dataDir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
