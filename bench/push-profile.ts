// Where a push's and a pull's time goes (npm run bench -- profile [pushes]): one iTwin.js workload against a
// `modelhub serve` process logging every request, with the client's requests counted through node:http's diagnostics
// channels (bench/request-trace.ts). For each request of a measured push: its route, how long the client waited for
// the answer, and how long the hub spent on it (its request log's responseTime, matched by route and time).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startHubProcess } from "@modelhub/test-support/hub-process.js";
import type { TracedRequest } from "./request-trace.js";
import { roundTrips, routeOf } from "./request-trace.js";
import { median } from "./stats.js";

const run = promisify(execFile);

export interface RouteProfile {
  route: string;
  /** Requests of this route per push (median). */
  perPush: number;
  /** Client side: until the answer's headers arrived (median). */
  clientMs: number;
  /** The hub's own time on it (request log responseTime, median). */
  serverMs: number;
}

export interface PushProfile {
  pushes: number;
  pushMs: number;
  requestsPerPush: number;
  roundTripsPerPush: number;
  /** The push's wait for the hub (requests in a row), summed over its requests (median of the pushes). */
  clientWaitMs: number;
  /** The hub's time on one push's requests (median of the pushes' sums). */
  serverMs: number;
  routes: RouteProfile[];
  pull: { changesets: number; requests: number; roundTrips: number; ms: number; routes: Record<string, number> };
}

interface LoggedRequest {
  time: number;
  route: string;
  responseTime: number;
}

export async function benchPushProfile(version0: string, pushes: number, warmup: number): Promise<PushProfile> {
  const logged: LoggedRequest[] = [];
  let partial = "";
  const hub = await startHubProcess({
    logLevel: "info",
    onStdout: (text) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('"request completed"')) continue;
        const l = JSON.parse(line) as { time: number; req: { method: string; url: string }; responseTime: number };
        logged.push({ time: l.time, route: routeOf(l.req.method, l.req.url), responseTime: l.responseTime });
      }
    },
  });
  let out: string;
  try {
    ({ stdout: out } = await run(
      process.execPath,
      ["--import", "tsx", "bench/itwin-workload.ts", hub.url, version0, String(pushes), String(warmup), "1"],
      { maxBuffer: 1 << 26, env: { ...process.env, MODELHUB_BENCH_TRACE: "1" } },
    ));
  } finally {
    await hub.stop();
  }
  const lines = out.trim().split("\n");
  const traceLine = lines.find((l) => l.startsWith("trace "));
  if (!traceLine) throw new Error("the workload printed no trace");
  const trace = JSON.parse(traceLine.slice(6)) as {
    timeOrigin: number;
    pushes: TracedRequest[][];
    pulls: TracedRequest[][];
  };
  const figures = JSON.parse(lines.at(-1)!) as { pushMedianMs: number; pullMs: number; pulled: number };
  if (trace.pushes.length !== pushes) throw new Error(`traced ${trace.pushes.length} pushes, expected ${pushes}`);

  // The hub's log line of a request is written when its answer is sent: the first unused line of the same route
  // logged between the request's start and a little after its answer arrived (clocks of one machine).
  // Storage links are logged without their query (their signature): routes are compared without it.
  const used = new Set<LoggedRequest>();
  const pathOf = (route: string) => route.split("?")[0];
  const serverTimeOf = (r: TracedRequest): number | undefined => {
    const start = trace.timeOrigin + r.startMs;
    const line = logged.find(
      (l) => !used.has(l) && pathOf(l.route) === pathOf(r.route) && l.time >= start - 2 && l.time <= start + r.ms + 50,
    );
    if (!line) return undefined;
    used.add(line);
    return line.responseTime;
  };
  const byRoute = new Map<string, { counts: number[]; client: number[]; server: number[] }>();
  const serverPerPush: number[] = [];
  const waitPerPush: number[] = [];
  trace.pushes.forEach((requests, i) => {
    let server = 0;
    for (const r of requests) {
      let entry = byRoute.get(r.route);
      if (!entry) byRoute.set(r.route, (entry = { counts: new Array<number>(pushes).fill(0), client: [], server: [] }));
      entry.counts[i]!++;
      entry.client.push(r.ms);
      const s = serverTimeOf(r);
      if (s !== undefined) {
        entry.server.push(s);
        server += s;
      }
    }
    serverPerPush.push(server);
    waitPerPush.push(requests.reduce((sum, r) => sum + r.ms, 0));
  });
  const pull = trace.pulls[0]!;
  const pullRoutes: Record<string, number> = {};
  for (const r of pull) pullRoutes[r.route] = (pullRoutes[r.route] ?? 0) + 1;
  return {
    pushes,
    pushMs: figures.pushMedianMs,
    requestsPerPush: median(trace.pushes.map((p) => p.length)),
    roundTripsPerPush: median(trace.pushes.map(roundTrips)),
    clientWaitMs: median(waitPerPush),
    serverMs: median(serverPerPush),
    routes: [...byRoute].map(([route, e]) => ({
      route,
      perPush: median(e.counts),
      clientMs: median(e.client),
      serverMs: e.server.length ? median(e.server) : NaN,
    })),
    pull: {
      changesets: figures.pulled,
      requests: pull.length,
      roundTrips: roundTrips(pull),
      ms: figures.pullMs,
      routes: pullRoutes,
    },
  };
}
