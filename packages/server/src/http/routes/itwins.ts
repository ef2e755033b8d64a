import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import type { ITwin, MinimalITwin } from "@modelhub/protocol";
import { ITWIN_STATUSES, ITWIN_SUBCLASSES } from "@modelhub/protocol";
import type { ITwinService } from "../../domain/itwins/itwin-service.js";
import type { ITwinRecord } from "../../ports/access-store.js";
import { invalidValue } from "../../domain/errors.js";
import { offsetPagingLinks, readPage } from "../paging.js";
import type { Query } from "../query.js";
import { parseEnumParam, parsePage, parseStringParam, prefersRepresentation } from "../query.js";
import { ANY, MANAGE, authenticated, iTwinInPath } from "../authz/rules.js";
import { objectAt } from "../route-config.js";
import { parseBody } from "../validation.js";
import { ITWIN, PAGING, PREFER_PROPERTY, bodyOf, one, page, query } from "../schemas.js";

const text = (max: number) => z.string().max(max, { error: `The value exceeds allowed ${max} characters.` });
const fields = {
  displayName: text(255),
  class: text(64),
  subClass: text(64),
  type: text(255).nullable(),
  number: text(255),
  status: text(64),
  geographicLocation: text(255).nullable(),
  ianaTimeZone: text(64).nullable(),
  // Accepted for the cloud's clients, which may send them; modelhub has no hierarchy, accounts or data centers.
  parentId: z.string().nullable(),
  iTwinAccountId: z.string().nullable(),
  dataCenterLocation: z.string().nullable(),
};
const createBody = z.object({ ...fields, displayName: fields.displayName }).partial({
  class: true,
  subClass: true,
  type: true,
  number: true,
  status: true,
  geographicLocation: true,
  ianaTimeZone: true,
  parentId: true,
  iTwinAccountId: true,
  dataCenterLocation: true,
});
const updateBody = z
  .object(fields)
  .partial()
  .refine((b) => Object.keys(b).length > 0, { error: "At least one property of the iTwin must be provided." });

const ALL_SUBCLASSES = Object.values(ITWIN_SUBCLASSES).flat();

export function presentITwin(r: ITwinRecord, full: boolean): MinimalITwin | ITwin {
  const minimal: MinimalITwin = {
    id: r.id,
    class: r.class,
    subClass: r.subClass,
    type: r.type,
    number: r.number,
    displayName: r.displayName,
  };
  if (!full) return minimal;
  return {
    ...minimal,
    status: r.status,
    dataCenterLocation: "modelhub",
    parentId: null,
    iTwinAccountId: null,
    geographicLocation: r.geographicLocation,
    ianaTimeZone: r.ianaTimeZone,
    imageName: null,
    image: null,
    createdDateTime: r.createdAt,
    createdBy: r.createdBy,
    lastModifiedDateTime: r.modifiedAt,
    lastModifiedBy: r.modifiedBy,
  };
}

/** What a create or update body says (the fields modelhub stores). */
function inputOf(body: z.infer<typeof updateBody>) {
  const { parentId: _p, iTwinAccountId: _a, dataCenterLocation: _d, ...input } = body;
  return input;
}

/**
 * The iTwins API v1 in the cloud's shapes (`/itwins`): create (the caller becomes the iTwin's Owner), list mine
 * (`subClass`, `status`, `includeInactive`, `type`, `displayName`, `number`, `$search`, `$top`, `$skip`,
 * `Prefer: return=representation`, `X-iTwin-Query-Scope: all` for administrators), get, update, delete (an empty
 * iTwin). Who may call what is on each route (`config.authz`).
 */
export const iTwinRoutes: FastifyPluginAsync<{ iTwins: ITwinService; publicUrl: string | undefined }> = async (
  api,
  { iTwins, publicUrl },
) => {
  const base = (request: FastifyRequest) =>
    `${publicUrl ? publicUrl.replace(/\/+$/, "") : `${request.protocol}://${request.host}`}/itwins`;

  api.post(
    "/",
    {
      schema: { body: bodyOf(createBody), response: { 201: one("iTwin", ITWIN) } },
      config: {
        summary: "Create an iTwin",
        authz: authenticated(
          "any user starts an iTwin and becomes its Owner (administrators only with --no-claim-itwins: ITwinService)",
        ),
        audit: {
          action: "itwin.create",
          target: (_p, body, answer) => objectAt(answer, "iTwin").id ?? body.displayName,
        },
      },
    },
    async (request, reply) => {
      const body = parseBody(createBody, request.body, "Cannot create iTwin.");
      const record = await iTwins.create(request.actor, inputOf(body));
      return reply.code(201).send({ iTwin: presentITwin(record, true) });
    },
  );

  api.get(
    "/",
    {
      schema: {
        querystring: query({
          subClass: "Only iTwins of this sub-class",
          status: "Only iTwins of this status",
          includeInactive: { type: "string", enum: ["true", "false"] },
          type: "Only iTwins of this type",
          displayName: "Exact display name",
          number: "Exact number",
          $search: "Part of the name or number",
          ...PAGING,
        }),
        headers: {
          type: "object",
          properties: {
            ...PREFER_PROPERTY,
            "x-itwin-query-scope": {
              type: "string",
              enum: ["memberOfItwin", "all"],
              description: "`all`: every iTwin (administrators)",
            },
          },
        },
        response: { 200: page("iTwins", ITWIN) },
      },
      config: {
        summary: "List the caller's iTwins",
        authz: authenticated(
          "lists only the iTwins the caller is a member of (all of them for administrators asking for scope all)",
        ),
      },
    },
    async (request) => {
      const q = request.query as Query;
      const operation = "Cannot get iTwins.";
      const page = parsePage(q, operation);
      const subClasses = parseList(q, "subClass", ALL_SUBCLASSES, operation);
      const status = parseEnumParam(q, "status", operation, ITWIN_STATUSES);
      const includeInactive = parseEnumParam(q, "includeInactive", operation, ["true", "false"] as const) === "true";
      if (status !== undefined && includeInactive)
        throw invalidValue(operation, "includeInactive", "'status' and 'includeInactive' cannot be used together.");
      const search = parseStringParam(q, "$search", operation);
      const displayName = parseStringParam(q, "displayName", operation);
      const number = parseStringParam(q, "number", operation);
      if (search !== undefined && (displayName !== undefined || number !== undefined)) {
        throw invalidValue(operation, "$search", "'$search' cannot be used together with 'displayName' or 'number'.");
      }
      const type = parseStringParam(q, "type", operation);
      const scopeHeader = request.headers["x-itwin-query-scope"];
      const scope = typeof scopeHeader === "string" && scopeHeader.toLowerCase() === "all" ? "all" : "memberOfItwin";
      const { rows, hasMore } = await readPage(page, (p) =>
        iTwins.list(request.actor, {
          scope,
          ...(subClasses ? { subClasses } : {}),
          ...(status ? { statuses: [status] } : includeInactive ? { statuses: ITWIN_STATUSES } : {}),
          ...(type !== undefined ? { type } : {}),
          ...(displayName !== undefined ? { displayName } : {}),
          ...(number !== undefined ? { number } : {}),
          ...(search !== undefined ? { search } : {}),
          limit: p.limit,
          offset: p.offset,
        }),
      );
      const full = prefersRepresentation(request.headers.prefer);
      return {
        iTwins: rows.map((r) => presentITwin(r, full)),
        _links: offsetPagingLinks(base(request), q, page, hasMore),
      };
    },
  );

  api.get<{ Params: { iTwinId: string } }>(
    "/:iTwinId",
    {
      schema: { response: { 200: one("iTwin", ITWIN) } },
      config: {
        summary: "Get an iTwin",
        authz: authenticated("members and administrators; anyone else gets 404 iTwinNotFound (ITwinService.get)"),
      },
    },
    async (request) => {
      return { iTwin: presentITwin(await iTwins.get(request.actor, request.params.iTwinId), true) };
    },
  );

  api.patch<{ Params: { iTwinId: string } }>(
    "/:iTwinId",
    {
      schema: { body: bodyOf(updateBody), response: { 200: one("iTwin", ITWIN) } },
      config: {
        summary: "Update an iTwin",
        authz: iTwinInPath(MANAGE),
        audit: { action: "itwin.update", target: (p) => p.iTwinId },
      },
    },
    async (request) => {
      const body = parseBody(updateBody, request.body, "Cannot update iTwin.");
      return { iTwin: presentITwin(await iTwins.update(request.actor, request.params.iTwinId, inputOf(body)), true) };
    },
  );

  api.delete<{ Params: { iTwinId: string } }>(
    "/:iTwinId",
    {
      schema: { response: { 204: {} } },
      config: {
        summary: "Delete an empty iTwin",
        authz: { kind: "iTwin", anyOf: ANY, from: "path", owner: true },
        audit: { action: "itwin.delete", target: (p) => p.iTwinId },
      },
    },
    async (request, reply) => {
      await iTwins.delete(request.actor, request.params.iTwinId);
      return reply.code(204).send();
    },
  );
};

/** `subClass=Asset,Project`: each one of `allowed` (any case). */
function parseList<T extends string>(
  q: Query,
  name: string,
  allowed: readonly T[],
  operation: string,
): T[] | undefined {
  const raw = q[name];
  if (raw === undefined) return undefined;
  return raw.split(",").map((part) => {
    const value = allowed.find((a) => a.toLowerCase() === part.trim().toLowerCase());
    if (!value)
      throw invalidValue(
        operation,
        name,
        `'${part}' is not a valid '${name}' value. Supported values: ${allowed.map((a) => `'${a}'`).join(", ")}.`,
      );
    return value;
  });
}
