import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { FsBlobStore } from "./adapters/blob/fs-blob-store.js";
import { SqliteJobQueue } from "./adapters/sqlite/sqlite-job-queue.js";
import { openSqliteMetadataStore } from "./adapters/sqlite/sqlite-metadata-store.js";
import { JobRunner } from "./app/job-runner.js";
import type { ServerConfig } from "./config.js";
import { systemClock } from "./domain/context.js";
import { createHub } from "./domain/hub.js";
import { BASELINE_JOB } from "./domain/imodels/imodel-service.js";
import { BaselineJob } from "./domain/jobs/baseline-job.js";
import { CheckpointJob } from "./domain/jobs/checkpoint-job.js";
import { CHECKPOINT_JOB } from "./domain/checkpoints/checkpoint-service.js";
import { buildApp } from "./http/app.js";
import { UrlSigner, loadOrCreateSecret } from "./http/storage/url-signer.js";
import { ITwinWorker } from "./worker/itwin-worker.js";

export interface RunningServer {
  /** e.g. http://127.0.0.1:3000 */
  readonly url: string;
  readonly app: FastifyInstance;
  /** The iTwin.js worker process (exposed for diagnostics and fault tests). */
  readonly worker: ITwinWorker;
  /** Stops accepting, finishes requests and the job in flight, closes the stores. */
  close(): Promise<void>;
}

/** The composition root: the only place that picks concrete adapters. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  await mkdir(config.dataDir, { recursive: true });
  const scratchDir = join(config.dataDir, "tmp");
  await mkdir(scratchDir, { recursive: true });

  const store = await openSqliteMetadataStore(join(config.dataDir, "metadata.db"));
  const jobs = SqliteJobQueue.open(join(config.dataDir, "metadata.db"));
  const blobs = new FsBlobStore(join(config.dataDir, "blobs"));
  const signer = new UrlSigner(await loadOrCreateSecret(config.dataDir));
  const worker = new ITwinWorker({ workDir: join(scratchDir, "worker") });

  const hub = createHub({
      store,
      blobs,
      jobs,
      worker,
      clock: systemClock,
    changesets: { pendingPushTimeoutMs: config.pendingPushTimeoutMs, verifyChangesetIds: config.verifyChangesetIds },
    checkpoints: config.checkpoints,
    onJobQueued: () => runner.nudge(),
  });
  const app = await buildApp({
    hub,
    blobs,
    signer,
    publicUrl: config.publicUrl,
    linkTtlSeconds: config.linkTtlSeconds,
    jsonBodyLimit: 32 * 1024 * 1024,
    rateLimitPerMinute: config.rateLimitPerMinute,
    logger: config.logLevel === "silent" ? false : { level: config.logLevel },
    onJobQueued: () => runner.nudge(),
  });

  const baselineJob = new BaselineJob(store, blobs, worker, systemClock, scratchDir);
  const checkpointJob = new CheckpointJob(store, blobs, worker, systemClock, scratchDir, config.checkpoints);
  const runner = new JobRunner(
    jobs,
    new Map([
      [
        BASELINE_JOB,
        {
          run: (job) => baselineJob.run(String(job.payload.iModelId)),
          abandon: (job, reason) => baselineJob.abandon(String(job.payload.iModelId), reason),
        },
      ],
      [
        CHECKPOINT_JOB,
        {
          run: (job) => checkpointJob.run(String(job.payload.iModelId), Number(job.payload.changesetIndex)),
          abandon: (job, reason) => checkpointJob.abandon(String(job.payload.iModelId), Number(job.payload.changesetIndex), reason),
        },
      ],
    ]),
    {
      pollIntervalMs: 1000,
      leaseMs: config.jobLeaseMs,
      retryDelayMs: 2000,
      log: (level, message, fields) => app.log[level](fields ?? {}, message),
    },
  );

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host.includes(":") && !config.host.startsWith("[") ? `[${config.host}]` : config.host;
  runner.start();

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    app,
    worker,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await runner.stop();
        await worker.close();
        await jobs.close();
        await store.close();
      })()),
  };
}
