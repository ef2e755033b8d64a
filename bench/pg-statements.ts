// The PostgreSQL statements of one push, per request (`npm run bench -- nodes`): read from the trace that
// bench/pg-statement-trace.mjs writes in a hub process (one JSON line per message the hub's pg clients send, with
// the HTTP request it was sent for). A message is one round trip to PostgreSQL; it holds one statement, or several
// when the hub sends a BEGIN and advisory locks with a transaction's first statement. A transaction is a BEGIN.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { routeOf } from "./request-trace.js";
import { median } from "./stats.js";

/** The preload module and the variable naming its output (for the hub's environment). */
export function pgTraceEnv(file: string): Record<string, string> {
  const preload = fileURLToPath(new URL("./pg-statement-trace.mjs", import.meta.url));
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${preload}`.trim(),
    MODELHUB_BENCH_PG_TRACE: file,
  };
}

interface Message {
  /** Sent, answered (epoch ms). */
  t: number;
  end: number;
  /** The connection (PostgreSQL backend pid). */
  c: number;
  q: string;
  /** The request it was sent for: its number, method and URL; whether its answer was written already. */
  r?: number;
  m?: string;
  u?: string;
  after?: boolean;
}

export interface RouteStatements {
  route: string;
  /** Medians over the requests of this route. */
  statements: number;
  /** Messages to PostgreSQL (round trips). */
  messages: number;
  /** Round trips the request waited for one after the other (messages in flight together count once). */
  inARow: number;
  /** Statements sent after the answer was written (after-commit work, audit rows). */
  afterAnswer: number;
  transactions: number;
  readOnlyTransactions: number;
  /** The messages of one request (the last one of the route), for the log. */
  example: string[];
}

export interface PushStatements {
  routes: RouteStatements[];
  /** Per push, summed over its routes' medians. */
  statements: number;
  messages: number;
  inARow: number;
  afterAnswer: number;
  transactions: number;
  /** Messages no request sent (background polling), per second of the measured window. */
  backgroundPerSecond: number;
}

/** The statements of a message: the hub joins those it sends together with ";\n" (PgSession.deferUntilFirst). */
const statementsOf = (q: string) => q.split(/;\n/);
const isBegin = (s: string) => /^\s*BEGIN\b/i.test(s);

/** Messages in a row: groups of messages in flight at the same time count once. */
function inARow(messages: readonly Message[]): number {
  let trips = 0;
  let busyUntil = -Infinity;
  for (const m of messages) {
    if (m.t >= busyUntil) trips++;
    busyUntil = Math.max(busyUntil, m.end);
  }
  return trips;
}

/** Aggregates the trace's messages of the requests sent between `from` and `to` (epoch ms). */
export async function pushStatements(file: string, from: number, to: number): Promise<PushStatements> {
  const all = (await readFile(file, "utf8"))
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Message)
    .sort((a, b) => a.t - b.t);
  const inWindow = all.filter((m) => m.t >= from && m.t <= to);
  const byRequest = new Map<number, Message[]>();
  for (const m of inWindow) {
    if (m.r === undefined) continue;
    const list = byRequest.get(m.r) ?? [];
    list.push(m);
    byRequest.set(m.r, list);
  }
  const byRoute = new Map<string, Message[][]>();
  for (const list of byRequest.values()) {
    const route = routeOf(list[0]!.m!, list[0]!.u!).split("?")[0]!;
    byRoute.set(route, [...(byRoute.get(route) ?? []), list]);
  }
  const statements = (ms: readonly Message[]) => ms.flatMap((m) => statementsOf(m.q));
  const routes: RouteStatements[] = [...byRoute].map(([route, requests]) => ({
    route,
    statements: median(requests.map((r) => statements(r).length)),
    messages: median(requests.map((r) => r.length)),
    inARow: median(requests.map((r) => inARow(r.filter((m) => !m.after)))),
    afterAnswer: median(requests.map((r) => statements(r.filter((m) => m.after)).length)),
    transactions: median(requests.map((r) => statements(r).filter(isBegin).length)),
    readOnlyTransactions: median(
      requests.map((r) => statements(r).filter((s) => isBegin(s) && /READ ONLY/i.test(s)).length),
    ),
    example: requests.at(-1)!.map((m) => `${m.after ? "(after) " : ""}${m.q.replace(/\s+/g, " ").slice(0, 200)}`),
  }));
  const sum = (key: "statements" | "messages" | "inARow" | "afterAnswer" | "transactions") =>
    routes.reduce((total, r) => total + r[key], 0);
  return {
    routes,
    statements: sum("statements"),
    messages: sum("messages"),
    inARow: sum("inARow"),
    afterAnswer: sum("afterAnswer"),
    transactions: sum("transactions"),
    backgroundPerSecond: inWindow.filter((m) => m.r === undefined).length / ((to - from) / 1000),
  };
}
