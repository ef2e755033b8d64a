// The iTwin.js worker process: everything that needs the native iModel library runs here, one request at a time,
// so the server's event loop never blocks on it and a native crash only costs a respawn.
// Started by ITwinWorker (itwin-worker.ts) with Node IPC; MODELHUB_WORKER_DIR is its scratch directory.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { WorkerPing, WorkerPong, WorkerReady, WorkerRequest, WorkerResponse } from "./ipc.js";
import type { SummarizeArgs } from "../../ports/change-summary-store.js";
import { summarizeChangesets } from "./change-summarizer.js";
import { checkpointOps } from "./checkpoint-ops.js";
import { describeElements } from "./describe-elements.js";
import { fileOps } from "./file-ops.js";
// worker-itwin.ts loads the worker's iTwin.js when first imported (through the operations' modules), after refusing a
// bad MODELHUB_ITWIN_ROOT with its reason.
import { backend, IModelNative, itwin, itwinName, Rejected } from "./worker-itwin.js";

/** Every operation the parent can ask for, by name (ITwinWorker's methods). */
const ops = {
  summarizeChangesets: (args: SummarizeArgs) =>
    summarizeChangesets(
      args,
      (message) => new Rejected(message),
      (file) => IModelNative.platform.DgnDb.computeChangesetId(file),
    ),
  ...fileOps,
  describeElements,
  ...checkpointOps,
};

async function main(): Promise<void> {
  if (!process.send) throw new Error("The iTwin.js worker must be started by ITwinWorker (it talks over Node IPC).");
  const workDir = process.env.MODELHUB_WORKER_DIR ?? join(process.cwd(), ".modelhub-worker");
  await mkdir(workDir, { recursive: true });
  await backend.IModelHost.startup({ cacheDir: join(workDir, "cache") });
  // Opening an IModelDb loads the geographic coordinate system data from a public cloud container
  // (geocoord-workspace.itwinjs.org). The worker never reprojects, and a self-hosted server must not depend on
  // that site: without network access the first open stalls ~15 s on DNS before giving up.
  backend.IModelHost.appWorkspace.settings.addDictionary(
    { name: "modelhub-worker", priority: backend.SettingsPriority.application },
    { "itwin/core/gcs/disableWorkspaces": true },
  );

  let queue = Promise.resolve();
  process.on("message", (message: WorkerRequest | WorkerPing) => {
    // Pings skip the queue: they show the process and its event loop are alive, even behind a long request.
    if ("ping" in message) {
      if (process.connected) process.send!({ pong: message.ping } satisfies WorkerPong);
      return;
    }
    queue = queue.then(async () => {
      let response: WorkerResponse;
      try {
        const op = (ops as Record<string, ((args: unknown) => Promise<unknown>) | undefined>)[message.op];
        if (!op) throw new Error(`Unknown operation '${message.op}'.`);
        response = { id: message.id, ok: true, result: await op(message.args) };
      } catch (err) {
        const kind = err instanceof Rejected ? "rejected" : "failed";
        response = {
          id: message.id,
          ok: false,
          error: { message: err instanceof Error ? err.message : String(err), kind },
        };
      }
      if (process.connected) process.send!(response);
    });
  });
  // The parent closed the channel (close(), or it died): finish the current request, shut down, exit.
  process.once("disconnect", () => {
    void queue.then(() => backend.IModelHost.shutdown()).finally(() => process.exit(0));
  });
  process.send({ ready: true, itwin } satisfies WorkerReady);
}

void main().catch((err: unknown) => {
  process.stderr.write(
    `iTwin.js worker (${itwinName}) failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
