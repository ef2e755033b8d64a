// The whole HTTP app in this process, answered through fastify's `inject` (no port, no child process): a real hub
// over SQLite and files in a temporary folder, without the iTwin.js worker and without background jobs (queued
// work stays queued). For tests of one route file's wiring: its rule, its audit action, its answers and errors.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { openBlobStore } from "../../../src/adapters/blob/open-blob-store.js";
import { HttpCallout } from "../../../src/adapters/callout/http-callout.js";
import { LocalScratchSpace } from "../../../src/adapters/fs/local-scratch-space.js";
import { openMetadataBackend } from "../../../src/adapters/registry.js";
import { AuditRecorder } from "../../../src/background/audit-recorder.js";
import { makeConfig } from "../../../src/config.js";
import { AccessService } from "../../../src/domain/access/access-service.js";
import { systemClock } from "../../../src/domain/context.js";
import type { Hub } from "../../../src/domain/hub.js";
import { createHub } from "../../../src/domain/hub.js";
import { GateService } from "../../../src/domain/gates/gate-service.js";
import type { MetadataStore } from "../../../src/ports/metadata-store.js";
import type { WebhookStore } from "../../../src/ports/webhook-store.js";
import { ITwinService } from "../../../src/domain/itwins/itwin-service.js";
import { buildApp } from "../../../src/http/app.js";
import { WebhookService } from "../../../src/domain/webhooks/webhook-service.js";
import { UrlSigner } from "../../../src/http/storage/url-signer.js";

export const ACCEPT = "application/vnd.bentley.itwin-platform.v2+json";
export const ITWIN = "5e19bee0-3aea-4355-a9f0-c6df9989ee7d";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Json;
  text: string;
}

export interface InjectHub {
  app: FastifyInstance;
  hub: Hub;
  /** The metadata the hub runs on, to put a record in a state no request can reach here (e.g. a failed baseline). */
  store: MetadataStore;
  /** The webhooks and their outbox (issue 21): no deliverer runs here, deliveries stay pending. */
  webhookStore: WebhookStore;
  /** `path` is absolute (`/imodels/…`); as `user` (default "alice"; null: no Authorization header). */
  call(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string>; user?: string | null },
  ): Promise<Answer>;
  /** An iModel created empty in {@link ITWIN} (its baseline job stays queued: no worker runs here). */
  createIModel(name?: string): Promise<string>;
  close(): Promise<void>;
}

/** An open-mode hub (tokens are user names, everyone may do everything) answering through `inject`. */
export async function injectHub(): Promise<InjectHub> {
  const dataDir = await mkdtemp(join(tmpdir(), "modelhub-inject-"));
  const config = makeConfig({ port: 0, logLevel: "silent", dataDir });
  const backend = await openMetadataBackend(config.metadata, dataDir);
  const blobs = await openBlobStore(config.blobs, dataDir);
  const scratch = new LocalScratchSpace(join(dataDir, "tmp"));
  const hub = createHub({
    store: backend.store,
    blobs,
    worker: undefined,
    scratch,
    clock: systemClock,
    profiles: backend.identities,
    changesets: { pendingPushTimeoutMs: config.pendingPushTimeoutMs, verifyChangesetIds: false },
    checkpoints: config.checkpoints,
    events: backend.events,
    changeSummaries: backend.changes,
    // The iTwins' gates (routes/gates.ts); outbound calls as `modelhub serve` makes them (loopback allowed).
    gates: new GateService(backend.gates, new HttpCallout(), systemClock, { hubGates: [], audit: () => undefined }),
  });
  const access = new AccessService(backend.access, systemClock, {
    everyoneMayDoEverything: true,
    admins: [],
    claimITwins: true,
  });
  const recorder = new AuditRecorder(backend.auditLog, { log: () => undefined });
  const app = await buildApp({
    hub,
    blobs,
    access,
    iTwins: new ITwinService(backend.access, access, systemClock),
    webhooks: new WebhookService(backend.webhooks, access, new HttpCallout(), systemClock),
    signer: new UrlSigner(Buffer.alloc(32, 7)),
    linkTtlSeconds: 600,
    jsonBodyLimit: 2 * 1024 * 1024,
    logger: false,
    rateLimitPerMinute: 0,
    maxConnections: 64,
    webUiRoot: false,
    audit: { recorder, log: backend.auditLog },
    events: { feed: backend.events },
    admin: {
      identities: backend.identities,
      jobs: backend.jobs,
      iModelOf: async (id) => {
        const record = await hub.iModels.get(id).catch(() => undefined);
        return record && { name: record.name, iTwinId: record.iTwinId };
      },
      about: { version: "inject", metadata: "sqlite", blobs: "fs" },
    },
  });
  await app.ready();
  const call: InjectHub["call"] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { accept: ACCEPT, host: "127.0.0.1", ...(options.headers ?? {}) };
    const user = options.user === undefined ? "alice" : options.user;
    if (user !== null) headers.authorization = `Bearer ${user}`;
    let payload: string | Buffer | undefined = options.rawBody;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const r = await app.inject({
      method: method as "GET",
      url: path,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    let body: Json = {};
    try {
      body = r.body ? (JSON.parse(r.body) as Json) : {};
    } catch {
      // not JSON: the text is there
    }
    return { status: r.statusCode, headers: r.headers, body, text: r.body };
  };
  return {
    app,
    hub,
    store: backend.store,
    webhookStore: backend.webhooks,
    call,
    async createIModel(name = `model ${Math.random().toString(36).slice(2)}`) {
      const r = await call("POST", "/imodels", { body: { iTwinId: ITWIN, name } });
      if (r.status !== 201) throw new Error(`iModel not created: ${r.status} ${r.text}`);
      return r.body.iModel.id as string;
    },
    async close() {
      await app.close();
      await recorder.close();
      await backend.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
