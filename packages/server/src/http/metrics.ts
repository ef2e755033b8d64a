import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { JobCount } from "../ports/job-queue.js";
import { publicRoute } from "./authz/rules.js";

/** Where the numbers that are not counted per request come from, read when Prometheus scrapes. */
export interface MetricsSources {
  jobCounts(): Promise<JobCount[]>;
  /** iTwin.js worker processes started to replace one that died or was killed. */
  workerRestarts(): number;
  /** Clients following a change feed (`GET /imodels/{id}/events`) right now. */
  eventSubscribers?(): number;
  /** Audit entries lost: refused by the store for what they held, or dropped while it could not be written. */
  auditEntriesLost?(): { refused: number; dropped: number };
}

/** The route of the changeset PATCH that completes a push. */
const COMPLETE_PUSH_ROUTE = "/imodels/:id/changesets/:changesetId";

/**
 * The hub's Prometheus metrics, one registry per running server (so several hubs in one test process do not
 * collide). Labels are bounded: the route pattern (never the raw URL), method and status class.
 */
export class HubMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"method" | "route" | "status_class">;
  readonly #duration: Histogram<"method" | "route" | "status_class">;
  readonly #pushes: Counter;
  readonly #blobBytes: Counter<"direction">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: "modelhub_http_requests_total",
      help: "HTTP requests answered, by method, route pattern and status class.",
      labelNames: ["method", "route", "status_class"],
      registers,
    });
    this.#duration = new Histogram({
      name: "modelhub_http_request_duration_seconds",
      help: "Time from receiving a request to the end of its answer, by method, route pattern and status class.",
      labelNames: ["method", "route", "status_class"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#pushes = new Counter({
      name: "modelhub_pushes_completed_total",
      help: "Changeset pushes completed (PATCH state=fileUploaded answered 200; a client's retry of a completed push counts again).",
      registers,
    });
    this.#blobBytes = new Counter({
      name: "modelhub_storage_bytes_total",
      help: "Blob bytes through /storage: direction=upload counts stored blobs (Put Blob, Put Block List), download the bytes of completed GETs.",
      labelNames: ["direction"],
      registers,
    });
    new Gauge({
      name: "modelhub_jobs",
      help: "Background jobs in the queue, by kind and state.",
      labelNames: ["kind", "state"],
      registers,
      async collect() {
        const counts = await sources.jobCounts();
        this.reset();
        for (const c of counts) this.set({ kind: c.kind, state: c.state }, c.count);
      },
    });
    new Counter({
      name: "modelhub_worker_restarts_total",
      help: "iTwin.js worker processes started to replace one that exited, crashed or was killed.",
      registers,
      collect() {
        this.reset();
        this.inc(sources.workerRestarts());
      },
    });
    if (sources.eventSubscribers) {
      const subscribers = sources.eventSubscribers.bind(sources);
      new Gauge({
        name: "modelhub_event_subscribers",
        help: "Clients following a change feed (GET /imodels/{id}/events) in this process.",
        registers,
        collect() {
          this.set(subscribers());
        },
      });
    }
    if (sources.auditEntriesLost) {
      const lost = sources.auditEntriesLost.bind(sources);
      new Counter({
        name: "modelhub_audit_entries_lost_total",
        help: "Audit entries not kept: reason=refused (the store refused what the entry held; it was skipped), reason=dropped (the store could not be written for too long).",
        labelNames: ["reason"],
        registers,
        collect() {
          this.reset();
          const counts = lost();
          this.inc({ reason: "refused" }, counts.refused);
          this.inc({ reason: "dropped" }, counts.dropped);
        },
      });
    }
  }

  /** Bytes of a blob stored through /storage. */
  blobUploaded(bytes: number): void {
    this.#blobBytes.inc({ direction: "upload" }, bytes);
  }

  /** Hooks that count every answer, and `GET /metrics` (no authorization, like /health: see README). */
  register(app: FastifyInstance): void {
    app.addHook("onResponse", async (request, reply) => this.#observe(request, reply));
    const config = {
      summary: "Prometheus metrics",
      authz: publicRoute("Prometheus counters, no ids or names; restrict it at the proxy or with --no-metrics"),
    };
    const schema = {
      response: {
        200: { description: "Prometheus text format", content: { "text/plain": { schema: { type: "string" } } } },
      },
    };
    app.get("/metrics", { schema, config }, async (_request, reply) => {
      const text = await this.registry.metrics();
      return reply.type(this.registry.contentType).send(text);
    });
  }

  #observe(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? "unmatched";
    const labels = { method: request.method, route, status_class: `${Math.floor(reply.statusCode / 100)}xx` };
    this.#requests.inc(labels);
    this.#duration.observe(labels, reply.elapsedTime / 1000);
    if (request.method === "PATCH" && route === COMPLETE_PUSH_ROUTE && reply.statusCode === 200) {
      if ((request.body as { state?: unknown } | undefined)?.state === "fileUploaded") this.#pushes.inc();
    }
    if (
      request.method === "GET" &&
      route.startsWith("/storage/") &&
      (reply.statusCode === 200 || reply.statusCode === 206) &&
      reply.raw.writableFinished
    ) {
      const length = Number(reply.getHeader("content-length"));
      if (Number.isFinite(length) && length > 0) this.#blobBytes.inc({ direction: "download" }, length);
    }
  }
}
