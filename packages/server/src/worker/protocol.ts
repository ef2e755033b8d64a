/** Messages between the server and its iTwin.js worker process (Node IPC). */
export interface WorkerRequest {
  id: number;
  op: "initializeBaseline" | "createEmptyBaseline" | "computeChangesetId" | "inspect" | "makeCheckpoint" | "summarizeChangesets";
  args: Record<string, unknown>;
}

/**
 * `kind: "rejected"`: the input is bad (not an iModel, not a changeset, changesets that do not apply…) and the same
 * request will fail again; `kind: "failed"`: anything else (the worker or the host failed; a retry may succeed).
 */
export type WorkerResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { message: string; kind: "rejected" | "failed" } };

/** The first message of a child: IModelHost is up and requests can be sent. */
export interface WorkerReady {
  ready: true;
}

/** A liveness probe, answered at once (outside the request queue) with the same number: see ITwinWorker.health(). */
export interface WorkerPing {
  ping: number;
}

export interface WorkerPong {
  pong: number;
}
