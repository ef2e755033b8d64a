// A `modelhub serve` process that can be killed with SIGKILL and restarted on the same data directory and port, and
// the checks a crash run makes after each restart: history, acknowledged pushes, half-done states, left-over files,
// orphaned worker processes. Used by crash.test.ts and bench/soak.ts.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ACCEPT = "application/vnd.bentley.itwin-platform.v2+json";

/** A port nobody listens on right now (the hub keeps it across restarts, as a real deployment does). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Processes whose parent is `pid` (from /proc). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may hold spaces, so split after ')'.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status), or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface LeftoverFile {
  path: string;
  bytes: number;
  ageMs: number;
}

/** Every file under `dir` (recursively), with its age; `skip` names top-level entries to leave out. */
export function filesUnder(dir: string, skip: readonly string[] = []): LeftoverFile[] {
  const out: LeftoverFile[] = [];
  const now = Date.now();
  const walk = (d: string, top: boolean) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      if (top && skip.includes(name)) continue;
      const path = join(d, name);
      try {
        const s = statSync(path);
        if (s.isDirectory()) walk(path, false);
        else out.push({ path, bytes: s.size, ageMs: now - s.mtimeMs });
      } catch {
        // removed meanwhile
      }
    }
  };
  walk(dir, true);
  return out;
}

export interface CrashableHubOptions {
  dataDir: string;
  port: number;
  args: readonly string[];
  logLevel?: string;
  /** Variables for the process (e.g. AZURE_STORAGE_CONNECTION_STRING). */
  env?: Record<string, string>;
  /** Log lines of every generation of the process. */
  onStdout?: (text: string) => void;
}

/** One hub, many lives: SIGKILL it, start it again on the same data directory and port. */
export class CrashableHub {
  #process: HubProcess | undefined;
  /**
   * Set by `stop`: no start after it. A test that times out is not stopped by node:test — its code runs on beside the
   * `after` hook — and a restart it made after `stop` left a hub that kept the test file's process alive for good.
   */
  #stopped = false;
  /** A start in progress, which `stop` waits for (and then stops what it started). */
  #starting: Promise<void> | undefined;
  kills = 0;
  restarts = 0;
  /** Children (the iTwin.js worker) of killed generations, still to be seen gone. */
  readonly orphanWatch: { pid: number; killedAt: number }[] = [];
  readonly restartMs: number[] = [];

  constructor(private readonly options: CrashableHubOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get up(): boolean {
    return this.#process !== undefined;
  }

  async start(): Promise<void> {
    this.#starting = this.#start();
    try {
      await this.#starting;
    } finally {
      this.#starting = undefined;
    }
  }

  async #start(): Promise<void> {
    if (this.#stopped) throw new Error("the hub was stopped: no start after stop");
    const started = Date.now();
    // Right after a kill the port is free at once (no TIME_WAIT for a listening socket), but give it a few tries.
    for (let attempt = 0; ; attempt++) {
      try {
        this.#process = await startHubProcess({
          dataDir: this.options.dataDir,
          port: this.options.port,
          args: this.options.args,
          logLevel: this.options.logLevel ?? "warn",
          ...(this.options.env ? { env: this.options.env } : {}),
          ...(this.options.onStdout ? { onStdout: this.options.onStdout } : {}),
        });
        if (this.#stopped) {
          await this.#process.stop();
          this.#process = undefined;
          throw new Error("the hub was stopped while it started");
        }
        break;
      } catch (err) {
        if (attempt >= 4 || this.#stopped) throw err;
        await sleep(300);
      }
    }
    this.restartMs.push(Date.now() - started);
  }

  /** kill -9, remembering its children to check later that none outlives it for long. */
  async kill(): Promise<void> {
    const hub = this.#process;
    if (!hub) return;
    this.#process = undefined;
    const children = childrenOf(hub.pid);
    await hub.kill();
    this.kills++;
    const now = Date.now();
    for (const pid of children) this.orphanWatch.push({ pid, killedAt: now });
  }

  async restart(): Promise<void> {
    await this.start();
    this.restarts++;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#starting?.catch(() => undefined);
    const hub = this.#process;
    this.#process = undefined;
    await hub?.stop();
  }

  /** Orphans still alive `graceMs` after their hub was killed (the worker finishes its request, then exits). */
  lingeringOrphans(graceMs: number): { pid: number; aliveForMs: number }[] {
    const now = Date.now();
    return this.orphanWatch
      .filter((o) => isAlive(o.pid) && now - o.killedAt > graceMs)
      .map((o) => ({ pid: o.pid, aliveForMs: now - o.killedAt }));
  }

  async api<T = Json>(
    method: string,
    path: string,
    body?: unknown,
    user = "crash-checker",
  ): Promise<{ status: number; body: T; text: string }> {
    const response = await fetch(path.startsWith("http") ? path : `${this.url}/imodels${path}`, {
      method,
      headers: {
        accept: ACCEPT,
        authorization: `Bearer ${user}`,
        prefer: "return=representation",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed as T, text };
  }

  /** Every item of a paged list, following `_links.next`. */
  async listAll(path: string, key: string): Promise<Json[]> {
    const items: Json[] = [];
    let next: string | undefined = path;
    while (next) {
      const r: { status: number; body: Json; text: string } = await this.api("GET", next);
      if (r.status !== 200) throw new Error(`GET ${next}: ${r.status} ${r.text}`);
      items.push(...(r.body[key] as Json[]));
      next = (r.body._links?.next?.href as string | undefined) ?? undefined;
    }
    return items;
  }

  /** sha256 of a changeset's file as the hub serves it. */
  async changesetSha(
    iModelId: string,
    idOrIndex: string | number,
  ): Promise<{ sha256: string; size: number } | undefined> {
    const r = await this.api("GET", `/${iModelId}/changesets/${idOrIndex}`);
    if (r.status !== 200) return undefined;
    const href = r.body.changeset?._links?.download?.href as string | undefined;
    if (!href) return undefined;
    const file = await fetch(href, { signal: AbortSignal.timeout(60_000) });
    if (file.status !== 200) throw new Error(`download of changeset ${idOrIndex}: ${file.status}`);
    const bytes = Buffer.from(await file.arrayBuffer());
    return { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
  }
}

/** A push the hub acknowledged (pushChangeset resolved), with the digest of the exact file that was sent. */
export interface AckedPush {
  id: string;
  parentId: string;
  index: number;
  briefcaseId: number;
  size: number;
  sha256: string;
  at: number;
}

export interface HistoryReport {
  changesets: number;
  problems: string[];
  lost: string[];
  duplicates: string[];
}

/**
 * The iModel's changeset history as the hub lists it: indexes 1..n with no gap, each parent the previous id, every
 * changeset complete (`fileUploaded`), each id once; and every acknowledged push there once, at the index the client
 * was told, byte-identical to the file the client sent (`verifyBytes` says which to download again).
 */
export async function checkHistory(
  hub: CrashableHub,
  iModelId: string,
  acks: readonly AckedPush[],
  verifyBytes: (ack: AckedPush) => boolean,
): Promise<HistoryReport> {
  const list = await hub.listAll(`/${iModelId}/changesets?$top=1000`, "changesets");
  const problems: string[] = [];
  const lost: string[] = [];
  const duplicates: string[] = [];
  const seen = new Map<string, number>();
  list.forEach((c, i) => {
    if (c.index !== i + 1) problems.push(`position ${i + 1} holds index ${c.index}`);
    const parent = i === 0 ? "" : list[i - 1]!.id;
    if (c.parentId !== parent) problems.push(`changeset ${c.index}: parent ${c.parentId}, previous is ${parent}`);
    if (c.state !== "fileUploaded") problems.push(`changeset ${c.index} listed as ${c.state}`);
    seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
  });
  for (const [id, n] of seen) if (n > 1) duplicates.push(`${id} listed ${n} times`);
  const byId = new Map(list.map((c) => [c.id as string, c]));
  for (const ack of acks) {
    const c = byId.get(ack.id);
    if (!c) {
      lost.push(`${ack.id} (acknowledged as index ${ack.index} to briefcase ${ack.briefcaseId})`);
      continue;
    }
    if (c.index !== ack.index) problems.push(`${ack.id}: acknowledged as index ${ack.index}, listed at ${c.index}`);
    if (c.parentId !== ack.parentId)
      problems.push(`${ack.id}: pushed with parent ${ack.parentId}, listed with ${c.parentId}`);
    if (verifyBytes(ack)) {
      const file = await hub.changesetSha(iModelId, ack.id);
      if (!file) lost.push(`${ack.id}: listed but its file cannot be downloaded`);
      else if (file.sha256 !== ack.sha256 || file.size !== ack.size)
        problems.push(
          `${ack.id}: the hub serves ${file.size} bytes sha256 ${file.sha256}, the client pushed ${ack.size} bytes ${ack.sha256}`,
        );
    }
  }
  return { changesets: list.length, problems, lost, duplicates };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
