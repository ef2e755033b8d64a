// Every route modelhub can serve, with its facts, without a hub: the app built on stand-ins (nothing is called
// while routes are registered) with every optional part on (metrics, audit log, change feed, web UI). Used by
// `npm run docs:permissions` (docs/security.md's table) and by tests that walk every route.
import type { AccessService } from "../domain/access/access-service.js";
import type { EventFeed } from "../ports/event-bus.js";
import type { Hub } from "../domain/hub.js";
import type { ITwinService } from "../domain/itwins/itwin-service.js";
import type { BlobContainerService } from "../domain/blob-containers/blob-container-service.js";
import type { AuditRecorder } from "../background/audit-recorder.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { BlobStore } from "../ports/blob-store.js";
import type { AppOptions } from "./app-options.js";
import { buildApp } from "./app.js";
import { HubMetrics } from "./metrics.js";
import type { RouteEntry } from "./route-config.js";
import { routeEntries } from "./route-config.js";
import { UrlSigner } from "./storage/url-signer.js";

export async function allRoutes(): Promise<RouteEntry[]> {
  const unused = {} as never;
  const app = await buildApp({
    // Optional services present, so that their routes are registered (the iTwins' gates).
    hub: { gates: unused } as Partial<Hub> as Hub,
    blobs: unused as BlobStore,
    signer: new UrlSigner(Buffer.alloc(32)),
    linkTtlSeconds: 60,
    jsonBodyLimit: 1024,
    logger: false,
    rateLimitPerMinute: 0,
    maxConnections: 1,
    access: unused as AccessService,
    iTwins: unused as ITwinService,
    blobContainers: unused as BlobContainerService,
    webhooks: unused as NonNullable<AppOptions["webhooks"]>,
    admin: unused as NonNullable<AppOptions["admin"]>,
    elementLabels: unused as NonNullable<AppOptions["elementLabels"]>,
    metrics: new HubMetrics({ jobCounts: async () => [], workerRestarts: () => 0 }),
    events: { feed: unused as EventFeed },
    audit: { recorder: unused as AuditRecorder, log: unused as AuditLog },
  });
  try {
    await app.ready();
    return routeEntries(app.registeredRoutes);
  } finally {
    await app.close();
  }
}
