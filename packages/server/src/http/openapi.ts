// `GET /openapi.json` (OpenAPI 3.1) and `GET /docs` (the same as a page), made from the routes the app registered:
// their path, `config` (summary, authorization rule, audit action) and `schema` (query, body, answers; schemas.ts).
// Nothing is written by hand per route here, so a new route is in the reference as soon as it exists.
import type { FastifyInstance } from "fastify";
import { describeRule, openApiPath } from "./authz/permission-table.js";
import { publicRoute } from "./authz/rules.js";
import { originOf } from "./replies.js";
import type { RouteEntry, RouteSchema } from "./route-config.js";
import { routeEntries } from "./route-config.js";
import type { JsonSchema } from "./schemas.js";
import { NAMED_SCHEMAS } from "./schemas.js";
import { docsPage } from "./openapi-page.js";
import { VERSION } from "../version.js";

type Json = Record<string, unknown>;

/** Tag of a route: the collection it belongs to, from its path. */
function tagOf(url: string): string {
  const parts = url.split("/").filter((p) => p !== "" && !p.startsWith(":"));
  const [first, second, third] = parts;
  if (first === "storage") return "Storage (signed links)";
  if (first === "itwins") return "iTwins";
  if (first === "accesscontrol") return "Access control";
  if (first === "auditlog") return "Audit log";
  if (first === "openapi.json" || first === "docs") return "API reference";
  if (first === "me") return "Me";
  if (first === "admin") return "Administration";
  if (first === "blobcontainers") return "Blob containers";
  if (first !== "imodels") return ["health", "ready", "metrics"].includes(first ?? "") ? "Probes" : "Web UI";
  const TAGS: Record<string, string> = {
    changesets: "Changesets",
    changesetgroups: "Changeset groups",
    briefcases: "Briefcases",
    locks: "Locks",
    namedversions: "Named versions",
    checkpoints: "Checkpoints",
    users: "Users",
    permissions: third ? "iModel permissions" : "iModels",
    rolepermissions: "iModel permissions",
    userpermissions: "iModel permissions",
    thumbnail: "Thumbnails",
    events: "Change feed",
    auditlog: "Audit log",
    elementlabels: "Locks",
  };
  if (second === "changesets" && (third === "checkpoint" || url.endsWith("/checkpoint"))) return "Checkpoints";
  if (second === "namedversions" && url.endsWith("/checkpoint")) return "Checkpoints";
  return (second && TAGS[second]) ?? "iModels";
}

const ERROR_RESPONSES: Record<string, { status: string; description: string }> = {
  Unauthorized: { status: "401", description: "No valid token: `HeaderNotFound`, `InvalidToken`, `Unauthorized`…" },
  Forbidden: { status: "403", description: "`InsufficientPermissions`: some permission on it, not the one needed" },
  NotFound: {
    status: "404",
    description: "Not found, or no permission at all on the iModel (`iModelNotFound`, `ChangesetNotFound`…)",
  },
  Conflict: {
    status: "409",
    description: "The hub's rules refuse it now (`iModelNotInitialized`, `ConflictWithAnotherUser`…)",
  },
  UnsupportedMediaType: { status: "415", description: "`UnsupportedMediaType`: the body is not JSON" },
  InvalidRequest: {
    status: "422",
    description: "`InvalidiModelsRequest`: `details[]` names each bad property or parameter",
  },
  TooManyRequests: { status: "429", description: "`TooManyRequests`, with `Retry-After`" },
};

/** The OpenAPI 3.1 document of these routes; `server` is the origin clients reach the hub at. */
export function openApiDocument(routes: readonly RouteEntry[], server?: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.url);
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  const schemas = Object.fromEntries(
    [...NAMED_SCHEMAS].map(([schema, name]) => [name, refs(schema as JsonSchema, schema)]),
  );
  const errorJson = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };
  return {
    openapi: "3.1.0",
    info: {
      title: "modelhub",
      version: VERSION,
      description:
        "A self-hosted iModelHub: the iModels API v2 (the cloud's paths, shapes, paging and error bodies), the iTwins and Access Control APIs' shapes, and modelhub's own routes (marked modelhub). Every request to the API carries `Authorization: Bearer <token>`; files move through signed `/storage` links the API hands out.",
    },
    ...(server ? { servers: [{ url: server }] } : {}),
    tags: [...new Set(routes.map((r) => tagOf(r.url)))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      responses: Object.fromEntries(
        Object.entries(ERROR_RESPONSES).map(([name, r]) => [name, { description: r.description, content: errorJson }]),
      ),
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "`--auth open`: the token is the user name (not verified); `--auth tokens`: a token from `modelhub tokens create`; `--auth oidc`: a JWT of the configured issuer.",
        },
      },
    },
  };
}

function operation(route: RouteEntry): Json {
  const { method, url, facts } = route;
  const schema: RouteSchema = route.schema ?? {};
  const rule = facts.authz;
  const parameters: Json[] = [];
  for (const match of url.matchAll(/:([A-Za-z0-9_]+)/g))
    parameters.push({ name: match[1], in: "path", required: true, schema: { type: "string" } });
  if (url.endsWith("*"))
    parameters.push({
      name: "path",
      in: "path",
      required: true,
      description: "The rest of the path (may contain `/`)",
      schema: { type: "string" },
    });
  const queryProps = ((schema.querystring as Json | undefined)?.properties ?? {}) as Record<string, JsonSchema>;
  const requiredQuery = new Set(((schema.querystring as Json | undefined)?.required ?? []) as string[]);
  for (const [name, s] of Object.entries(queryProps)) {
    const { description, ...rest } = s;
    parameters.push({
      name,
      in: "query",
      required: requiredQuery.has(name),
      ...(description ? { description } : {}),
      schema: refs(rest),
    });
  }
  const headerProps = ((schema.headers as Json | undefined)?.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, s] of Object.entries(headerProps)) {
    const { description, ...rest } = s;
    parameters.push({
      name,
      in: "header",
      required: false,
      ...(description ? { description } : {}),
      schema: refs(rest),
    });
  }

  const responses: Record<string, Json> = {};
  const answers = (schema.response ?? {}) as Record<string, JsonSchema>;
  for (const [status, s] of Object.entries(answers)) {
    const { description, ...rest } = s;
    const noBody = Object.keys(rest).length === 0;
    // fastify's `content` form names the media type (images, event streams); anything else is JSON.
    const content = rest.content
      ? refs(rest.content as JsonSchema)
      : noBody
        ? undefined
        : { "application/json": { schema: refs(rest) } };
    responses[status] = {
      description: (description as string | undefined) ?? (noBody ? "Done" : "OK"),
      ...(content ? { content } : {}),
    };
  }
  if (Object.keys(responses).length === 0) responses["200"] = { description: "OK" };
  const authenticated = rule !== undefined && rule.kind !== "public" && rule.kind !== "signedLink";
  const errors: string[] = [];
  if (authenticated) errors.push("Unauthorized");
  if (rule?.kind === "iModel" || rule?.kind === "iTwin") errors.push("Forbidden", "NotFound");
  else if (authenticated && /:/.test(url)) errors.push("NotFound");
  if (authenticated && schema.body !== undefined) errors.push("UnsupportedMediaType");
  if (schema.body !== undefined || Object.keys(queryProps).length > 0) errors.push("InvalidRequest");
  if (authenticated && method !== "GET") errors.push("Conflict");
  if (authenticated) errors.push("TooManyRequests");
  for (const name of errors) responses[ERROR_RESPONSES[name]!.status] ??= { $ref: `#/components/responses/${name}` };
  if (rule?.kind === "signedLink") {
    responses["403"] = {
      description: "`AuthenticationFailed`: no valid signature, or past its expiry (Azure's XML error body)",
      content: { "application/xml": { schema: { type: "string" } } },
    };
    responses["404"] ??= {
      description: "`BlobNotFound` (Azure's XML error body)",
      content: { "application/xml": { schema: { type: "string" } } },
    };
    parameters.push(
      { name: "se", in: "query", required: true, description: "Expiry of the signed link", schema: { type: "string" } },
      {
        name: "sp",
        in: "query",
        required: true,
        description: "What the link allows: r (read) or w (write)",
        schema: { type: "string" },
      },
      {
        name: "sig",
        in: "query",
        required: true,
        description: "The link's signature (the hub's key)",
        schema: { type: "string" },
      },
    );
  }

  const body = bodyContent(schema.body as JsonSchema | undefined);
  const operationId =
    method.toLowerCase() +
    openApiPath(url)
      .split("/")
      .filter(Boolean)
      .map((part) =>
        part.startsWith("{")
          ? `By${capital(part.slice(1, -1))}`
          : capital(part.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))),
      )
      .join("");
  const description = [
    `**Who may call it:** ${describeRule(rule)}.`,
    facts.audit ? `**Audit log:** recorded as \`${facts.audit.action}\`.` : "",
  ]
    .filter(Boolean)
    .join("\n\n");
  return {
    operationId,
    summary: facts.summary ?? `${method} ${openApiPath(url)}`,
    description,
    tags: [tagOf(url)],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body ? { requestBody: { required: true, content: body } } : {}),
    responses,
    security: authenticated ? [{ bearer: [] }] : [],
    ...(rule ? { "x-modelhub-authz": rule } : {}),
    ...(facts.audit ? { "x-modelhub-audit-action": facts.audit.action } : {}),
  };
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A request body's media types and schemas: fastify's `content` form as it is, anything else JSON. */
function bodyContent(body: JsonSchema | undefined): Json | undefined {
  if (body === undefined) return undefined;
  return body.content ? refs(body.content as JsonSchema) : { "application/json": { schema: refs(body) } };
}

/** A copy of `schema` where shared schemas (schemas.ts `named`) are `$ref`s, except `self` (a component's own body). */
function refs(schema: JsonSchema, self?: object): JsonSchema {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== "object") return value;
    const name = NAMED_SCHEMAS.get(value);
    if (name !== undefined && value !== self) return { $ref: `#/components/schemas/${name}` };
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
  };
  return walk(schema) as JsonSchema;
}

/** `GET /openapi.json` and `GET /docs`, describing the routes of `app` (the root instance) once it is ready. */
export function registerApiReference(app: FastifyInstance, options: { publicUrl?: string }): void {
  let document: Json | undefined;
  let page: string | undefined;
  const current = () => (document ??= openApiDocument(routeEntries(app.registeredRoutes)));
  const reference = {
    summary: "This API's OpenAPI 3.1 document",
    authz: publicRoute("the API's description: paths, rules and shapes, no data"),
  };
  app.get(
    "/openapi.json",
    { schema: { response: { 200: { description: "This document", type: "object" } } }, config: reference },
    async (request, reply) => {
      void reply.header("cache-control", "no-cache");
      return { ...current(), servers: [{ url: originOf(request, options.publicUrl) }] };
    },
  );
  const docs = {
    summary: "This API's reference as a page",
    authz: publicRoute("the API reference page (static, no data)"),
  };
  app.get(
    "/docs",
    {
      schema: {
        response: { 200: { description: "The page", content: { "text/html": { schema: { type: "string" } } } } },
      },
      config: docs,
    },
    async (_request, reply) => {
      page ??= docsPage(current());
      return reply
        .header(
          "content-security-policy",
          "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-cache")
        .type("text/html; charset=utf-8")
        .send(page);
    },
  );
}
