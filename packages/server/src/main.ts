import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { BlobContainerService } from "./domain/blob-containers/blob-container-service.js";
import { CheckpointBlocks } from "./domain/blob-containers/checkpoint-blocks.js";
import { AccessService } from "./domain/access/access-service.js";
import { ITwinService } from "./domain/itwins/itwin-service.js";
import { AuditRecorder } from "./background/audit-recorder.js";
import { gateAuditEntry } from "./background/gate-audit.js";
import { GateService } from "./domain/gates/gate-service.js";
import { WebhookService } from "./domain/webhooks/webhook-service.js";
import { WebhookDeliverer } from "./background/webhook-deliverer.js";
import { HttpCallout } from "./adapters/callout/http-callout.js";
import { openBlobStore, openCloudContainers, openMetadataBackend } from "./adapters/registry.js";
import { ElementLabels } from "./background/element-labels.js";
import { LocalScratchSpace } from "./adapters/fs/local-scratch-space.js";
import { privateDataDir } from "./adapters/fs/private-data-dir.js";
import { JobRunner } from "./background/job-runner.js";
import type { StartOptions } from "./start-options.js";
export type { StartOptions } from "./start-options.js";
import { humanLogStream } from "./background/log-format.js";
import { ChangeBackfill } from "./background/change-backfill.js";
import { Maintenance } from "./background/maintenance.js";
import type { ServerConfig } from "./config.js";
import { systemClock } from "./domain/context.js";
import { createHub } from "./domain/hub.js";
import { BASELINE_JOB } from "./domain/imodels/imodel-service.js";
import { BaselineJob } from "./domain/jobs/baseline-job.js";
import { CheckpointJob } from "./domain/jobs/checkpoint-job.js";
import { CHANGE_SUMMARY_JOB, ChangeSummaryJob } from "./domain/changes/change-summary-job.js";
import { CHECKPOINT_JOB } from "./domain/checkpoints/checkpoint-service.js";
import { buildApp } from "./http/app.js";
import { createAuthenticator } from "./http/authn/create-authenticator.js";
import { HubMetrics } from "./http/metrics.js";
import { UrlSigner, loadOrCreateSecret } from "./http/storage/url-signer.js";
import { RequestActivity } from "./http/request-activity.js";
import { ITwinWorker } from "./adapters/itwin-worker/itwin-worker.js";
import type { WorkerITwin } from "./adapters/itwin-worker/ipc.js";

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
export async function startServer(config: ServerConfig, startOptions: StartOptions = {}): Promise<RunningServer> {
  // Before anything is written: this process's files are its user's alone (see privateDataDir).
  const tightened = await privateDataDir(config.dataDir);
  const scratchDir = join(config.dataDir, "tmp");
  await mkdir(scratchDir, { recursive: true });
  const scratch = new LocalScratchSpace(scratchDir);

  // Its problems go to the app's logger once the app exists.
  let eventFeedError: (err: Error) => void = () => undefined;
  let backendWarn: (message: string, fields: Record<string, unknown>) => void = () => undefined;
  const backend = await openMetadataBackend(config.metadata, config.dataDir, {
    maxEventSubscribers: startOptions.maxEventSubscribers,
    onEventFeedError: (err) => eventFeedError(err),
    warn: (message, fields) => backendWarn(message, fields),
  });
  const { store, jobs, auditLog, identities, events } = backend;
  // Its log lines go to the app's logger once the app exists.
  let auditLogLine: (level: "warn" | "error", message: string, fields?: Record<string, unknown>) => void = () =>
    undefined;
  const auditRecorder = new AuditRecorder(auditLog, {
    ...(startOptions.auditFlushIntervalMs !== undefined ? { flushIntervalMs: startOptions.auditFlushIntervalMs } : {}),
    log: (level, message, fields) => auditLogLine(level, message, fields),
  });
  const blobs = await openBlobStore(config.blobs, config.dataDir);
  // A configured key lets several nodes verify each other's links; otherwise one kept in the data directory.
  const signer = new UrlSigner(config.linkSecret ?? (await loadOrCreateSecret(config.dataDir)));
  // Its start is logged once the app (and its logger) exists.
  let workerStarted: (itwin: WorkerITwin) => void = () => undefined;
  const worker = new ITwinWorker({ workDir: join(scratchDir, "worker"), onStart: (itwin) => workerStarted(itwin) });
  // iTwin.js's blob containers (workspaces, SchemaSync): containers of the Azure account, none on local files.
  const cloudContainers = await openCloudContainers(config.blobs);
  // Blob containers go with their iModel or iTwin; a failure is logged and the periodic sweep finishes the job.
  let containerLog: (err: unknown, message: string) => void = () => undefined;
  // V2 checkpoints: checkpoint files also published as CloudSqlite databases (one container per iModel).
  const checkpointBlocks =
    cloudContainers &&
    new CheckpointBlocks(cloudContainers, worker, blobs, systemClock, (err, message) => containerLog(err, message));
  const deleteContainersOf = (what: "iModel" | "iTwin") => async (id: string) => {
    try {
      if (what === "iModel") {
        await blobContainers.deleteAllOfIModel(id);
        await checkpointBlocks?.deleteOf(id);
      } else await blobContainers.deleteAllOfITwin(id);
    } catch (err) {
      containerLog(err, `the blob containers of a deleted ${what} could not all be deleted; the orphan sweep retries`);
    }
  };

  // Gates (issue 21): hub-wide ones from --gate, the iTwins' own from the gate store; every decision is audited.
  const callout = new HttpCallout({ allow: config.calloutAllow });
  const gates = new GateService(backend.gates, callout, systemClock, {
    hubGates: config.gates,
    audit: (decision) => auditRecorder.record(gateAuditEntry(decision)),
  });
  const hub = createHub({
    store,
    blobs,
    worker,
    scratch,
    clock: systemClock,
    profiles: identities,
    changesets: { pendingPushTimeoutMs: config.pendingPushTimeoutMs, verifyChangesetIds: config.verifyChangesetIds },
    checkpoints: config.checkpoints,
    // The runner is made once the app exists (it logs there); nothing is queued before the app listens.
    jobs: { jobQueued: () => runner.nudge(), webhookQueued: () => deliverer.nudge() },
    events,
    onIModelDeleted: deleteContainersOf("iModel"),
    changeSummaries: backend.changes,
    gates,
  });
  let authWarn: (message: string, fields: Record<string, unknown>) => void = () => undefined;
  const authenticator = createAuthenticator(config.auth, {
    identities,
    warn: (message, fields) => authWarn(message, fields),
  });
  const access = new AccessService(backend.access, systemClock, {
    // Open mode cannot tell users apart reliably (tokens are not verified): permissions would protect nothing.
    everyoneMayDoEverything: config.auth.mode === "open",
    admins: config.admins,
    claimITwins: config.claimITwins,
  });
  const blobContainers = new BlobContainerService(cloudContainers, blobs, store, access, systemClock);
  const app = await buildApp({
    access,
    iTwins: new ITwinService(backend.access, access, systemClock, undefined, deleteContainersOf("iTwin")),
    blobContainers,
    checkpointBlocks,
    authenticator,
    profiles: identities,
    elementLabels: new ElementLabels({
      blobs,
      reader: worker,
      latestCheckpoint: (iModelId) => hub.checkpoints.latest(iModelId).catch(() => undefined),
      cacheDir: join(scratchDir, `labels-${process.pid}-cache`),
    }),
    ...(config.auth.mode === "oidc" && config.auth.uiClientId
      ? {
          webUiSignIn: {
            issuer: config.auth.issuer,
            clientId: config.auth.uiClientId,
            scope: config.auth.uiScope ?? "openid profile email",
            ...(config.auth.audience !== undefined ? { resource: config.auth.audience } : {}),
          },
        }
      : {}),
    admin: {
      identities,
      jobs,
      iModelOf: async (iModelId) => {
        const iModel = await hub.iModels.get(iModelId).catch(() => undefined);
        return iModel && { name: iModel.name, iTwinId: iModel.iTwinId };
      },
      about: { version: await serverVersion(), metadata: config.metadata.kind, blobs: config.blobs.kind },
    },
    hub,
    webhooks: new WebhookService(backend.webhooks, access, callout, systemClock),
    blobs,
    signer,
    publicUrl: config.publicUrl,
    linkTtlSeconds: config.linkTtlSeconds,
    // The largest API bodies: changeset extended data (up to 1,000,000 characters) and a lock request's 10,000 ids.
    jsonBodyLimit: 2 * 1024 * 1024,
    maxUploads: config.maxUploads,
    pushInOneRequest: config.pushInOneRequest,
    maxUploadsPerUser: config.maxUploadsPerUser,
    uploadMinBytesPerSecond: config.uploadMinBytesPerSecond,
    maxConnections: config.maxConnections,
    headersTimeoutMs: config.headersTimeoutMs,
    apiBodyTimeoutMs: config.apiBodyTimeoutMs,
    uploadStallTimeoutMs: config.uploadStallTimeoutMs,
    allowedHosts: config.allowedHosts,
    rateLimitPerMinute: config.rateLimitPerMinute,
    authFailureLimit: config.authFailureLimit,
    trustedProxies: config.trustedProxies,
    logger:
      config.logLevel === "silent"
        ? false
        : {
            level: config.logLevel,
            ...(startOptions.logFormat === "human"
              ? { stream: humanLogStream((text) => void process.stdout.write(text)) }
              : {}),
          },
    audit: { recorder: auditRecorder, log: auditLog, refusalWindowMs: startOptions.auditRefusalWindowMs },
    events: { feed: events, heartbeatMs: startOptions.eventHeartbeatMs, maxStreamsPerUser: config.maxStreamsPerUser },
    metrics:
      startOptions.metrics === false
        ? undefined
        : new HubMetrics({
            jobCounts: () => jobs.countByKindAndState(),
            workerRestarts: () => worker.restarts,
            eventSubscribers: () => events.subscriberCount(),
            auditEntriesLost: () => ({ refused: auditRecorder.refused, dropped: auditRecorder.dropped }),
          }),
    readiness: {
      // A read of a missing row and a stat of a missing blob: each answers only if its store can be read.
      metadata: async () => {
        await store.read((tx) => tx.getIModel("00000000-0000-0000-0000-000000000000"));
        return { ok: true };
      },
      blobs: async () => {
        await blobs.stat("files/.ready-probe");
        return { ok: true };
      },
      worker: () => worker.health(2000),
    },
  });
  const activity = new RequestActivity();
  activity.track(app.server);

  authWarn = (message, fields) => app.log.warn(fields, message);
  containerLog = (err, message) => app.log.warn({ err }, message);
  if (tightened.length > 0) {
    app.log.warn(
      { dataDir: config.dataDir, tightened },
      "the data directory was readable by other users (made under a lax umask): its folders are now 0700 and its files 0600",
    );
  }
  if (config.auth.mode === "oidc" && config.auth.audience === undefined) {
    app.log.warn(
      "--auth oidc without --audience: any token of this issuer is accepted, also one issued for another API",
    );
  }

  auditLogLine = (level, message, fields) => app.log[level](fields ?? {}, message);
  eventFeedError = (err) => app.log.warn({ err }, "the shared change feed lost its database listener; it reconnects");
  backendWarn = (message, fields) => app.log.warn(fields, message);
  workerStarted = (itwin) => {
    app.log.info(
      { itwin },
      `iTwin.js worker up: @itwin/core-backend ${itwin.coreBackend}, native ${itwin.native}${itwin.root ? ` (from MODELHUB_ITWIN_ROOT ${itwin.root})` : ""}`,
    );
    if (itwin.behind) {
      app.log.warn(
        { itwin },
        `the iTwin.js worker runs ${itwin.coreBackend}, older than the hub's own ${itwin.behind}: files and changesets pushed by newer clients may not open, and their checkpoints would fail (MODELHUB_ITWIN_ROOT, docs/deploy.md)`,
      );
    }
  };
  if (backend.shared && config.blobs.kind === "fs" && config.linkSecret === undefined) {
    app.log.warn(
      "--metadata postgres with --blobs fs and no --link-secret-file: each node signs storage links with its own key, so a link one node hands out fails on another",
    );
  }
  const baselineJob = new BaselineJob(store, blobs, worker, systemClock, scratch, checkpointBlocks);
  const checkpointJob = new CheckpointJob(
    store,
    blobs,
    worker,
    systemClock,
    scratch,
    config.checkpoints,
    hub.janitor,
    events,
    checkpointBlocks,
  );
  // Summaries have a worker process of their own: reading a large changeset never delays a push's id check.
  const summaryWorker = new ITwinWorker({ workDir: join(scratchDir, "summary-worker") });
  const changeSummaryJob = new ChangeSummaryJob(
    store,
    backend.changes,
    blobs,
    summaryWorker,
    scratch,
    systemClock,
    { cacheDir: join(config.dataDir, "change-briefcases") },
    events,
  );
  const runner = new JobRunner(
    jobs,
    new Map([
      [
        BASELINE_JOB,
        {
          run: async (job) => {
            const iModelId = String(job.payload.iModelId);
            await baselineJob.run(iModelId);
            // The job ran to its end, but the file was refused and the iModel failed for good: say why, not only "job done".
            const after = await store.read((tx) => tx.getIModel(iModelId));
            if (after?.baselineState === "initializationFailed") {
              app.log.warn(
                { iModelId, name: after.name, reason: after.baselineFailure },
                `the baseline of iModel '${after.name}' failed: ${after.baselineFailure ?? "no reason given"}`,
              );
            }
          },
          abandon: (job, reason) => baselineJob.abandon(String(job.payload.iModelId), reason),
        },
      ],
      [
        CHANGE_SUMMARY_JOB,
        { run: (job) => changeSummaryJob.run(String(job.payload.iModelId), Number(job.payload.changesetIndex)) },
      ],
      [
        CHECKPOINT_JOB,
        {
          run: (job) => checkpointJob.run(String(job.payload.iModelId), Number(job.payload.changesetIndex)),
          abandon: (job, reason) =>
            checkpointJob.abandon(String(job.payload.iModelId), Number(job.payload.changesetIndex), reason),
        },
      ],
    ]),
    {
      pollIntervalMs: 1000,
      leaseMs: config.jobLeaseMs,
      retryDelayMs: 2000,
      log: (level, message, fields) => app.log[level](fields ?? {}, message),
      ...(config.nodeId !== undefined ? { nodeId: config.nodeId } : {}),
      // A job starts once the API has been quiet for 5 ms (at most 250 ms later): iTwin.js sends a push's lock
      // release and its pull right after the completion that queued the push's change summary.
      beforeClaim: () => activity.quiet(5, 250),
    },
  );
  const deliverer = new WebhookDeliverer(backend.webhooks, callout, {
    nodeId: config.nodeId,
    leaseMs: config.jobLeaseMs,
    log: (level, message, fields) => app.log[level](fields ?? {}, message),
  });
  const maintenance = new Maintenance(blobs, hub.janitor, {
    sweepIntervalMs: config.sweepIntervalMs,
    orphanScanIntervalMs: config.orphanScanIntervalMs,
    orphanGraceMs: config.orphanGraceMs,
    scratchDir,
    pruneAudit: () => auditLog.prune(new Date(Date.now() - config.auditRetentionDays * 86_400_000)),
    log: (level, message, fields) => app.log[level](fields ?? {}, message),
  });

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host.includes(":") && !config.host.startsWith("[") ? `[${config.host}]` : config.host;
  runner.start();
  deliverer.start();
  maintenance.start();
  // Containers whose iModel or iTwin went while their deletion failed (or the hub stopped): at start, then with the orphan scans.
  const iModelExists = async (iModelId: string) => (await store.read((tx) => tx.getIModel(iModelId))) !== undefined;
  const sweepContainers = () =>
    void (async () =>
      (await blobContainers.removeOrphans()) + ((await checkpointBlocks?.removeOrphans(iModelExists)) ?? 0))()
      .then(
        (n) => n > 0 && app.log.info({ containers: n }, "deleted the blob containers of deleted iModels and iTwins"),
      )
      .catch((err: unknown) => containerLog(err, "the sweep of blob containers failed; it runs again later"));
  if (cloudContainers) sweepContainers();
  const containerSweep =
    cloudContainers && config.orphanScanIntervalMs > 0
      ? setInterval(sweepContainers, config.orphanScanIntervalMs).unref()
      : undefined;
  const changeBackfill = new ChangeBackfill(backend.changes, jobs, {
    log: (level, message, fields) => app.log[level](fields ?? {}, message),
    onQueued: () => runner.nudge(),
    alsoOnSweep: () => changeSummaryJob.pruneBriefcases(),
  });
  changeBackfill.start();

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    app,
    worker,
    close: () =>
      (closing ??= (async () => {
        clearInterval(containerSweep);
        await app.close();
        await auditRecorder.close();
        await maintenance.stop();
        await changeBackfill.stop();
        await runner.stop();
        await deliverer.stop();
        await worker.close();
        await summaryWorker.close();
        await authenticator.close?.();
        await backend.close();
      })()),
  };
}

/** This package's version (package.json next to dist/ or src/). */
async function serverVersion(): Promise<string> {
  try {
    const text = await readFile(new URL("../package.json", import.meta.url), "utf8");
    return String((JSON.parse(text) as { version?: unknown }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}
