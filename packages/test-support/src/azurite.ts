import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The emulator's one account and its well-known development key (published in Azurite's documentation). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  /** For `AZURE_STORAGE_CONNECTION_STRING` (account name and key, path-style blob endpoint). */
  connectionString: string;
  /** e.g. http://127.0.0.1:41234/devstoreaccount1 */
  blobEndpoint: string;
  /** Kills the emulator and waits until it has exited (everything it held was in memory: it is gone). */
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

/**
 * Azurite's blob service in a process of its own, in memory, on a free loopback port (it picks one: `--blobPort 0`,
 * and prints which). Resolves once it answers HTTP.
 */
export async function startAzurite(): Promise<Azurite> {
  const main = join(dirname(require.resolve("azurite/package.json")), "dist/src/blob/main.js");
  const args = [
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    "0",
    "--inMemoryPersistence",
    "--extentMemoryLimit",
    "256",
    "--skipApiVersionCheck",
    "--loose",
    "--disableTelemetry",
    "--silent",
  ];
  const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start within 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited before listening:\n${output}`));
    });
  });
  // Keep draining its pipes so that it never blocks on a full one.
  child.stdout.resume();
  child.stderr.resume();
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  // "Listening" is printed when the socket is bound; one real request proves it answers (any status will do).
  const response = await fetch(`${blobEndpoint}?comp=list`);
  await response.arrayBuffer();
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    blobEndpoint,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
