/** Messages between the server and its iTwin.js worker process (Node IPC). */
export interface WorkerRequest {
  id: number;
  op:
    | "initializeBaseline"
    | "createEmptyBaseline"
    | "computeChangesetId"
    | "inspect"
    | "makeCheckpoint"
    | "uploadCheckpointBlocks"
    | "deleteCheckpointBlocks"
    | "describeElements"
    | "summarizeChangesets";
  args: Record<string, unknown>;
}

/**
 * `kind: "rejected"`: the input is bad (not an iModel, not a changeset, changesets that do not apply…) and the same
 * request will fail again; `kind: "failed"`: anything else (the worker or the host failed; a retry may succeed).
 */
export type WorkerResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { message: string; kind: "rejected" | "failed" } };

/** The iTwin.js a worker runs. */
export interface WorkerITwin {
  /** `@itwin/core-backend` version, e.g. "5.7.3". */
  coreBackend: string;
  /** `@bentley/imodeljs-native` version, e.g. "5.7.13". */
  native: string;
  /** The folder it was loaded from (MODELHUB_ITWIN_ROOT), when not the hub's own. */
  root?: string;
  /**
   * The hub's own iTwin.js version, when the worker's is older: files and changesets pushed by clients on the
   * versions the hub supports may be beyond it (the hub warns at start-up).
   */
  behind?: string;
}

/** The first message of a child: IModelHost is up and requests can be sent. */
export interface WorkerReady {
  ready: true;
  itwin: WorkerITwin;
}

/** A liveness probe, answered at once (outside the request queue) with the same number: see ITwinWorker.health(). */
export interface WorkerPing {
  ping: number;
}

export interface WorkerPong {
  pong: number;
}
