// Hub nodes and stores (issue 23), `npm run bench -- nodes`. Every push is one real changeset made by iTwin.js (a
// cached fixture chain of 20-element inserts) sent by @modelhub/backend-access's `pushChangeset` — the code iTwin.js
// pushes through: create, upload, complete, over keep-alive node:http — without iTwin.js making the changeset in the
// measured time, so the figures are the hub's (and its stores'), not the client's.
// - latency: `modelhub serve` processes with embedded storage (SQLite + fs, the reference), PostgreSQL metadata
//   (a private schema of the test database) + fs, and SQLite + Azure blobs (Azurite); each round pushes PUSHES
//   changesets in a row to one iModel per hub, the hubs in rotated order; a ratio is the median of the rounds' ratios
//   of medians;
// - throughput: two nodes sharing one PostgreSQL schema and one Azurite container (the scale-out setup of
//   docs/deploy.md) vs one of them alone: PUSHERS concurrent pushers on distinct iModels (one node: all to node A;
//   two nodes: half to each), and one pusher on one iModel (one node: all to A; two nodes: pushes alternate A, B),
//   the two modes alternating by round.
// `azureOnly` (`npm run bench -- nodes azure`): only the latency of the embedded and the Azurite hub, no PostgreSQL.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChangesetFileProps } from "@itwin/core-common";
import { ModelHubAccess } from "../packages/backend-access/src/index.js";
import type { Azurite } from "@modelhub/test-support/azurite.js";
import { startAzurite } from "@modelhub/test-support/azurite.js";
import type { FixtureChangeset } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile } from "@modelhub/test-support/flows.js";
import { hubAt } from "@modelhub/test-support/hub.js";
import type { HubProcess } from "@modelhub/test-support/hub-process.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { privateSchema } from "@modelhub/test-support/postgres.js";
import type { PushStatements } from "./pg-statements.js";
import { pgTraceEnv, pushStatements } from "./pg-statements.js";
import { RequestTrace } from "./request-trace.js";
import { median } from "./stats.js";

const ITWIN = "4c3b2a19-0f8e-4d7c-9b6a-5f4e3d2c1b0a";
const USER = "bench";
const ELEMENTS = 20;
/** Unmeasured pushes per iModel first: JIT, caches, connections. */
const WARMUP = 5;
const ROUNDS = 5;
/** Latency: pushes per hub per round. */
const PUSHES = 20;
/** Throughput on distinct iModels: concurrent pushers (one iModel each) and pushes per pusher per round. */
const PUSHERS = 4;
const PUSHES_PER_PUSHER = 8;
/** Throughput on one iModel: pushes per round. */
const SINGLE_PUSHES = 20;
const CHAIN = WARMUP + Math.max(ROUNDS * PUSHES, 2 * ROUNDS * PUSHES_PER_PUSHER, 2 * ROUNDS * SINGLE_PUSHES);
/** The `pg` mode's chain: the latency rounds' (the statement count needs fewer). */
const PG_CHAIN = WARMUP + ROUNDS * PUSHES;

export interface NodesFigures {
  /** Per round, the median push latency (ms) of each hub (`postgres` empty with `azureOnly`). */
  latency: { embedded: number[]; postgres: number[]; azure: number[] };
  /** Per hub, the client's wait on each request of a push (ms, median over the measured pushes), by route. */
  requests: Record<"embedded" | "postgres" | "azure", Record<string, number>>;
  /** Per round, pushes per second (empty with `azureOnly`). */
  distinct: { one: number[]; two: number[] };
  single: { one: number[]; two: number[] };
  pushers: number;
  /** The PostgreSQL statements of one push, per request (a hub process of its own, tracing every statement); not
   * counted in the `azure` mode. */
  statements: PushStatements | undefined;
}

/**
 * `all`: every part; `pg`: only what PostgreSQL's latency needs (embedded and PostgreSQL latency, the statement
 * count), not Azurite or two nodes.
 */
export type NodesMode = "all" | "pg" | "azure";

/** One iModel on a hub, pushed through `access`es in turn from its next changeset of the chain on. */
class Target {
  next = 0;
  constructor(
    readonly iModelId: string,
    readonly briefcaseId: number,
    private readonly chain: FixtureChangeset[],
  ) {}

  static async create(url: string, version0: string, chain: FixtureChangeset[], name: string): Promise<Target> {
    const hub = hubAt(url);
    const id = (await createIModelFromFile(hub, version0, { iTwinId: ITWIN, user: USER, name })).id as string;
    return new Target(id, await acquireBriefcase(hub, id, USER), chain);
  }

  /** Pushes the next changeset; answers its latency (ms). */
  async push(access: ModelHubAccess): Promise<number> {
    const cs = this.chain[this.next]!;
    if (!cs) throw new Error(`the fixture chain has only ${this.chain.length} changesets`);
    const props = {
      id: cs.id,
      parentId: cs.parentId,
      index: cs.index,
      changesType: cs.changesType,
      description: cs.description,
      pathname: cs.pathname,
      briefcaseId: this.briefcaseId,
    } as ChangesetFileProps;
    const start = performance.now();
    const index = await access.pushChangeset({ iModelId: this.iModelId, changesetProps: props, accessToken: USER });
    const ms = performance.now() - start;
    if (index !== cs.index) throw new Error(`pushed as ${index}, expected ${cs.index}`);
    this.next++;
    return ms;
  }
}

/** Pushes WARMUP + PUSHES changesets to a PostgreSQL hub whose statements are traced; those of the measured ones. */
async function countStatements(
  url: string,
  version0: string,
  chain: FixtureChangeset[],
  work: string,
  start: (args: string[], env?: Record<string, string>) => Promise<HubProcess>,
): Promise<PushStatements> {
  // MODELHUB_BENCH_PG_TRACE_FILE keeps the trace (one JSON line per statement) where it says, to be read afterwards.
  const file = process.env.MODELHUB_BENCH_PG_TRACE_FILE ?? join(work, "pg-statements.jsonl");
  await rm(file, { force: true });
  const hub = await start(["--metadata", url], pgTraceEnv(file));
  const access = accessTo(hub.url);
  try {
    const target = await Target.create(hub.url, version0, chain, "statements");
    for (let i = 0; i < WARMUP; i++) await target.push(access);
    const from = Date.now();
    for (let i = 0; i < PUSHES; i++) await target.push(access);
    // What the last push does after its answers (after-commit effects, audit rows) belongs to it too.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const to = Date.now();
    await hub.stop();
    return await pushStatements(file, from, to);
  } finally {
    access.dispose();
  }
}

const accessTo = (url: string) => new ModelHubAccess({ baseUrl: url, accessToken: `Bearer ${USER}` });

/** Pushes per second of `pushers` (each a target and the accesses it pushes through in turn), `each` pushes each. */
async function throughput(pushers: { target: Target; via: ModelHubAccess[] }[], each: number): Promise<number> {
  const start = performance.now();
  await Promise.all(
    pushers.map(async ({ target, via }) => {
      for (let i = 0; i < each; i++) await target.push(via[i % via.length]!);
    }),
  );
  return (pushers.length * each) / ((performance.now() - start) / 1000);
}

export async function benchNodes(log: (line: string) => void, mode: NodesMode = "all"): Promise<NodesFigures> {
  const t0 = Date.now();
  const length = mode === "pg" ? PG_CHAIN : CHAIN;
  const fixture = await makeChangesets(join(tmpdir(), "modelhub-fixtures"), length, ELEMENTS);
  log(`  fixture: ${length} changesets of ${ELEMENTS} elements (${((Date.now() - t0) / 1000).toFixed(1)} s, cached)`);
  const { version0Path: version0, changesets: chain } = fixture;
  const work = await mkdtemp(join(tmpdir(), "modelhub-bench-nodes-"));
  const hubs: HubProcess[] = [];
  const accesses: ModelHubAccess[] = [];
  const schemas: Awaited<ReturnType<typeof privateSchema>>[] = [];
  let azurite: Azurite | undefined;
  const start = async (args: string[], env?: Record<string, string>, name?: string) => {
    const hub = await startHubProcess({
      logLevel: "error",
      args: [...args, ...(name ? ["--node-id", name] : [])],
      ...(env ? { env } : {}),
    });
    hubs.push(hub);
    return hub;
  };
  try {
    // The statements of a push on PostgreSQL, first: a hub of its own, since tracing every statement costs time.
    let statements: PushStatements | undefined;
    if (mode !== "azure") {
      const pgCount = await privateSchema("bench_statements");
      schemas.push(pgCount);
      statements = await countStatements(pgCount.url, version0, chain, work, start);
      for (const r of statements.routes)
        log(
          `  PostgreSQL: ${r.route}: ${r.statements} statements in ${r.messages} round trips (${r.inARow} in a row ` +
            `before the answer; ${r.afterAnswer} statements after it), ${r.transactions} transactions ` +
            `(${r.readOnlyTransactions} read-only) (medians)`,
        );
      log(
        `  PostgreSQL per push: ${statements.statements} statements in ${statements.messages} round trips ` +
          `(${statements.inARow} in a row before the answers; ${statements.afterAnswer} statements after them), ` +
          `${statements.transactions} transactions; background ${statements.backgroundPerSecond.toFixed(1)} round trips/s`,
      );
      if (process.env.MODELHUB_BENCH_PG_STATEMENTS === "1")
        for (const r of statements.routes) log(`  ${r.route}:\n    ${r.example.join("\n    ")}`);
    }
    for (const hub of hubs.splice(0)) await hub.stop();

    if (mode !== "pg") azurite = await startAzurite();
    const azureEnv = azurite ? { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString } : undefined;

    // Latency: three single hubs (two in the `pg` and `azure` modes).
    const pgLatency = mode === "azure" ? undefined : await privateSchema("bench_latency");
    if (pgLatency) schemas.push(pgLatency);
    const [embedded, postgres, azure] = await Promise.all([
      start([]),
      pgLatency && start(["--metadata", pgLatency.url]),
      azureEnv && start(["--blobs", `azure:bench-latency-${process.pid}`], azureEnv),
    ]);
    const kinds = [
      { name: "embedded" as const, hub: embedded },
      ...(postgres ? [{ name: "postgres" as const, hub: postgres }] : []),
      ...(azure ? [{ name: "azure" as const, hub: azure }] : []),
    ];
    const latency = { embedded: [] as number[], postgres: [] as number[], azure: [] as number[] };
    // Where a push's time goes on each hub: the client's wait on each of its requests.
    const trace = new RequestTrace();
    const waits = {
      embedded: new Map<string, number[]>(),
      postgres: new Map<string, number[]>(),
      azure: new Map<string, number[]>(),
    };
    const sides = await Promise.all(
      kinds.map(async (k) => {
        const access = accessTo(k.hub.url);
        accesses.push(access);
        return { ...k, access, target: await Target.create(k.hub.url, version0, chain, `latency ${k.name}`) };
      }),
    );
    for (const s of sides) for (let i = 0; i < WARMUP; i++) await s.target.push(s.access);
    for (let r = 0; r < ROUNDS; r++) {
      // Rotated order: no hub always runs first after the previous round.
      for (let k = 0; k < sides.length; k++) {
        const s = sides[(r + k) % sides.length]!;
        const ms: number[] = [];
        for (let i = 0; i < PUSHES; i++) {
          const requests = await trace.record(async () => {
            ms.push(await s.target.push(s.access));
          });
          for (const q of requests) waits[s.name].set(q.route, [...(waits[s.name].get(q.route) ?? []), q.ms]);
        }
        latency[s.name].push(median(ms));
      }
      log(
        `  latency round ${r + 1}: embedded ${latency.embedded.at(-1)!.toFixed(1)} ms` +
          (postgres ? `, PostgreSQL ${latency.postgres.at(-1)!.toFixed(1)} ms` : "") +
          (azure ? `, Azurite ${latency.azure.at(-1)!.toFixed(1)} ms` : "") +
          ` (medians of ${PUSHES} pushes)`,
      );
    }
    const requests = Object.fromEntries(
      Object.entries(waits).map(([name, routes]) => [
        name,
        Object.fromEntries([...routes].map(([route, xs]) => [route, median(xs)])),
      ]),
    ) as NodesFigures["requests"];
    for (const [name, routes] of Object.entries(requests)) {
      if (Object.keys(routes).length === 0) continue; // a hub this run did not start
      log(
        `  ${name}: ${Object.entries(routes)
          .map(([route, x]) => `${route} ${x.toFixed(1)} ms`)
          .join(", ")} (client wait, medians)`,
      );
    }
    for (const hub of hubs.splice(0)) await hub.stop();
    const none = { one: [], two: [] };
    if (mode !== "all") return { latency, requests, distinct: none, single: none, pushers: PUSHERS, statements };

    // Throughput: two nodes on one PostgreSQL schema and one Azurite container.
    const pgNodes = await privateSchema("bench_nodes");
    schemas.push(pgNodes);
    const secretFile = join(work, "link.secret");
    await writeFile(secretFile, randomBytes(32).toString("base64"));
    const shared = [
      "--metadata",
      pgNodes.url,
      "--blobs",
      `azure:bench-nodes-${process.pid}`,
      "--link-secret-file",
      secretFile,
    ];
    // One after the other: the first migrates the fresh schema.
    const a = await start(shared, azureEnv, "node-a");
    const b = await start(shared, azureEnv, "node-b");
    const [viaA, viaB] = [accessTo(a.url), accessTo(b.url)];
    accesses.push(viaA, viaB);
    const targets = await Promise.all(
      Array.from({ length: PUSHERS }, (_, i) => Target.create(a.url, version0, chain, `distinct ${i}`)),
    );
    const single = await Target.create(a.url, version0, chain, "single");
    await Promise.all(
      [...targets, single].map(async (t, i) => {
        for (let w = 0; w < WARMUP; w++) await t.push(w % 2 === 0 ? viaA : viaB);
        return i;
      }),
    );
    const distinct = { one: [] as number[], two: [] as number[] };
    const one = { one: [] as number[], two: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of r % 2 === 0 ? (["one", "two"] as const) : (["two", "one"] as const)) {
        distinct[mode].push(
          await throughput(
            targets.map((target, i) => ({ target, via: [mode === "one" || i % 2 === 0 ? viaA : viaB] })),
            PUSHES_PER_PUSHER,
          ),
        );
        one[mode].push(
          await throughput([{ target: single, via: mode === "one" ? [viaA] : [viaA, viaB] }], SINGLE_PUSHES),
        );
      }
      log(
        `  throughput round ${r + 1}: ${PUSHERS} iModels ${distinct.one.at(-1)!.toFixed(1)}/s one node, ${distinct.two.at(-1)!.toFixed(1)}/s two; ` +
          `one iModel ${one.one.at(-1)!.toFixed(1)}/s one node, ${one.two.at(-1)!.toFixed(1)}/s two (pushes/s)`,
      );
    }
    return { latency, requests, distinct, single: one, pushers: PUSHERS, statements };
  } finally {
    for (const access of accesses) access.dispose();
    for (const hub of hubs) await hub.stop();
    await azurite?.stop();
    for (const schema of schemas) await schema.drop();
    await rm(work, { recursive: true, force: true });
  }
}
