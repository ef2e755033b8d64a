import type { FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import type { AuditRecorder } from "../../background/audit-recorder.js";
import { iModelOfKey } from "../../domain/blob-keys.js";
import type { AuditEntry, AuditOutcome } from "../../ports/audit-log.js";
import type { AuditAction as ActionRule } from "../route-config.js";
import { objectAt } from "../route-config.js";
import { RefusalDigest } from "./refusal-digest.js";
import { escapeControls } from "../../util/text.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Every write route and the audit action it is recorded under (for tests: no write goes unnamed). */
    auditedRoutes: { method: string; url: string; action: string; named: boolean }[];
  }
}

type Params = Record<string, string | undefined>;
type Json = Record<string, unknown>;

const VERBS: Readonly<Record<string, string>> = { POST: "create", PUT: "update", PATCH: "update", DELETE: "delete" };

/**
 * The action of a write: the route's own (`config.audit`, next to its handler), else a derived name for access
 * control routes, else the raw method and pattern (test/e2e/audit-log.test.ts fails until the route names one).
 */
function ruleFor(method: string, url: string, audit: ActionRule | undefined): { rule: ActionRule; named: boolean } {
  const pattern = url.length > 1 ? url.replace(/\/+$/, "") : url;
  if (audit) return { rule: audit, named: true };
  // `/accesscontrol/…` (roles, members, iModel permissions): `access.<last fixed segment>.<create|update|delete>`.
  if (pattern.startsWith("/accesscontrol/")) {
    const noun =
      pattern
        .split("/")
        .filter((s) => s && !s.startsWith(":"))
        .at(-1) ?? "accesscontrol";
    return { rule: { action: `access.${noun}.${VERBS[method] ?? method.toLowerCase()}` }, named: true };
  }
  return { rule: { action: `${method} ${pattern}` }, named: false };
}

const isWrite = (method: string, url: string) =>
  url.startsWith("/storage/") ? method === "PUT" : !["GET", "HEAD", "OPTIONS"].includes(method);

export interface AuditHookOptions {
  recorder: AuditRecorder;
  /** The iTwin of an iModel (cached: it never changes), or null when the iModel does not exist. */
  iTwinOf: (iModelId: string) => Promise<string | null>;
  /** The client's address (`--trusted-proxy` aware); the connection's by default. */
  addressOf?: (request: FastifyRequest) => string;
  /** Sums up refusals of requests without an identity instead of recording each (see RefusalDigest). */
  refusals?: RefusalDigest;
}

interface Captured {
  rule: ActionRule;
  iTwinId?: string | null;
  answer?: Json;
  errorCode?: string;
}

/**
 * Records every write in the audit log, once answered (onResponse: never delays nor fails the request). Must be
 * registered before the routes so its hooks apply to all of them.
 */
export function registerAuditHook(app: FastifyInstance, options: AuditHookOptions): void {
  const captured = new WeakMap<FastifyRequest, Captured>();
  const iTwins = new ITwinCache(options.iTwinOf);

  app.decorate("auditedRoutes", []);
  app.addHook("onRoute", (route: RouteOptions) => {
    for (const method of [route.method].flat()) {
      if (!isWrite(method, route.url)) continue;
      const { rule, named } = ruleFor(method, route.url, route.config?.audit);
      app.auditedRoutes.push({ method, url: route.url, action: rule.action, named });
    }
  });

  app.addHook("onRequest", async (request) => {
    const url = request.routeOptions.url;
    if (url === undefined || !isWrite(request.method, url)) return;
    captured.set(request, { rule: ruleFor(request.method, url, request.routeOptions.config.audit).rule });
  });

  // The iModel's iTwin before a delete removes it (every other write can look it up afterwards).
  app.addHook("preHandler", async (request) => {
    const entry = captured.get(request);
    if (entry?.rule.action !== "imodel.delete") return;
    entry.iTwinId = await iTwins.get(paramsOf(request).id).catch(() => null);
  });

  app.addHook("onSend", async (request, reply, payload) => {
    const entry = captured.get(request);
    if (!entry) return payload;
    if (reply.statusCode >= 400) {
      const azureCode = reply.getHeader("x-ms-error-code");
      if (typeof azureCode === "string") entry.errorCode = azureCode;
      else entry.errorCode = (objectAt(parseSmallJson(payload), "error").code as string | undefined) ?? undefined;
    } else {
      entry.answer = parseSmallJson(payload);
    }
    return payload;
  });

  app.addHook("onResponse", async (request, reply) => {
    const entry = captured.get(request);
    if (!entry) return;
    captured.delete(request);
    try {
      const audited = await toAuditEntry(request, reply.statusCode, entry, iTwins, options.addressOf);
      if (options.refusals && RefusalDigest.covers(audited)) options.refusals.add(audited);
      else options.recorder.record(audited);
    } catch (err) {
      request.log.error({ err }, "audit entry could not be made");
    }
  });
}

async function toAuditEntry(
  request: FastifyRequest,
  status: number,
  entry: Captured,
  iTwins: ITwinCache,
  addressOf?: (request: FastifyRequest) => string,
): Promise<AuditEntry> {
  const params = paramsOf(request);
  const body =
    request.body && typeof request.body === "object" && !Array.isArray(request.body) ? (request.body as Json) : {};
  const path = request.url.split("?")[0] ?? request.url;
  const storage = path.startsWith("/storage/");
  const target = safeTarget(entry.rule, params, body, entry.answer);
  let iModelId: string | null = params.id ?? params.iModelId ?? null;
  if (storage && typeof target === "string") iModelId = iModelOfKey(target) ?? null;
  if (entry.rule.action === "imodel.create")
    iModelId = status < 400 ? ((objectAt(entry.answer, "iModel").id as string | undefined) ?? null) : null;
  const iTwinId = await resolveITwin(request, entry, iModelId, body, iTwins);
  const details: Json = {};
  if (entry.errorCode) details.errorCode = entry.errorCode;
  if (storage) {
    const length = Number(request.headers["content-length"]);
    if (Number.isFinite(length)) details.size = length;
    const comp = (request.query as Params | undefined)?.comp;
    if (comp) details.comp = comp;
  }
  // Access control changes: what was granted or taken (small JSON bodies).
  if (isAccessControl(path) && Object.keys(body).length > 0) details.body = truncateJson(body);
  return {
    at: new Date().toISOString(),
    userId: recordable((request as { actor?: { userId?: string } | null }).actor?.userId),
    action: entry.rule.action,
    method: request.method,
    path: recordable(path)!,
    iTwinId: recordable(iTwinId),
    iModelId: recordable(iModelId),
    target: target === undefined || target === null ? null : recordable(String(target).slice(0, 1024)),
    address: recordable((addressOf ? addressOf(request) : request.ip) ?? undefined),
    status,
    outcome: outcomeOf(status),
    requestId: recordable(request.id),
    details: Object.keys(details).length > 0 ? details : null,
  };
}

/**
 * Text as the log keeps it: control characters escaped. Input the hub refuses (a NUL, a blob name with a line break)
 * is still recorded, as a refusal, and must neither break the store nor forge lines where the log is printed.
 */
function recordable(text: string | null | undefined): string | null {
  return text === undefined || text === null ? null : escapeControls(text);
}

async function resolveITwin(
  request: FastifyRequest,
  entry: Captured,
  iModelId: string | null,
  body: Json,
  iTwins: ITwinCache,
): Promise<string | null> {
  // Resolved by the authorization seam (http/authz), or given by the route (access control, iModel creation).
  const fromSeam = (request as { authz?: { iTwinId?: unknown } }).authz?.iTwinId;
  if (typeof fromSeam === "string") return fromSeam;
  const params = paramsOf(request);
  if (params.iTwinId) return params.iTwinId;
  if (entry.iTwinId !== undefined) return entry.iTwinId;
  if (entry.rule.action === "itwin.create") return (objectAt(entry.answer, "iTwin").id as string | undefined) ?? null;
  if (entry.rule.action === "imodel.create") {
    const iTwinId = typeof body.iTwinId === "string" ? body.iTwinId : null;
    if (iTwinId && iModelId) iTwins.remember(iModelId, iTwinId);
    return iTwinId;
  }
  if (!iModelId) return null;
  return iTwins.get(iModelId).catch(() => null);
}

const isAccessControl = (path: string) =>
  path.startsWith("/accesscontrol/") || /^\/imodels\/[^/]+\/(permissions\/|rolepermissions|userpermissions)/.test(path);

function safeTarget(rule: ActionRule, params: Params, body: Json, answer: Json | undefined): unknown {
  try {
    const value = rule.target?.(params, body, answer);
    return typeof value === "string" || typeof value === "number" ? value : null;
  } catch {
    return null;
  }
}

function paramsOf(request: FastifyRequest): Params {
  return (request.params ?? {}) as Params;
}

export function outcomeOf(status: number): AuditOutcome {
  return status >= 500 ? "failed" : status >= 400 ? "refused" : "success";
}

/** Answers up to 64 KiB are parsed for ids and error codes; bigger ones (never an id-bearing answer) are skipped. */
function parseSmallJson(payload: unknown): Json | undefined {
  const text = typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? payload.toString("utf8") : undefined;
  if (text === undefined || text.length > 64 * 1024 || !text.startsWith("{")) return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

function truncateJson(value: Json): Json | string {
  const text = JSON.stringify(value);
  return text.length <= 4096 ? value : `${text.slice(0, 4096)}…`;
}

/** iModel → iTwin, remembered (an iModel never moves between iTwins); bounded, oldest forgotten first. */
class ITwinCache {
  readonly #known = new Map<string, string>();
  constructor(private readonly lookup: (iModelId: string) => Promise<string | null>) {}

  remember(iModelId: string, iTwinId: string): void {
    this.#known.set(iModelId, iTwinId);
    if (this.#known.size > 10_000) this.#known.delete(this.#known.keys().next().value!);
  }

  async get(iModelId: string | undefined): Promise<string | null> {
    if (!iModelId) return null;
    const known = this.#known.get(iModelId);
    if (known !== undefined) return known;
    const iTwinId = await this.lookup(iModelId);
    if (iTwinId !== null) this.remember(iModelId, iTwinId);
    return iTwinId;
  }
}
