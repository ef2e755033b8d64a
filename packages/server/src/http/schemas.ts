// JSON schemas the routes carry in fastify's `schema` (params come from the path): what /openapi.json and /docs
// describe. They document; they do not validate. Each handler still validates with its zod schema (validation.ts),
// because the seeds' error bodies name every bad property (`details[]` with `InvalidValue`/`MissingRequiredProperty`
// and a `target`) in the cloud's words, which the official clients' users see; request bodies are described by
// those same zod schemas (`bodyOf`), so the description and the validation cannot drift. `documentOnly` turns
// fastify's own validation and response serialization off (a response schema would otherwise drop fields).
import type { FastifyInstance } from "fastify";
import { z } from "zod";

export type JsonSchema = Record<string, unknown>;

/** Schemas shared between routes, by object identity → their name under `components.schemas` (see openapi.ts). */
export const NAMED_SCHEMAS = new Map<object, string>();

function named<T extends JsonSchema>(name: string, schema: T): T {
  NAMED_SCHEMAS.set(schema, name);
  return schema;
}

/** Fastify compiles no validator and no serializer from the routes' schemas (see the top of this file). */
export function documentOnly(app: FastifyInstance): void {
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
}

/** A request body as its zod schema accepts it. */
export function bodyOf(schema: z.ZodType): JsonSchema {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return json;
}

const str: JsonSchema = { type: "string" };
const int: JsonSchema = { type: "integer" };
const time: JsonSchema = { type: "string", format: "date-time" };
const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: "null" }] });
const array = (items: JsonSchema): JsonSchema => ({ type: "array", items });
const enumOf = (...values: string[]): JsonSchema => ({ type: "string", enum: values });
/** An object with these properties, all present (`optional` ones may be missing). */
function object(properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema {
  return { type: "object", properties, required: Object.keys(properties).filter((k) => !optional.includes(k)) };
}
const link = named("Link", object({ href: str }));
const storageLink = named("StorageLink", object({ href: str, storageType: enumOf("azure", "google") }));
const links = (...names: string[]): JsonSchema => object(Object.fromEntries(names.map((n) => [n, nullable(link)])));
const pagingLinks = named("PagingLinks", links("self", "prev", "next"));
const application = named("Application", nullable(object({ id: str, name: str })));

export const ERROR = named(
  "Error",
  object({
    error: object(
      {
        code: { type: "string", description: "The cloud's error code (docs/errors.md)" },
        message: str,
        details: array(object({ code: str, message: str, target: str }, ["target"])),
      },
      ["details"],
    ),
  }),
);

const extent = nullable(
  object({
    southWest: object({ latitude: { type: "number" }, longitude: { type: "number" } }),
    northEast: object({ latitude: { type: "number" }, longitude: { type: "number" } }),
  }),
);
export const IMODEL = named(
  "IModel",
  object({
    id: str,
    displayName: str,
    name: str,
    description: nullable(str),
    state: enumOf("initialized", "notInitialized"),
    createdDateTime: time,
    iTwinId: str,
    extent,
    containersEnabled: int,
    dataCenterLocation: str,
    _links: object(
      {
        creator: nullable(link),
        changesets: nullable(link),
        namedVersions: nullable(link),
        upload: storageLink,
        complete: link,
      },
      ["upload", "complete"],
    ),
  }),
);
export const CHANGESET = named(
  "Changeset",
  object({
    id: str,
    displayName: str,
    description: nullable(str),
    index: int,
    parentId: str,
    creatorId: str,
    pushDateTime: time,
    state: enumOf("waitingForFile", "fileUploaded"),
    containingChanges: int,
    fileSize: int,
    briefcaseId: int,
    groupId: nullable(str),
    application,
    uncompressedSize: {
      ...nullable(int),
      description: "modelhub extension: iTwin.js's ChangesetProps.uncompressedSize as pushed",
    },
    synchronizationInfo: nullable(object({ taskId: str, changedFiles: nullable(array(str)) })),
    _links: object(
      {
        self: link,
        creator: nullable(link),
        namedVersion: nullable(link),
        currentOrPrecedingCheckpoint: nullable(link),
        download: nullable(storageLink),
        upload: storageLink,
        complete: link,
      },
      ["upload", "complete"],
    ),
  }),
);
export const CHANGESET_GROUP = named(
  "ChangesetGroup",
  object(
    {
      id: str,
      description: nullable(str),
      state: enumOf("inProgress", "completed", "timedOut", "forciblyClosed"),
      creatorId: str,
      createdDateTime: time,
    },
    ["creatorId", "createdDateTime"],
  ),
);
export const BRIEFCASE = named(
  "Briefcase",
  object({
    id: str,
    displayName: str,
    briefcaseId: int,
    ownerId: str,
    acquiredDateTime: time,
    fileSize: int,
    deviceName: nullable(str),
    application,
    _links: object({ owner: nullable(link), checkpoint: link }),
  }),
);
export const LOCK = named(
  "Lock",
  object({
    briefcaseId: int,
    lockedObjects: array(object({ lockLevel: enumOf("none", "shared", "exclusive"), objectIds: array(str) })),
  }),
);
export const NAMED_VERSION = named(
  "NamedVersion",
  object({
    id: str,
    displayName: str,
    changesetId: nullable(str),
    changesetIndex: int,
    name: str,
    description: nullable(str),
    createdDateTime: time,
    state: enumOf("visible", "hidden"),
    application,
    _links: object({ creator: nullable(link), changeset: nullable(link) }),
  }),
);
export const CHECKPOINT = named(
  "Checkpoint",
  object(
    {
      changesetId: str,
      changesetIndex: int,
      state: enumOf("successful", "scheduled", "failed", "notGenerated"),
      failureReason: str,
      dbName: nullable(str),
      size: int,
      directoryAccessInfo: { type: "null" },
      _links: object({ download: nullable(storageLink) }),
    },
    ["failureReason"],
  ),
);
export const USER = named(
  "User",
  object(
    {
      id: str,
      displayName: str,
      givenName: str,
      surname: str,
      email: str,
      statistics: { type: "object" },
      _links: object({ self: link }),
    },
    ["givenName", "surname", "email", "statistics"],
  ),
);
export const ITWIN = named(
  "ITwin",
  object(
    {
      id: str,
      class: str,
      subClass: str,
      type: nullable(str),
      number: str,
      displayName: str,
      status: str,
      dataCenterLocation: str,
      createdDateTime: time,
      createdBy: str,
    },
    ["status", "dataCenterLocation", "createdDateTime", "createdBy"],
  ),
);
export const ROLE = named(
  "Role",
  object({ id: str, displayName: str, description: nullable(str), permissions: array(str) }),
);
export const MEMBER = named(
  "Member",
  object({
    id: str,
    addedDateTime: time,
    roles: array(object({ id: str, displayName: str, description: nullable(str) })),
  }),
);
export const AUDIT_ENTRY = named(
  "AuditEntry",
  object({
    seq: int,
    at: time,
    userId: nullable(str),
    action: str,
    method: str,
    path: str,
    iTwinId: nullable(str),
    iModelId: nullable(str),
    target: nullable(str),
    address: nullable(str),
    status: int,
    outcome: enumOf("success", "refused", "failed"),
    requestId: nullable(str),
    details: nullable({ type: "object" }),
  }),
);
/** An iTwin's gate (routes/gates.ts): `secret` only in the answer to a create that generated it. */
export const GATE = named(
  "Gate",
  object(
    {
      id: str,
      iTwinId: str,
      name: str,
      url: str,
      timeoutMs: int,
      failure: enumOf("closed", "open"),
      signed: { type: "boolean", description: "Whether the hub's calls carry a Signature header" },
      createdDateTime: time,
      createdBy: str,
      secret: { type: "string", description: "The generated secret, shown once (create only)" },
    },
    ["secret"],
  ),
);
export const PERMISSION_LIST = object({ permissions: array(str) });
/** A webhook (the Webhooks API v2's shape; `secret` only in the answer to its creation). */
export const WEBHOOK = named(
  "Webhook",
  object(
    {
      id: str,
      scope: enumOf("iTwin", "Account"),
      scopeId: str,
      callbackUrl: str,
      eventTypes: array(str),
      expirationDateTime: time,
      active: { type: "boolean" },
      createdBy: str,
      createdDateTime: time,
      secret: str,
    },
    ["scopeId", "secret"],
  ),
);
/** One entry of a webhook's delivery log (a modelhub extension). */
export const WEBHOOK_DELIVERY = named(
  "WebhookDelivery",
  object({
    id: str,
    eventType: str,
    status: enumOf("pending", "delivered", "failed"),
    attempts: int,
    enqueuedDateTime: time,
    nextAttemptDateTime: nullable(time),
    lastAttemptDateTime: nullable(time),
    lastStatus: nullable(int),
    lastAnswer: nullable(str),
    durationMs: nullable(int),
    envelope: { type: "object" },
  }),
);

/** `{ [key]: entity }`: the API's single-entity answer. */
export const one = (key: string, entity: JsonSchema): JsonSchema => object({ [key]: entity });
/** `{ [key]: entity[], _links }`: a page. */
export const page = (key: string, entity: JsonSchema): JsonSchema =>
  object({ [key]: array(entity), _links: pagingLinks });

/** Query parameters (all optional unless `required`), each a string as it arrives. */
export function query(parameters: Record<string, string | JsonSchema>, required: readonly string[] = []): JsonSchema {
  const properties = Object.fromEntries(
    Object.entries(parameters).map(([name, p]) => [
      name,
      typeof p === "string" ? { type: "string", description: p } : p,
    ]),
  );
  return { type: "object", properties, ...(required.length > 0 ? { required: [...required] } : {}) };
}
/** The iModels API's paging: `$top` (1–1000, default 100) and `$skip`. */
export const PAGING = {
  $top: { type: "integer", minimum: 1, maximum: 1000, description: "Page size (default 100)" },
  $skip: { type: "integer", minimum: 0, description: "Entries to skip" },
};
export const ORDER_BY = (...keys: string[]) => ({
  type: "string",
  description: `\`<key> asc|desc\`; keys: ${keys.join(", ")}`,
});
/** `Prefer: return=minimal` (default) or `return=representation`: how much of each entity a list answers. */
export const PREFER_PROPERTY = {
  prefer: {
    type: "string",
    enum: ["return=minimal", "return=representation"],
    description: "How much of each entity a list answers",
  },
};
export const PREFER = query(PREFER_PROPERTY);
