import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerConfig } from "../../src/config.js";
import { makeConfig } from "../../src/config.js";
import type { RunningServer, StartOptions } from "../../src/main.js";
import { startServer } from "../../src/main.js";

export const ACCEPT = "application/vnd.bentley.itwin-platform.v2+json";

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface TestHub {
  server: RunningServer;
  /** e.g. http://127.0.0.1:43121 */
  url: string;
  /** `${url}/imodels`, what the official clients take as `api.baseUrl`. */
  baseUrl: string;
  dataDir: string;
  /** Calls the API as `user` (default "alice"); `path` is relative to `/imodels`. */
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string>; user?: string | null },
  ): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

/** A real hub on a loopback port over a fresh data directory. */
export async function startTestHub(
  overrides: Partial<ServerConfig> = {},
  startOptions: StartOptions = {},
): Promise<TestHub> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), "modelhub-test-")));
  const server = await startServer(makeConfig({ port: 0, logLevel: "silent", ...overrides, dataDir }), startOptions);
  const baseUrl = `${server.url}/imodels`;
  return {
    server,
    url: server.url,
    baseUrl,
    dataDir,
    async api(method, path, options = {}) {
      const headers: Record<string, string> = { accept: ACCEPT, ...(options.headers ?? {}) };
      const user = options.user === undefined ? "alice" : options.user;
      if (user !== null) headers.authorization = `Bearer ${user}`;
      let payload: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        payload = JSON.stringify(options.body);
        headers["content-type"] ??= "application/json";
      }
      const response = await fetch(path.startsWith("http") ? path : `${baseUrl}${path}`, {
        method,
        headers,
        body: payload,
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, headers: response.headers, body: body as never, text };
    },
    async close() {
      await server.close();
      if (!overrides.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  what = "condition",
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
