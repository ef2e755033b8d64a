// Counts the HTTP requests a process sends, through node:http's diagnostics channels (the counting transport of the
// push/pull profile: every request of @modelhub/backend-access goes through node:http). Each request is recorded with
// its route (ids replaced), when it started and how long until its answer's headers arrived, so that requests in a
// row (round trips) can be told from requests in flight at once.
import diagnostics from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";

export interface TracedRequest {
  route: string;
  startMs: number;
  /** Until the answer's headers arrived. */
  ms: number;
  status: number;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** `METHOD /path` with ids, hashes and numbers replaced, the query's names kept (values dropped). */
export function routeOf(method: string, path: string): string {
  const [pathname, query] = path.split("?") as [string, string?];
  const shape = pathname
    .replace(UUID, ":id")
    .replace(/\/[0-9a-f]{40}(?=\/|$|\.)/gi, "/:changeset")
    .replace(/\/\d+(?=\/|$)/g, "/:n");
  const names = query
    ? [...new URLSearchParams(query).keys()].filter((k) => !/^(sig|se|sp|sv|sr|exp|token)$/i.test(k)).sort()
    : [];
  return `${method} ${shape}${names.length ? `?${names.join("&")}` : ""}`;
}

export class RequestTrace {
  readonly #started = new Map<ClientRequest, { route: string; startMs: number }>();
  #window: TracedRequest[] | undefined;

  constructor() {
    diagnostics.subscribe("http.client.request.start", (message) => {
      if (!this.#window) return;
      const { request } = message as { request: ClientRequest };
      this.#started.set(request, { route: routeOf(request.method, request.path), startMs: performance.now() });
    });
    diagnostics.subscribe("http.client.response.finish", (message) => {
      const { request, response } = message as { request: ClientRequest; response: { statusCode?: number } };
      const started = this.#started.get(request);
      if (!started || !this.#window) return;
      this.#started.delete(request);
      this.#window.push({ ...started, ms: performance.now() - started.startMs, status: response.statusCode ?? 0 });
    });
  }

  /** The requests sent while `work` ran. */
  async record(work: () => Promise<void>): Promise<TracedRequest[]> {
    const seen: TracedRequest[] = [];
    this.#window = seen;
    try {
      await work();
    } finally {
      this.#window = undefined;
      this.#started.clear();
    }
    return seen.sort((a, b) => a.startMs - b.startMs);
  }
}

/**
 * Round trips: the number of times the client waited for an answer before it could go on, i.e. groups of requests
 * that overlap in time count once.
 */
export function roundTrips(requests: readonly TracedRequest[]): number {
  let trips = 0;
  let busyUntil = -Infinity;
  for (const r of [...requests].sort((a, b) => a.startMs - b.startMs)) {
    if (r.startMs >= busyUntil) trips++;
    busyUntil = Math.max(busyUntil, r.startMs + r.ms);
  }
  return trips;
}
