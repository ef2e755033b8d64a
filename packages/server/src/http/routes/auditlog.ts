import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { AuditRecorder } from "../../background/audit-recorder.js";
import { invalidRequest, invalidValue } from "../../domain/errors.js";
import type { AuditLog, AuditQuery } from "../../ports/audit-log.js";
import { MANAGE, iModel } from "../authz/rules.js";
import { keysetPagingLinks } from "../paging.js";
import { AUDIT_ENTRY, ORDER_BY, PAGING, page, query } from "../schemas.js";
import type { Query } from "../query.js";
import { parseIndexParam, parseOrderBy, parsePage, parseStringParam } from "../query.js";

export interface AuditRouteOptions {
  auditLog: AuditLog;
  /** Flushed before each query, so an answered write is always in the answer. */
  recorder: AuditRecorder;
  /** Throws the API's error unless the caller may read this iModel's log (`imodels_manage`; 404 if it cannot see it). */
  authorizeIModel(request: FastifyRequest, iModelId: string): Promise<void>;
  /** `iTwinId` given: `imodels_manage` on the iTwin; none: organization administrators only (the whole hub). */
  authorizeITwin(request: FastifyRequest, iTwinId: string | undefined): Promise<void>;
  /** The origin for links, e.g. "https://hub.example.com". */
  originOf(request: FastifyRequest): string;
}

const FILTER = {
  userId: "Only this user's",
  action: "Only this action (e.g. changeset.create)",
  since: "From this ISO 8601 time",
  until: "Up to this ISO 8601 time",
  afterSeq: "Entries after this one (the next page's link)",
  beforeSeq: "Entries before this one (newest first)",
  $orderBy: ORDER_BY("at"),
  $top: PAGING.$top,
};
const LOG = { response: { 200: page("auditEntries", AUDIT_ENTRY) } };

/** `GET /imodels/{id}/auditlog`: registered inside the `/imodels` API scope. */
export const iModelAuditRoutes: FastifyPluginAsync<AuditRouteOptions> = async (api, options) => {
  api.get<{ Params: { id: string } }>(
    "/:id/auditlog",
    {
      schema: { querystring: query(FILTER), ...LOG },
      config: { summary: "Read an iModel's audit log (modelhub)", authz: iModel(MANAGE) },
    },
    async (request) => {
      const operation = "Cannot get the audit log.";
      const query = request.query as Query;
      const filter = parseFilter(query, operation);
      await options.authorizeIModel(request, request.params.id);
      return answer(options, `${options.originOf(request)}/imodels/${request.params.id}/auditlog`, query, {
        ...filter,
        iModelId: request.params.id,
      });
    },
  );
};

/** `GET /auditlog[?iTwinId=…]`: registered in a scope of its own at `/auditlog` that authenticates like the API. */
export const auditLogRoutes: FastifyPluginAsync<AuditRouteOptions> = async (app, options) => {
  const config = {
    summary: "Read the audit log of an iTwin, or of the whole hub (modelhub)",
    authz: { kind: "iTwin", anyOf: MANAGE, from: "query", adminsWithout: true },
  } as const;
  const schema = {
    querystring: query({
      iTwinId: "The iTwin (none: the whole hub, administrators)",
      iModelId: "Only this iModel's",
      ...FILTER,
    }),
    ...LOG,
  };
  app.get("/", { schema, config }, async (request) => {
    const operation = "Cannot get the audit log.";
    const query = request.query as Query;
    const filter = parseFilter(query, operation);
    const iTwinId = parseStringParam(query, "iTwinId", operation);
    const iModelId = parseStringParam(query, "iModelId", operation);
    await options.authorizeITwin(request, iTwinId);
    return answer(options, `${options.originOf(request)}/auditlog`, query, {
      ...filter,
      ...(iTwinId !== undefined ? { iTwinId } : {}),
      ...(iModelId !== undefined ? { iModelId } : {}),
    });
  });
};

type Filter = Omit<AuditQuery, "iTwinId" | "iModelId">;

function parseFilter(query: Query, operation: string): Filter {
  const page = parsePage(query, operation);
  if (query.$skip !== undefined && page.offset > 0) {
    throw invalidValue(
      operation,
      "$skip",
      "The audit log pages with its continuation links (afterSeq / beforeSeq), not '$skip'.",
    );
  }
  const newestFirst = parseOrderBy(query, operation, ["at"] as const)?.direction === "desc";
  const afterSeq = parseIndexParam(query, "afterSeq", operation);
  const beforeSeq = parseIndexParam(query, "beforeSeq", operation);
  const userId = parseStringParam(query, "userId", operation);
  const action = parseStringParam(query, "action", operation);
  const since = parseTime(query, "since", operation);
  const until = parseTime(query, "until", operation);
  return {
    limit: page.limit,
    newestFirst,
    ...(afterSeq !== undefined ? { afterSeq } : {}),
    ...(beforeSeq !== undefined ? { beforeSeq } : {}),
    ...(userId !== undefined ? { userId } : {}),
    ...(action !== undefined ? { action } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
  };
}

function parseTime(query: Query, name: string, operation: string): Date | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  // ISO 8601 with a date at least; a bare date is midnight UTC.
  const time = /^\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(time)) {
    throw invalidRequest(operation, [
      {
        code: "InvalidValue",
        target: name,
        message: `'${raw}' is not a valid '${name}' value. Use an ISO 8601 time such as 2026-01-31T12:00:00Z.`,
      },
    ]);
  }
  return new Date(time);
}

async function answer(options: AuditRouteOptions, url: string, query: Query, filter: AuditQuery) {
  await options.recorder.flush();
  // One row past the page tells whether another page exists.
  const rows = await options.auditLog.query({ ...filter, limit: filter.limit + 1 });
  const hasMore = rows.length > filter.limit;
  if (hasMore) rows.length = filter.limit;
  const last = rows.at(-1);
  const continueWith =
    hasMore && last
      ? filter.newestFirst
        ? { beforeSeq: String(last.seq) }
        : { afterSeq: String(last.seq) }
      : undefined;
  return {
    auditEntries: rows,
    _links: keysetPagingLinks(url, query, { limit: filter.limit, offset: 0 }, continueWith),
  };
}
