// Webhook deliveries (issue 21) against `modelhub serve` processes (embedded storage), with real changesets made by
// iTwin.js (npm run bench -- webhooks [seconds]):
// - delivery latency: one iTwin with 100 webhooks, all to one node:http receiver in this process; pushes at 10/s
//   (four iModels, each pushed every 400 ms) for `seconds`; per delivery, the time from the push's completion answer
//   (the changeset is committed) to the receiver getting it;
// - a slow or dead callback never slows pushes: push latency (one iModel, one push every 200 ms) with the 100
//   webhooks' callback refusing connections, or answering after 10 s, vs the same hub without webhooks; and the cost
//   of having webhooks at all: the 100 webhooks' callback answering at once; a fresh hub per case, in three rounds of
//   rotated order.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FixtureChangeset } from "@modelhub/test-support/fixtures.js";
import { makeChangesets } from "@modelhub/test-support/fixtures.js";
import { acquireBriefcase, createIModelFromFile, pushChangeset } from "@modelhub/test-support/flows.js";
import { hubAt } from "@modelhub/test-support/hub.js";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import { median, percentile } from "./stats.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Hub = ReturnType<typeof hubAt>;

const ITWIN = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
const USER = "bench";
const WEBHOOKS = 100;
const PUSHES_PER_SECOND = 10;
const IMODELS = 4;
/** Pushes per iModel before the measured ones (their deliveries awaited): JIT, caches, the first connections. */
const WARMUP = 2;
const PUSH_CASES = ["none", "healthy", "dead", "slow"] as const;
const PUSHES_PER_CASE = 30;
const PUSH_GAP_MS = 200;
const ROUNDS = 3;
const SLOW_ANSWER_MS = 10_000;

export interface WebhookFigures {
  pushes: number;
  /** Deliveries expected of the measured pushes (100 per push), how many came, and how many came more than once. */
  expected: number;
  received: number;
  duplicates: number;
  /** From the push's completion answer to the receiver getting the delivery (ms). */
  delivery: { p50: number; p99: number; max: number };
  /** Push latency during the delivery run (create, upload, complete), and pushes that started > 50 ms late. */
  pushP50: number;
  latePushes: number;
  /** Per case, each round's median push latency (ms). */
  pushMs: Record<(typeof PUSH_CASES)[number], number[]>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A hub process with `iModels` iModels of one iTwin (the fixture's version 0), a briefcase each, and 100 webhooks
 * to `callback(i)` (none without). */
async function setUp(version0: string, iModels: number, callback: ((i: number) => string) | undefined) {
  const node = await startHubProcess({ logLevel: "error" });
  const hub = hubAt(node.url);
  try {
    const models = await Promise.all(
      Array.from({ length: iModels }, async (_, i) => {
        const id = (await createIModelFromFile(hub, version0, { iTwinId: ITWIN, user: USER, name: `webhooks ${i}` }))
          .id as string;
        return { id, briefcaseId: await acquireBriefcase(hub, id, USER) };
      }),
    );
    for (let i = 0; callback && i < WEBHOOKS; i++) {
      const made = await hub.api<Json>("POST", `${node.url}/webhooks`, {
        user: USER,
        body: { callbackUrl: callback(i), scope: "iTwin", scopeId: ITWIN, eventTypes: ["iModels.changesetPushed.v1"] },
      });
      if (made.status !== 201) throw new Error(`webhook ${i}: ${made.status} ${made.text}`);
    }
    return { node, hub, models };
  } catch (err) {
    await node.stop();
    throw err;
  }
}

async function timedPush(hub: Hub, model: { id: string; briefcaseId: number }, cs: FixtureChangeset) {
  const start = performance.now();
  await pushChangeset(hub, model.id, model.briefcaseId, cs, USER);
  const end = performance.now();
  return { start, end, ms: end - start };
}

async function deliveryRun(
  version0: string,
  changesets: FixtureChangeset[],
  seconds: number,
): Promise<Omit<WebhookFigures, "pushMs">> {
  /** Arrival times by `<iModelId>/<changesetIndex>`, and the message ids seen. */
  const arrivals = new Map<string, number[]>();
  const seen = new Set<string>();
  let duplicates = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      res.end("thanks");
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json;
      if (seen.has(body.messageId)) duplicates++;
      seen.add(body.messageId);
      const key = `${body.content.imodelId}/${body.content.changesetIndex}`;
      arrivals.set(key, [...(arrivals.get(key) ?? []), at]);
    });
  });
  const port = await listen(receiver);
  const { node, hub, models } = await setUp(version0, IMODELS, (i) => `http://127.0.0.1:${port}/hook/${i}`);
  try {
    const received = () => [...arrivals.values()].reduce((n, a) => n + a.length, 0);
    /** Waits until `count` deliveries came, or 60 s passed without a new one. */
    const until = async (count: number) => {
      let last = received();
      let lastAt = Date.now();
      while (received() < count && Date.now() - lastAt < 60_000) {
        await sleep(20);
        if (received() > last) [last, lastAt] = [received(), Date.now()];
      }
    };
    for (const cs of changesets.slice(0, WARMUP))
      await Promise.all(models.map((m) => pushChangeset(hub, m.id, m.briefcaseId, cs, USER)));
    await until(WARMUP * IMODELS * WEBHOOKS);
    if (received() < WARMUP * IMODELS * WEBHOOKS)
      throw new Error(`warm-up: ${received()} deliveries of ${WARMUP * IMODELS * WEBHOOKS}`);

    // The measured pushes: push k starts at t0 + k × 100 ms (or when its iModel's previous push answered, if later).
    const pushes = seconds * PUSHES_PER_SECOND;
    const gapMs = 1000 / PUSHES_PER_SECOND;
    const chains = models.map(() => Promise.resolve());
    const completed = new Map<string, number>();
    const pushMs: number[] = [];
    let latePushes = 0;
    const t0 = performance.now() + 100;
    for (let k = 0; k < pushes; k++) {
      const m = k % IMODELS;
      const cs = changesets[WARMUP + Math.floor(k / IMODELS)]!;
      const due = t0 + k * gapMs;
      await sleep(Math.max(0, due - performance.now()));
      chains[m] = chains[m]!.then(async () => {
        const push = await timedPush(hub, models[m]!, cs);
        if (push.start - due > 50) latePushes++;
        pushMs.push(push.ms);
        completed.set(`${models[m]!.id}/${cs.index}`, push.end);
      });
    }
    await Promise.all(chains);
    await until((WARMUP * IMODELS + pushes) * WEBHOOKS);
    const latencies: number[] = [];
    for (const [key, end] of completed) for (const at of arrivals.get(key) ?? []) latencies.push(at - end);
    return {
      pushes,
      expected: pushes * WEBHOOKS,
      received: latencies.length,
      duplicates,
      delivery: latencies.length
        ? { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) }
        : { p50: NaN, p99: NaN, max: NaN },
      pushP50: median(pushMs),
      latePushes,
    };
  } finally {
    await node.stop();
    await close(receiver);
  }
}

/** The median push latency of one iModel pushed every 200 ms, on a fresh hub with the case's webhooks. */
async function pushCase(
  version0: string,
  changesets: FixtureChangeset[],
  callback: ((i: number) => string) | undefined,
  drop: () => void,
): Promise<number> {
  const { node, hub, models } = await setUp(version0, 1, callback);
  try {
    const times: number[] = [];
    for (const cs of changesets.slice(0, WARMUP + PUSHES_PER_CASE)) {
      const push = await timedPush(hub, models[0]!, cs);
      if (cs.index > WARMUP) times.push(push.ms);
      await sleep(Math.max(0, PUSH_GAP_MS - push.ms));
    }
    return median(times);
  } finally {
    // Hung deliveries would hold the hub's stop for their 10 s: drop them first.
    drop();
    await node.stop();
  }
}

export async function benchWebhooks(seconds: number): Promise<WebhookFigures> {
  const perIModel = WARMUP + Math.ceil((seconds * PUSHES_PER_SECOND) / IMODELS);
  const fixture = await makeChangesets(
    join(tmpdir(), "modelhub-fixtures"),
    Math.max(perIModel, WARMUP + PUSHES_PER_CASE),
  );
  const figures = await deliveryRun(fixture.version0Path, fixture.changesets, seconds);
  console.log(
    `  deliveries: ${figures.received} of ${figures.expected} (${figures.duplicates} twice), p50 ${figures.delivery.p50.toFixed(1)} ms, ` +
      `p99 ${figures.delivery.p99.toFixed(1)} ms, max ${figures.delivery.max.toFixed(1)} ms; push p50 ${figures.pushP50.toFixed(1)} ms, ` +
      `${figures.latePushes} of ${figures.pushes} pushes started > 50 ms late`,
  );

  // A port nothing listens on (connection refused), and a receiver that answers after 10 s.
  const closed = createServer();
  const deadPort = await listen(closed);
  await close(closed);
  const hanging = new Set<() => void>();
  const slow = createServer((req, res) => {
    req.resume();
    const timer = setTimeout(() => res.end("late"), SLOW_ANSWER_MS);
    hanging.add(() => {
      clearTimeout(timer);
      res.destroy();
    });
  });
  const slowPort = await listen(slow);
  const healthy = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("thanks"));
  });
  const healthyPort = await listen(healthy);
  const dropSlow = () => {
    for (const drop of hanging) drop();
    hanging.clear();
  };
  const callbacks: Record<(typeof PUSH_CASES)[number], ((i: number) => string) | undefined> = {
    none: undefined,
    healthy: (i) => `http://127.0.0.1:${healthyPort}/hook/${i}`,
    dead: (i) => `http://127.0.0.1:${deadPort}/hook/${i}`,
    slow: (i) => `http://127.0.0.1:${slowPort}/hook/${i}`,
  };
  const pushMs: WebhookFigures["pushMs"] = { none: [], healthy: [], dead: [], slow: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = PUSH_CASES.map((_, i) => PUSH_CASES[(i + round) % PUSH_CASES.length]!);
      for (const c of order)
        pushMs[c].push(await pushCase(fixture.version0Path, fixture.changesets, callbacks[c], dropSlow));
      console.log(
        `  round ${round + 1}: push p50 ${order.map((c) => `${c} ${pushMs[c].at(-1)!.toFixed(1)} ms`).join(", ")}`,
      );
    }
  } finally {
    dropSlow();
    await close(slow);
    await close(healthy);
  }
  return { ...figures, pushMs };
}
