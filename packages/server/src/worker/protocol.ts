/** Messages between the server and its iTwin.js worker process (Node IPC). */
export interface WorkerRequest {
  id: number;
  op: "initializeBaseline" | "createEmptyBaseline" | "computeChangesetId" | "inspect" | "makeCheckpoint";
  args: Record<string, unknown>;
}

export type WorkerResponse =
  | { id: number; ok: true; result: unknown }
  /** `rejected`: the input is bad (not an iModel, corrupt changeset…); otherwise the worker itself failed. */
  | { id: number; ok: false; error: { message: string; rejected: boolean } };
