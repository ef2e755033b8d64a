import type { FastifyInstance } from "fastify";
import { VERSION } from "../version.js";
import { publicRoute } from "./authz/rules.js";

/** One dependency the hub needs to serve: resolves with what it found, or throws/returns `ok: false` with why not. */
export type ReadinessCheck = () => Promise<{ ok: boolean; [detail: string]: unknown }>;

export interface ReadinessOptions {
  checks: Readonly<Record<string, ReadinessCheck>>;
  /** A check that takes longer fails (a hung disk or database must not hang the probe). Default 3 s. */
  timeoutMs?: number;
}

type CheckResult = { status: "ok" | "failed"; [detail: string]: unknown };

/**
 * Probes are called every few seconds by load balancers and orchestrators: a request line for each would bury the
 * log (and costs a synchronous write each), so only their warnings and errors are logged.
 */
const PROBE_LOG_LEVEL = "warn";

/** `GET /health`: the process is up, and which modelhub it is (no authorization; it answers nothing else). */
export function registerHealth(app: FastifyInstance): void {
  const config = {
    summary: "Liveness (and the hub's version)",
    authz: publicRoute("liveness: answers {status:'ok'} and the version only"),
  };
  const schema = {
    response: { 200: { type: "object", properties: { status: { const: "ok" }, version: { type: "string" } } } },
  };
  app.get("/health", { schema, config, logLevel: PROBE_LOG_LEVEL }, async () => ({ status: "ok", version: VERSION }));
}

/**
 * `GET /ready`: 200 `{"status":"ready","checks":{…}}` when every check passes, else 503
 * `{"status":"unavailable","failing":[names],"checks":{…}}`. No authorization, like /health: a load balancer or
 * an orchestrator calls it. /health says the process runs; /ready says it can serve requests now.
 */
export function registerReadiness(app: FastifyInstance, options: ReadinessOptions): void {
  const timeoutMs = options.timeoutMs ?? 3000;
  const config = {
    summary: "Readiness: whether every store the hub needs answers",
    authz: publicRoute("readiness: which stores answer, no data"),
  };
  const response = {
    200: { type: "object", description: "Every check passed" },
    503: { type: "object", description: "Some check failed: `failing` names them" },
  };
  app.get("/ready", { schema: { response }, config, logLevel: PROBE_LOG_LEVEL }, async (_request, reply) => {
    const entries = await Promise.all(
      Object.entries(options.checks).map(async ([name, check]) => [name, await run(check, timeoutMs)] as const),
    );
    const checks = Object.fromEntries(entries);
    const failing = entries.filter(([, result]) => result.status !== "ok").map(([name]) => name);
    if (failing.length === 0) return reply.code(200).send({ status: "ready", checks });
    return reply.code(503).send({ status: "unavailable", failing, checks });
  });
}

async function run(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const { ok, ...detail } = await Promise.race([check(), timeout]);
    return { status: ok ? "ok" : "failed", ...detail, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return {
      status: "failed",
      reason: err instanceof Error ? err.message : String(err),
      ms: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(timer);
  }
}
