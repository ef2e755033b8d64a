// A real hub in this process on a loopback port, over a fresh data directory, with a small API caller. The server
// package's own tests bind it to the server's sources (packages/server/test/support/hub.ts, so that they see the
// same classes as the code they import); every other package's tests take `startTestHub` below, which loads the
// server as cli.ts runs it: the build when it is current, else the sources through tsx.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as Server from "@modelhub/server";
import type { RunningServer, ServerConfig } from "@modelhub/server";
import { SERVER_ENTRY } from "./cli.js";

export const ACCEPT = "application/vnd.bentley.itwin-platform.v2+json";

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** What a started hub must offer: its URL and a way to stop it. */
export interface StartedServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface TestHub<S extends StartedServer = RunningServer> {
  server: S;
  /** e.g. http://127.0.0.1:43121 */
  url: string;
  /** `${url}/imodels`, what the official clients take as `api.baseUrl`. */
  baseUrl: string;
  dataDir: string;
  /** Calls the API as `user` (default "alice"); `path` is relative to `/imodels`. */
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string | Uint8Array; headers?: Record<string, string>; user?: string | null },
  ): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

/** `startTestHub` for one server module (its `startServer` and `makeConfig`). */
export function testHubStarter<C extends { dataDir: string }, O, S extends StartedServer>(
  startServer: (config: C, options: O) => Promise<S>,
  makeConfig: (overrides: Partial<C>) => C,
): (overrides?: Partial<C>, startOptions?: O) => Promise<TestHub<S>> {
  return async (overrides = {}, startOptions = {} as O) => {
    const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), "modelhub-test-")));
    const server = await startServer(
      makeConfig({ port: 0, logLevel: "silent", ...overrides, dataDir } as Partial<C>),
      startOptions,
    );
    return {
      ...hubAt(server.url),
      server,
      dataDir,
      async close() {
        await server.close();
        if (!overrides.dataDir) await rm(dataDir, { recursive: true, force: true });
      },
    };
  };
}

/**
 * The API caller of a hub that runs elsewhere (a `modelhub serve` process, a node behind a proxy) at `url`: what the
 * helpers of flows.ts take, without a server of this process.
 */
export function hubAt(url: string): Pick<TestHub<StartedServer>, "url" | "baseUrl" | "api"> {
  const baseUrl = `${url}/imodels`;
  return {
    url,
    baseUrl,
    async api(method, path, options = {}) {
      const headers: Record<string, string> = { accept: ACCEPT, ...(options.headers ?? {}) };
      const user = options.user === undefined ? "alice" : options.user;
      if (user !== null) headers.authorization = `Bearer ${user}`;
      let payload: string | Uint8Array | undefined = options.rawBody;
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
  };
}

type ServerModule = typeof Server;
let serverModule: Promise<ServerModule> | undefined;

/** A real hub in this process (the server package as `modelhub` runs it: see cli.ts). */
export async function startTestHub(
  overrides: Partial<ServerConfig> = {},
  startOptions: Parameters<ServerModule["startServer"]>[1] = {},
): Promise<TestHub> {
  serverModule ??= import(SERVER_ENTRY) as Promise<ServerModule>;
  const { startServer, makeConfig } = await serverModule;
  return testHubStarter(startServer, makeConfig)(overrides, startOptions);
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
