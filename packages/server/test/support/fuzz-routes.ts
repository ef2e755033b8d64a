// The fuzzer's knowledge of the hub's HTTP surface: every route, the ids that name real objects, and fast-check
// arbitraries for requests (paths, query strings, headers, bodies, storage link tampering). See fuzz.test.ts.
import fc from "fast-check";
import Fastify from "fastify";
import type { FastifyInstance } from "fastify";

export type Area = "api" | "storage" | "health" | "web";

/** One route of the hub as the fuzzer knows it. `body` builds a valid-ish JSON body from the seeded ids. */
export interface RouteSpec {
  method: string;
  /** fastify's pattern, e.g. `/imodels/:id/locks`. */
  url: string;
  area: Area;
  /** Query parameters the route reads (junk is added to these). */
  query?: readonly string[];
  body?: (pools: FuzzPools) => fc.Arbitrary<unknown>;
}

/** Ids of the objects the seed made, so requests can hit real data. Everything is a string as it goes in a URL. */
export interface FuzzPools {
  iModelIds: string[];
  /** The only iModel a DELETE may name (so the seeded one survives and later requests still hit real data). */
  deletableIModelIds: string[];
  briefcaseIds: string[];
  deletableBriefcaseIds: string[];
  /** Changeset ids and indexes. */
  changesetIds: string[];
  versionIds: string[];
  groupIds: string[];
  userIds: string[];
  iTwinIds: string[];
  objectIds: string[];
  /** Real signed storage links (path and query of the absolute href). */
  storageLinks: { path: string; query: string; permission: "r" | "w" }[];
}

const PAGE = ["$top", "$skip", "$continuationToken"] as const;

export const ROUTES: readonly RouteSpec[] = [
  // Probes: liveness, readiness, Prometheus metrics.
  { method: "GET", url: "/health", area: "health" },
  { method: "GET", url: "/ready", area: "health" },
  { method: "GET", url: "/metrics", area: "health" },
  // The web UI: its page, its built files, its sign-in configuration.
  { method: "GET", url: "/", area: "web" },
  { method: "GET", url: "/assets/*", area: "web" },
  { method: "GET", url: "/ui/config", area: "web" },
  // The API reference: the OpenAPI document and its page.
  { method: "GET", url: "/openapi.json", area: "web" },
  { method: "GET", url: "/docs", area: "web" },
  { method: "PUT", url: "/storage/modelhub/*", area: "storage" },
  { method: "GET", url: "/storage/modelhub/*", area: "storage" },
  { method: "HEAD", url: "/storage/modelhub/*", area: "storage" },
  ...["/imodels", "/imodels/"].flatMap((url): RouteSpec[] => [
    {
      method: "POST",
      url,
      area: "api",
      body: (p) =>
        fc.record(
          {
            iTwinId: fc.constantFrom(...p.iTwinIds),
            name: fc.constantFrom("fuzz-a", "fuzz-b", "fuzz-c"),
            description: fc.constantFrom("d", null),
            extent: fc.constant({ southWest: { latitude: 1, longitude: 2 }, northEast: { latitude: 3, longitude: 4 } }),
            baselineFile: fc.record({ size: fc.constantFrom(1, 1024) }),
            creationMode: fc.constantFrom("empty", "fromBaseline"),
          },
          { requiredKeys: ["iTwinId", "name"] },
        ),
    },
    {
      method: "GET",
      url,
      area: "api",
      query: ["iTwinId", "name", "$search", "state", "$orderBy", "$includeFailed", ...PAGE],
    },
  ]),
  { method: "GET", url: "/imodels/:id", area: "api" },
  {
    method: "PATCH",
    url: "/imodels/:id",
    area: "api",
    body: () =>
      fc.record(
        { name: fc.constantFrom("renamed", ""), description: fc.constantFrom("x", null) },
        { requiredKeys: [] },
      ),
  },
  { method: "DELETE", url: "/imodels/:id", area: "api" },
  { method: "POST", url: "/imodels/:id/baselinefile", area: "api", body: () => fc.constant({}) },
  { method: "GET", url: "/imodels/:id/baselinefile", area: "api" },
  {
    method: "POST",
    url: "/imodels/:id/briefcases",
    area: "api",
    body: () => fc.record({ deviceName: fc.constantFrom("dev", null) }, { requiredKeys: [] }),
  },
  { method: "GET", url: "/imodels/:id/briefcases", area: "api", query: ["ownerId", "$orderBy", ...PAGE] },
  { method: "GET", url: "/imodels/:id/briefcases/checkpoint", area: "api" },
  { method: "GET", url: "/imodels/:id/briefcases/:briefcaseId", area: "api" },
  { method: "DELETE", url: "/imodels/:id/briefcases/:briefcaseId", area: "api" },
  { method: "GET", url: "/imodels/:id/operations/create", area: "api" },
  // The change feed: the fuzzer never asks for text/event-stream, so it gets 400 instead of a stream that never ends.
  { method: "GET", url: "/imodels/:id/events", area: "api", query: ["lastEventId"] },
  ...(["clone", "fork"] as const).map((kind): RouteSpec => ({
    method: "POST",
    url: `/imodels/:id/${kind}`,
    area: "api",
    body: () =>
      fc.record(
        {
          iTwinId: fc.constantFrom("11111111-1111-4111-8111-111111111111", "not-a-guid"),
          name: fc.constantFrom(`fuzz ${kind}`, ""),
          changesetIndex: fc.constantFrom(0, 1, -1),
          changesetId: fc.constantFrom("", "0".repeat(40), "zz"),
          preserveHistory: fc.boolean(),
        },
        { requiredKeys: ["iTwinId"] },
      ),
  })),
  { method: "GET", url: "/imodels/:id/thumbnail", area: "api", query: ["size"] },
  // JSON bodies: never an image, so always refused (415); the image path is thumbnails.test.ts's.
  { method: "PUT", url: "/imodels/:id/thumbnail", area: "api", body: () => fc.constant({}) },
  { method: "GET", url: "/imodels/:id/permissions", area: "api" },
  {
    method: "POST",
    url: "/imodels/:id/changesets",
    area: "api",
    body: (p) =>
      fc.record(
        {
          id: fc.stringMatching(/^[0-9a-f]{40}$/),
          parentId: fc.constantFrom("", ...p.changesetIds.filter((c) => c.length === 40)),
          briefcaseId: fc.constantFrom(...p.briefcaseIds.map(Number)),
          description: fc.constantFrom("fuzz", null),
          containingChanges: fc.constantFrom(0, 1),
          fileSize: fc.constantFrom(1, 100),
          synchronizationInfo: fc.constant({ taskId: "t", changedFiles: ["a"] }),
          groupId: fc.constantFrom(...p.groupIds),
        },
        { requiredKeys: ["id", "briefcaseId", "fileSize"] },
      ),
  },
  // JSON bodies: never a changeset file, so always refused (422); pushes that land are one-request-push.test.ts's.
  { method: "POST", url: "/imodels/:id/changesets/push", area: "api", body: () => fc.constant({}) },
  {
    method: "GET",
    url: "/imodels/:id/changesets",
    area: "api",
    query: ["afterIndex", "lastIndex", "$orderBy", ...PAGE],
  },
  { method: "GET", url: "/imodels/:id/changesets/extendeddata", area: "api", query: PAGE },
  {
    method: "PATCH",
    url: "/imodels/:id/changesets/:changesetId",
    area: "api",
    body: (p) =>
      fc.record({
        state: fc.constantFrom("fileUploaded", "waitingForFile"),
        briefcaseId: fc.constantFrom(...p.briefcaseIds.map(Number)),
      }),
  },
  { method: "GET", url: "/imodels/:id/changesets/:changesetId", area: "api" },
  {
    method: "POST",
    url: "/imodels/:id/changesets/:changesetId/extendeddata",
    area: "api",
    body: () => fc.record({ data: fc.constantFrom(Buffer.from('{"a":1}').toString("base64"), "bm90IGpzb24=", "@@") }),
  },
  { method: "GET", url: "/imodels/:id/changesets/:changesetId/extendeddata", area: "api" },
  { method: "GET", url: "/imodels/:id/changesets/:changesetId/checkpoint", area: "api" },
  {
    method: "POST",
    url: "/imodels/:id/changesetgroups",
    area: "api",
    body: () => fc.record({ description: fc.constantFrom("g", null) }, { requiredKeys: [] }),
  },
  { method: "GET", url: "/imodels/:id/changesetgroups", area: "api", query: PAGE },
  {
    method: "PATCH",
    url: "/imodels/:id/changesetgroups/:groupId",
    area: "api",
    body: () => fc.record({ state: fc.constantFrom("inProgress", "completed", "timedOut", "forciblyClosed", "open") }),
  },
  { method: "GET", url: "/imodels/:id/changesetgroups/:groupId", area: "api" },
  { method: "GET", url: "/imodels/:id/checkpoints", area: "api" },
  {
    method: "PATCH",
    url: "/imodels/:id/locks",
    area: "api",
    body: (p) =>
      fc.record({
        briefcaseId: fc.constantFrom(...p.briefcaseIds.map(Number)),
        changesetId: fc.constantFrom("", null, ...p.changesetIds.filter((c) => c.length === 40)),
        lockedObjects: fc.array(
          fc.record({
            lockLevel: fc.constantFrom("none", "shared", "exclusive"),
            objectIds: fc.array(fc.constantFrom(...p.objectIds, "0x0", "0x1", "0xZZ", "1"), { maxLength: 4 }),
          }),
          { maxLength: 3 },
        ),
      }),
  },
  { method: "GET", url: "/imodels/:id/locks", area: "api", query: ["briefcaseId", "lockLevel", ...PAGE] },
  {
    method: "POST",
    url: "/imodels/:id/locks/release-chunk",
    area: "api",
    body: (p) =>
      fc.record({
        briefcaseId: fc.constantFrom(...p.briefcaseIds.map(Number)),
        changesetId: fc.constantFrom("", null, ...p.changesetIds.filter((c) => c.length === 40)),
      }),
  },
  {
    method: "POST",
    url: "/imodels/:id/namedversions",
    area: "api",
    body: (p) =>
      fc.record(
        {
          name: fc.constantFrom("v-fuzz", "v1", ""),
          description: fc.constantFrom("d", null),
          changesetId: fc.constantFrom("", null, ...p.changesetIds.filter((c) => c.length === 40)),
          changesetIndex: fc.constantFrom(0, 1, 2, 3, 99),
        },
        { requiredKeys: ["name"] },
      ),
  },
  {
    method: "GET",
    url: "/imodels/:id/namedversions",
    area: "api",
    query: ["name", "$search", "state", "$orderBy", ...PAGE],
  },
  { method: "GET", url: "/imodels/:id/namedversions/:versionId", area: "api" },
  {
    method: "PATCH",
    url: "/imodels/:id/namedversions/:versionId",
    area: "api",
    body: () =>
      fc.record(
        {
          name: fc.constantFrom("v-renamed", ""),
          description: fc.constantFrom("x", null),
          state: fc.constantFrom("visible", "hidden", "gone"),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "GET", url: "/imodels/:id/namedversions/:versionId/checkpoint", area: "api" },
  { method: "PUT", url: "/imodels/:id/namedversions/:versionId/checkpoint", area: "api", body: () => fc.constant({}) },
  // Element-level changes (issue 20, a modelhub extension): one changeset's, and the net effect between two points.
  {
    method: "GET",
    url: "/imodels/:id/changesets/:changesetId/changes",
    area: "api",
    query: ["op", "modelId", "classFullName", ...PAGE],
  },
  {
    method: "GET",
    url: "/imodels/:id/changes",
    area: "api",
    query: ["from", "to", "op", "modelId", "classFullName", ...PAGE],
  },
  { method: "GET", url: "/imodels/:id/users", area: "api", query: ["$orderBy", ...PAGE] },
  { method: "GET", url: "/imodels/:id/users/:userId", area: "api" },
  // iModel-level grants and the iTwins' access control (roles, members).
  ...["roles/:roleId", "users/:userId"].flatMap((tail): RouteSpec[] => [
    {
      method: "PATCH",
      url: `/imodels/:id/permissions/${tail}`,
      area: "api",
      body: () =>
        fc.record(
          {
            permissions: fc.constantFrom(
              [],
              ["imodels_read"],
              ["imodels_webview", "imodels_write"],
              ["imodels-delete"],
              ["fly"],
            ),
          },
          { requiredKeys: [] },
        ),
    },
    { method: "DELETE", url: `/imodels/:id/permissions/${tail}`, area: "api" },
  ]),
  { method: "GET", url: "/imodels/:id/permissions/roles", area: "api" },
  { method: "GET", url: "/imodels/:id/permissions/users", area: "api" },
  // The same grants at the iModels API's own paths.
  { method: "GET", url: "/imodels/:id/rolepermissions", area: "api" },
  { method: "GET", url: "/imodels/:id/userpermissions", area: "api" },
  {
    method: "PATCH",
    url: "/imodels/:id/rolepermissions",
    area: "api",
    body: () =>
      fc.record(
        { roleId: fc.constantFrom("no-such-role", ""), permissions: fc.constantFrom([], ["imodels_read"], ["fly"]) },
        { requiredKeys: [] },
      ),
  },
  {
    method: "PATCH",
    url: "/imodels/:id/userpermissions",
    area: "api",
    body: (p) =>
      fc.record(
        {
          userId: fc.constantFrom(p.userIds[0] ?? "alice", ""),
          permissions: fc.constantFrom([], ["imodels_read"], ["imodels-delete"]),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "DELETE", url: "/imodels/:id/rolepermissions/:roleId", area: "api" },
  { method: "DELETE", url: "/imodels/:id/userpermissions/:userId", area: "api" },
  { method: "GET", url: "/accesscontrol/itwins/:iTwinId/permissions", area: "api" },
  { method: "GET", url: "/accesscontrol/itwins/:iTwinId/roles", area: "api" },
  { method: "GET", url: "/accesscontrol/itwins/:iTwinId/roles/:roleId", area: "api" },
  {
    method: "POST",
    url: "/accesscontrol/itwins/:iTwinId/roles",
    area: "api",
    body: () =>
      fc.record(
        {
          displayName: fc.constantFrom("Readers", "", "x".repeat(300)),
          description: fc.constantFrom("d", null),
          permissions: fc.constantFrom(["imodels_read"], ["nope"], []),
        },
        { requiredKeys: [] },
      ),
  },
  {
    method: "PATCH",
    url: "/accesscontrol/itwins/:iTwinId/roles/:roleId",
    area: "api",
    body: () =>
      fc.record(
        { displayName: fc.constantFrom("Renamed", ""), permissions: fc.constantFrom(["imodels_manage"], ["nope"]) },
        { requiredKeys: [] },
      ),
  },
  { method: "DELETE", url: "/accesscontrol/itwins/:iTwinId/roles/:roleId", area: "api" },
  { method: "GET", url: "/accesscontrol/itwins/:iTwinId/members/users", area: "api" },
  { method: "GET", url: "/accesscontrol/itwins/:iTwinId/members/users/:userId", area: "api" },
  {
    method: "POST",
    url: "/accesscontrol/itwins/:iTwinId/members/users",
    area: "api",
    body: (p) =>
      fc.record(
        {
          members: fc.constantFrom(
            [],
            [{ userId: p.userIds[0] ?? "alice", roleIds: ["no-such-role"] }],
            [{ userId: "", roleIds: [] }],
          ),
        },
        { requiredKeys: [] },
      ),
  },
  {
    method: "PATCH",
    url: "/accesscontrol/itwins/:iTwinId/members/users/:userId",
    area: "api",
    body: () => fc.record({ roleIds: fc.constantFrom([], ["no-such-role"]) }, { requiredKeys: [] }),
  },
  { method: "DELETE", url: "/accesscontrol/itwins/:iTwinId/members/users/:userId", area: "api" },
  // The Access Control API v1's member paths.
  { method: "GET", url: "/accesscontrol/itwins/:iTwinId/members", area: "api" },
  { method: "GET", url: "/accesscontrol/itwins/:iTwinId/members/:userId", area: "api" },
  {
    method: "POST",
    url: "/accesscontrol/itwins/:iTwinId/members",
    area: "api",
    body: (p) =>
      fc.record(
        {
          members: fc.constantFrom([], [{ email: p.userIds[0] ?? "alice", roleId: "no-such-role" }], [{ roleIds: [] }]),
        },
        { requiredKeys: [] },
      ),
  },
  {
    method: "PATCH",
    url: "/accesscontrol/itwins/:iTwinId/members/:userId",
    area: "api",
    body: () => fc.record({ roleIds: fc.constantFrom([], ["no-such-role"]) }, { requiredKeys: [] }),
  },
  { method: "DELETE", url: "/accesscontrol/itwins/:iTwinId/members/:userId", area: "api" },
  // iTwins.
  {
    method: "GET",
    url: "/itwins",
    area: "api",
    query: ["subClass", "status", "includeInactive", "type", "displayName", "number", "$search", ...PAGE],
  },
  // Registered as the "/" of the /itwins scope: fastify answers both with and without the slash.
  { method: "GET", url: "/itwins/", area: "api", query: ["$search", "$top"] },
  {
    method: "POST",
    url: "/itwins",
    area: "api",
    body: () =>
      fc.record(
        {
          displayName: fc.constantFrom("Fuzzed", "", "x".repeat(300), "5e19bee0-3aea-4355-a9f0-c6df9989ee7d"),
          subClass: fc.constantFrom("Project", "Asset", "Nope"),
          number: fc.constantFrom("N-1", ""),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "POST", url: "/itwins/", area: "api", body: () => fc.constant({ displayName: "Slash" }) },
  { method: "GET", url: "/itwins/:iTwinId", area: "api" },
  {
    method: "PATCH",
    url: "/itwins/:iTwinId",
    area: "api",
    body: () =>
      fc.record(
        {
          displayName: fc.constantFrom("Renamed", ""),
          status: fc.constantFrom("Inactive", "Gone"),
          ianaTimeZone: fc.constantFrom("Europe/Vilnius", "Mars/Base"),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "DELETE", url: "/itwins/:iTwinId", area: "api" },
  // An iTwin's gates (routes/gates.ts, issue 21): the URLs are loopback or refused ones, never called by the fuzzer.
  { method: "GET", url: "/itwins/:iTwinId/gates", area: "api" },
  {
    method: "POST",
    url: "/itwins/:iTwinId/gates",
    area: "api",
    body: () =>
      fc.record(
        {
          url: fc.constantFrom("http://127.0.0.1:9/gate", "http://10.0.0.1/", "file:///etc/passwd", ""),
          name: fc.constantFrom("fuzz", ""),
          timeoutMs: fc.constantFrom(100, 5, 1e9),
          failure: fc.constantFrom("closed", "open", "maybe"),
          secret: fc.constantFrom(null, "short", "s".repeat(40)),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "GET", url: "/itwins/:iTwinId/gates/:gateId", area: "api" },
  {
    method: "PATCH",
    url: "/itwins/:iTwinId/gates/:gateId",
    area: "api",
    body: () =>
      fc.record(
        {
          failure: fc.constantFrom("open", "never"),
          url: fc.constantFrom("http://169.254.169.254/", "http://[::1]:9/"),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "DELETE", url: "/itwins/:iTwinId/gates/:gateId", area: "api" },
  // Bentley's Changed Elements API v2 (comparison jobs from the change summaries); the result is a signed link.
  {
    method: "POST",
    url: "/changedelements/comparisonJob",
    area: "api",
    body: (p) =>
      fc.record(
        {
          iTwinId: fc.constantFrom(p.iTwinIds[0] ?? "t", ""),
          iModelId: fc.constantFrom(p.iModelIds[0] ?? "m", "", 7),
          startChangesetId: fc.constantFrom("zz", ...p.changesetIds),
          endChangesetId: fc.constantFrom("", ...p.changesetIds),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "GET", url: "/changedelements/comparisonJob/:jobId/iTwin/:iTwinId/iModel/:id", area: "api" },
  { method: "DELETE", url: "/changedelements/comparisonJob/:jobId/iTwin/:iTwinId/iModel/:id", area: "api" },
  { method: "GET", url: "/changedelements/comparisonJob/:jobId/iTwin/:iTwinId/iModel/:id/result", area: "api" },
  // Webhooks (issue 21): never active (an active one queues deliveries whose retries write in the background, which
  // the data watch would take for a rejected request's write); deliveries are tested in the webhooks tests.
  ...(["/webhooks", "/webhooks/"] as const).map((url): RouteSpec => ({
    method: "POST",
    url,
    area: "api",
    body: (p) =>
      fc.record(
        {
          callbackUrl: fc.constantFrom("https://hooks.invalid/in", "http://10.0.0.1/", "not a url", ""),
          scope: fc.constantFrom("iTwin", "Account", "Nope"),
          scopeId: fc.constantFrom(p.iTwinIds[0] ?? "t", "", "no-such-itwin"),
          eventTypes: fc.constantFrom(["iModels.changesetPushed.v1"], [], ["nope"]),
          secret: fc.constantFrom("s".repeat(32), "short"),
          expirationDateTime: fc.constantFrom("2001-01-01T00:00:00Z", "soon"),
          active: fc.constantFrom(false, "yes"),
        },
        { requiredKeys: ["active"] },
      ),
  })),
  { method: "GET", url: "/webhooks", area: "api", query: [...PAGE] },
  { method: "GET", url: "/webhooks/", area: "api", query: [...PAGE] },
  { method: "GET", url: "/webhooks/:webhookId", area: "api" },
  {
    method: "PATCH",
    url: "/webhooks/:webhookId",
    area: "api",
    body: () =>
      fc.record(
        { active: fc.constantFrom(false, 1), secret: fc.constantFrom("short", "s".repeat(40)) },
        { requiredKeys: [] },
      ),
  },
  { method: "DELETE", url: "/webhooks/:webhookId", area: "api" },
  { method: "GET", url: "/webhooks/:webhookId/deliveries", area: "api", query: [...PAGE] },
  { method: "POST", url: "/webhooks/:webhookId/deliveries/:deliveryId/redeliver", area: "api" },
  // Blob containers (iTwin.js's BlobContainer service): on the fuzzer's hub (local files) refused with 409.
  {
    method: "POST",
    url: "/blobcontainers/",
    area: "api",
    body: (p) =>
      fc.record(
        {
          scope: fc.constantFrom(
            { iTwinId: p.iTwinIds[0] ?? "t" },
            { iTwinId: p.iTwinIds[0] ?? "t", iModelId: p.iModelIds[0] ?? "m" },
            {},
          ),
          metadata: fc.constantFrom({ containerType: "workspace", label: "fuzz" }, { label: 1 }),
          containerId: fc.constantFrom("fuzz-container", "Bad_Id"),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "GET", url: "/blobcontainers/", area: "api", query: ["iTwinId", "iModelId", "containerType", "label"] },
  // The scope's "/" route answers without the slash too.
  { method: "GET", url: "/blobcontainers", area: "api", query: ["iTwinId", "label"] },
  {
    method: "POST",
    url: "/blobcontainers",
    area: "api",
    body: (p) =>
      fc.constant({
        scope: { iTwinId: p.iTwinIds[0] ?? "t" },
        metadata: { containerType: "workspace", label: "no slash" },
      }),
  },
  { method: "GET", url: "/blobcontainers/:containerId", area: "api" },
  {
    method: "PATCH",
    url: "/blobcontainers/:containerId",
    area: "api",
    body: () => fc.record({ json: fc.constantFrom({ a: 1 }, null, "x") }, { requiredKeys: [] }),
  },
  { method: "DELETE", url: "/blobcontainers/:containerId", area: "api" },
  {
    method: "POST",
    url: "/blobcontainers/:containerId/token",
    area: "api",
    body: () =>
      fc.record(
        {
          accessLevel: fc.constantFrom("read", "write", "admin", "writeIfPossible", "root"),
          durationSeconds: fc.constantFrom(1, 3600, -5, 1e12),
        },
        { requiredKeys: [] },
      ),
  },
  {
    method: "GET",
    url: "/imodels/:id/auditlog",
    area: "api",
    query: ["userId", "action", "since", "until", "$orderBy", "$top", "$continuationToken"],
  },
  {
    method: "GET",
    url: "/auditlog",
    area: "api",
    query: ["iTwinId", "userId", "action", "since", "until", "$orderBy", "$top", "$continuationToken"],
  },
  // Registered as the "/" of the /auditlog scope: fastify answers both with and without the slash.
  { method: "GET", url: "/auditlog/", area: "api", query: ["iTwinId", "$top"] },
  // Any changeset's checkpoint on request (routes/checkpoint-requests.ts).
  { method: "PUT", url: "/imodels/:id/changesets/:changesetId/checkpoint", area: "api", body: () => fc.constant({}) },
  // Labels of locked elements (routes/element-labels.ts).
  { method: "GET", url: "/imodels/:id/elementlabels", area: "api", query: ["ids"] },
  // Who the caller is (routes/me.ts): the "/" of the /me scope, with and without the slash.
  { method: "GET", url: "/me", area: "api" },
  { method: "GET", url: "/me/", area: "api" },
  // The hub's administration (routes/admin.ts).
  { method: "GET", url: "/admin/about", area: "api" },
  { method: "GET", url: "/admin/tokens", area: "api", query: ["userId"] },
  {
    method: "POST",
    url: "/admin/tokens",
    area: "api",
    body: () =>
      fc.record(
        {
          userId: fc.constantFrom("carol", "", " "),
          description: fc.constantFrom("laptop", "x".repeat(1200)),
          expires: fc.constantFrom("30d", "never", "0d", "soon"),
        },
        { requiredKeys: [] },
      ),
  },
  { method: "DELETE", url: "/admin/tokens/:tokenId", area: "api" },
  { method: "GET", url: "/admin/storage", area: "api" },
  { method: "GET", url: "/admin/jobs", area: "api" },
];

/** The fuzzer's routes as fastify would register them (HEAD is added for each GET, as fastify does by default). */
function mirrorApp(): FastifyInstance {
  const app = Fastify();
  const handler = async () => "";
  const storage = ROUTES.filter((r) => r.area === "storage");
  for (const route of ROUTES.filter((r) => r.area !== "storage"))
    app.route({ method: route.method as "GET", url: route.url, handler });
  // Storage declares HEAD itself, on the same route as GET (as storage-routes.ts does).
  const storageMethods = storage.map((r) => r.method);
  app.route({ method: storageMethods.filter((m) => m !== "PUT") as ["GET"], url: "/storage/modelhub/*", handler });
  if (storageMethods.includes("PUT")) app.route({ method: "PUT", url: "/storage/modelhub/*", handler });
  return app;
}

/** "METHOD path" for every route of an app, read from fastify's own route tree. */
export function routeSet(app: FastifyInstance): string[] {
  const text = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    for (const method of (m[3] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean))
      out.push(`${method} ${stack.join("")}`);
  }
  return out.sort();
}

/** Routes the hub has and the fuzzer does not know (and the reverse). */
export async function compareRoutes(
  hubApp: FastifyInstance,
): Promise<{ unknownToFuzzer: string[]; missingFromHub: string[] }> {
  const mirror = mirrorApp();
  await mirror.ready();
  const known = new Set(routeSet(mirror));
  await mirror.close();
  const actual = new Set(routeSet(hubApp));
  return {
    unknownToFuzzer: [...actual].filter((r) => !known.has(r)),
    missingFromHub: [...known].filter((r) => !actual.has(r)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

/** A request exactly as sent: `path` is the raw request target (already encoded, possibly badly). */
export interface FuzzRequest {
  /** The route the request was made for (its method may differ), e.g. `PATCH /imodels/:id/locks`. */
  route: string;
  /** What was done to a storage link. */
  note?: string;
  area: Area;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The body as text, or bytes as base64 (storage uploads). */
  body?: { text: string } | { base64: string };
  /** Sent with two `Host` lines (the hub's own address twice): RFC 9112 §3.2 says 400. */
  duplicateHost?: true;
}

const HUGE_LENGTHS = [99, 100, 101, 255, 256, 1000, 4000, 9000, 17_000] as const;

const junkText = fc.oneof(
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1.5",
    "0x10",
    "1e3",
    "null",
    "undefined",
    "true",
    "me",
    "*",
    "~",
    " ",
    "%20",
    "+",
    "99999999999999999999",
    "9007199254740993",
    "1e308",
    "-0",
    "NaN",
    "__proto__",
    "constructor",
    "toString",
    "index desc",
    "index asc",
    "name",
    "createdDateTime desc",
    "acquiredDateTime",
    "changesetIndex desc",
    "givenName",
    "index sideways",
    "shared",
    "exclusive",
    "none",
    "visible",
    "hidden",
    "initialized",
    "notInitialized",
    "small",
    "large",
    "<script>",
    "'; DROP TABLE imodels; --",
    "\u00e9t\u00e9",
    "\u{1F4A5}",
    "\u0000",
    "a\nb",
    "\uFEFF",
  ),
  fc.uuid().map(String),
  fc.stringMatching(/^[0-9a-f]{40}$/),
  fc.integer({ min: -5, max: 2 ** 31 }).map(String),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.constantFrom(...HUGE_LENGTHS).map((n) => "a".repeat(n)),
);

/** Already-encoded (or deliberately badly encoded) path segments and query values, sent verbatim. */
const rawJunk = fc.constantFrom(
  "%ff",
  "%",
  "%zz",
  "%e0%a4%a",
  "%c0%af",
  "%00",
  "%2e%2e",
  "..",
  ".",
  "..%2f..%2fsecret.key",
  "%2e%2e%2fsecret.key",
  "..%5c..%5csecret.key",
  "a%2fb",
  "%252e",
  "%u0041",
  "%F0%9F%92%A5",
  "%C3%A9",
  "%0d%0aX-Injected:%201",
);

/** A segment or value rendered into a request target: encoded as a client would, raw UTF-8 bytes, or raw junk. */
function render(value: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: value.map((v) => encodeURIComponent(v)) },
    { weight: 1, arbitrary: value.map(rawBytes) },
    { weight: 1, arbitrary: rawJunk },
  );
}

/** The UTF-8 bytes of `text` as a latin1 string (node writes request targets as latin1), spaces and controls escaped. */
function rawBytes(text: string): string {
  return Buffer.from(text, "utf8")
    .toString("latin1")
    .replace(/[^\u0021-\u007e\u0080-\u00ff]|#/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function paramValues(name: string, route: RouteSpec, p: FuzzPools): fc.Arbitrary<string> {
  const real: Record<string, string[]> = {
    id: route.method === "DELETE" && route.url === "/imodels/:id" ? p.deletableIModelIds : p.iModelIds,
    briefcaseId: route.method === "DELETE" ? p.deletableBriefcaseIds : p.briefcaseIds,
    changesetId: p.changesetIds,
    versionId: p.versionIds,
    groupId: p.groupIds,
    userId: p.userIds,
    iTwinId: p.iTwinIds,
  };
  const pool = real[name] ?? [];
  const realArb = pool.length > 0 ? fc.constantFrom(...pool) : junkText;
  return fc.oneof(
    { weight: 3, arbitrary: realArb.map(encodeURIComponent) },
    { weight: 2, arbitrary: render(junkText) },
  );
}

const GENERIC_QUERY = [
  "$top",
  "$skip",
  "$orderBy",
  "afterIndex",
  "lastIndex",
  "briefcaseId",
  "name",
  "$continuationToken",
  "size",
  "foo",
] as const;

function queryArb(names: readonly string[], p: FuzzPools): fc.Arbitrary<string> {
  const value = fc.oneof(
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          "1",
          "0",
          "2",
          "100",
          "1000",
          "1001",
          "me",
          "index desc",
          "name asc",
          ...p.iTwinIds,
          ...p.briefcaseIds,
        )
        .map(encodeURIComponent),
    },
    { weight: 3, arbitrary: render(junkText) },
  );
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...names, ...GENERIC_QUERY) },
    { weight: 1, arbitrary: render(junkText) },
  );
  const pairs = fc
    .array(fc.tuple(key, value, fc.boolean()), { maxLength: 4 })
    .map((list) => list.map(([k, v, bare]) => (bare && v === "" ? k : `${k}=${v}`)).join("&"));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant("") },
    { weight: 6, arbitrary: pairs.map((q) => (q ? `?${q}` : "")) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "?",
        "?&&",
        "?=",
        "?=1",
        "?$top",
        "?%ff=1",
        "?$top=1&$top=junk",
        "?a=1#frag",
        "?$top=%ff",
        "?" + "x=1&".repeat(2000),
      ),
    },
  );
}

const AUTH = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("Bearer alice", "Bearer bob") },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "",
      "Bearer",
      "Bearer ",
      "bearer alice",
      "Basic YWxpY2U6eA==",
      "alice",
      "Token  alice ",
      " Bearer  alice ",
      "Bearer a.b.c",
      "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.",
      "Bearer eyJ!!.%%.",
      "Bearer \u00ff\u00fe",
      "Bearer " + "x".repeat(8000),
      "Bearer " + "x".repeat(20_000),
    ),
  },
);

const CONTENT_TYPE = fc.constantFrom(
  "application/json",
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "application/vnd.bentley.itwin-platform.v2+json",
  "text/plain",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
  "",
  "application/json; charset=latin1",
  "application/jsonx",
  "*/*",
  "application/+json",
);

const RANGE = fc.constantFrom(
  "bytes=0-10",
  "bytes=-5",
  "bytes=5-",
  "bytes=10-5",
  "bytes=abc",
  "bytes=0-1,2-3",
  "bytes=99999999999999999999-",
  "bytes=0-99999999999999999999",
  "bytes=-0",
  "items=0-1",
  "bytes=",
  "bytes=1000000-",
);

function headersArb(area: Area, method: string): fc.Arbitrary<Record<string, string>> {
  // Each header is absent most of the time, so most requests look like a client's and get past the first checks.
  const optional = (arb: fc.Arbitrary<string>, absentWeight: number) =>
    fc.oneof(
      { weight: absentWeight, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: arb.map((v): string | undefined => v) },
    );
  const jsonBody = area === "api" && method !== "GET" && method !== "HEAD";
  return fc
    .record({
      authorization:
        area === "storage"
          ? optional(AUTH, 6)
          : fc.oneof(
              { weight: 4, arbitrary: AUTH.map((a): string | undefined => a) },
              { weight: 1, arbitrary: fc.constant(undefined) },
            ),
      accept: optional(
        fc.constantFrom(
          "application/vnd.bentley.itwin-platform.v2+json",
          "application/json",
          "*/*",
          "text/html",
          "application/xml",
        ),
        2,
      ),
      prefer: optional(
        fc.constantFrom("return=minimal", "return=representation", "return=junk", "", "respond-async"),
        2,
      ),
      "content-type": jsonBody ? CONTENT_TYPE.map((c): string | undefined => c) : optional(CONTENT_TYPE, 4),
      "if-match": optional(fc.constantFrom("*", '"nope"', "", 'W/"x"'), 8),
      range: optional(RANGE, 4),
      "x-ms-range": optional(RANGE, 4),
      "x-ms-blob-type": optional(fc.constantFrom("BlockBlob", "PageBlob", "AppendBlob", "", "blockblob"), 3),
      "x-ms-version": optional(fc.constantFrom("2024-08-04", "1900-01-01", "junk"), 6),
      "x-forwarded-host": optional(fc.constantFrom("evil.example", "a b", ""), 10),
    })
    .map((h) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(h)) if (value !== undefined) headers[name] = value;
      return headers;
    });
}

/** Values for mutated JSON fields: wrong types, huge numbers, deep nesting. */
const junkJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    2 ** 53 + 1,
    -(2 ** 63),
    16777206,
    2,
    "",
    "x".repeat(300),
    "\u0000",
    "\u{1F4A5}",
    [],
    {},
    [null],
    { a: 1 },
  ),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom(50, 500).map((depth) => nest(depth)),
  fc.constantFrom(1000, 20_000).map((n) => Array.from({ length: n }, (_, i) => `0x${(i + 1).toString(16)}`)),
);

function nest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** Invalid or odd JSON text. */
const junkBodyText = fc.constantFrom(
  "",
  " ",
  "{",
  "}",
  "null",
  "[]",
  "1",
  '"text"',
  '{"a":',
  "{'a':1}",
  '{"a":1,}',
  "\uFEFF{}",
  "{} {}",
  "NaN",
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"a":1,"a":2}',
  "[".repeat(100_000),
  "[".repeat(3000) + "]".repeat(3000),
  '{"a":'.repeat(20_000) + "1" + "}".repeat(20_000),
  '{"x":"' + "y".repeat(100_000) + '"}',
  "\u0000",
  "<xml/>",
);

type Mutation =
  | { kind: "none" }
  | { kind: "drop"; key: number }
  | { kind: "set"; key: number | string; value: unknown }
  | { kind: "replace"; text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Mutation>({ kind: "none" }) },
  { weight: 2, arbitrary: fc.nat().map<Mutation>((key) => ({ kind: "drop", key })) },
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.nat(),
          fc.constantFrom("__proto__", "constructor", "extra", "id", "state", "briefcaseId", "changesetId"),
        ),
        junkJson,
      )
      .map<Mutation>(([key, value]) => ({ kind: "set", key, value })),
  },
  { weight: 2, arbitrary: junkBodyText.map<Mutation>((text) => ({ kind: "replace", text })) },
);

function applyMutation(body: unknown, m: Mutation): string {
  if (m.kind === "replace") return m.text;
  const obj: Record<string, unknown> =
    body !== null && typeof body === "object" && !Array.isArray(body) ? { ...(body as Record<string, unknown>) } : {};
  const keys = Object.keys(obj);
  if (m.kind === "drop" && keys.length > 0) delete obj[keys[m.key % keys.length]!];
  if (m.kind === "set") {
    const key = typeof m.key === "number" ? (keys.length > 0 ? keys[m.key % keys.length]! : "x") : m.key;
    Object.defineProperty(obj, key, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(obj);
}

function apiRequest(route: RouteSpec, p: FuzzPools): fc.Arbitrary<FuzzRequest> {
  const names = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const segments = fc.tuple(...names.map((n) => paramValues(n, route, p)));
  const method = fc.oneof(
    { weight: 8, arbitrary: fc.constant(route.method) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "FOO"),
    },
  );
  const validBody = route.body ? route.body(p) : fc.constant<unknown>({});
  return fc
    .record({
      values: segments,
      query: queryArb(route.query ?? [], p),
      method,
      body: validBody,
      mutation,
      trailingSlash: fc.constantFrom(false, false, false, false, true),
    })
    .chain((r) =>
      headersArb(route.area, r.method).map((headers): FuzzRequest => {
        let i = 0;
        const path = route.url.replace(/:(\w+)/g, () => r.values[i++]!) + (r.trailingSlash ? "/" : "") + r.query;
        const request: FuzzRequest = {
          route: `${route.method} ${route.url}`,
          area: route.area,
          method: r.method,
          path,
          headers,
        };
        if (r.method !== "GET" && r.method !== "HEAD") request.body = { text: applyMutation(r.body, r.mutation) };
        return request;
      }),
    );
}

function healthRequest(route: RouteSpec, p: FuzzPools): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: fc.constantFrom("GET", "GET", "GET", "HEAD", "POST", "DELETE", "OPTIONS"),
      query: queryArb([], p),
      headers: headersArb("health", "GET"),
      slash: fc.boolean(),
    })
    .map((r) => ({
      route: `${route.method} ${route.url}`,
      area: "health" as const,
      method: r.method,
      path: `${route.url}${r.slash ? "/" : ""}${r.query}`,
      headers: r.headers,
    }));
}

/** The UI's paths, with asset names that exist, do not, or try to leave the assets folder. */
function webRequest(route: RouteSpec, p: FuzzPools): fc.Arbitrary<FuzzRequest> {
  const asset = fc.constantFrom(
    "missing.js",
    "index.html",
    "..%2f..%2fpackage.json",
    "../index.html",
    "a/b/c.css",
    "%00",
    ".hidden",
    "",
  );
  return fc
    .record({
      method: fc.constantFrom("GET", "GET", "GET", "HEAD", "POST", "DELETE", "OPTIONS"),
      query: queryArb([], p),
      headers: headersArb("health", "GET"),
      asset,
    })
    .map((r) => {
      const path = route.url === "/assets/*" ? `/assets/${r.asset}` : route.url;
      return {
        route: `${route.method} ${route.url}`,
        area: "web" as const,
        method: r.method,
        path: `${path}${r.query}`,
        headers: r.headers,
      };
    });
}

type Tamper = (link: { path: string; params: [string, string][] }) => void;

const setParam = (params: [string, string][], key: string, value: string | undefined) => {
  const i = params.findIndex(([k]) => k === key);
  if (value === undefined) {
    if (i >= 0) params.splice(i, 1);
  } else if (i >= 0) params[i] = [key, value];
  else params.push([key, value]);
};
const getParam = (params: [string, string][], key: string) => params.find(([k]) => k === key)?.[1] ?? "";

const tamper: fc.Arbitrary<{ name: string; apply: Tamper }> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ name: "none", apply: () => undefined }) },
  {
    weight: 1,
    arbitrary: fc.nat().map((n) => ({
      name: `sig flip ${n}`,
      apply: (l: { params: [string, string][] }) => {
        const sig = getParam(l.params, "sig");
        const at = sig.length > 0 ? n % sig.length : 0;
        setParam(l.params, "sig", sig.slice(0, at) + (sig[at] === "A" ? "B" : "A") + sig.slice(at + 1));
      },
    })),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom<{ name: string; apply: Tamper }>(
      { name: "sig truncated", apply: (l) => setParam(l.params, "sig", getParam(l.params, "sig").slice(0, -1)) },
      { name: "sig empty", apply: (l) => setParam(l.params, "sig", "") },
      { name: "sig removed", apply: (l) => setParam(l.params, "sig", undefined) },
      { name: "sig padded", apply: (l) => setParam(l.params, "sig", `${getParam(l.params, "sig")}=`) },
      { name: "sig bad percent", apply: (l) => setParam(l.params, "sig", "%ff") },
      { name: "sig duplicated", apply: (l) => l.params.unshift(["sig", "x".repeat(43)]) },
      { name: "se past", apply: (l) => setParam(l.params, "se", "1") },
      { name: "se huge", apply: (l) => setParam(l.params, "se", "99999999999999999999") },
      { name: "se junk", apply: (l) => setParam(l.params, "se", "abc") },
      { name: "se negative", apply: (l) => setParam(l.params, "se", "-1") },
      { name: "se removed", apply: (l) => setParam(l.params, "se", undefined) },
      { name: "sp swapped", apply: (l) => setParam(l.params, "sp", getParam(l.params, "sp") === "r" ? "w" : "r") },
      { name: "sp rw", apply: (l) => setParam(l.params, "sp", "rw") },
      { name: "sp empty", apply: (l) => setParam(l.params, "sp", "") },
      { name: "path suffix", apply: (l) => void (l.path += "x") },
      { name: "path extra segment", apply: (l) => void (l.path += "/extra") },
      { name: "path trailing slash", apply: (l) => void (l.path += "/") },
      { name: "path dotdot", apply: (l) => void (l.path = l.path.replace(/\/[^/]+$/, "/../../secret.key")) },
      {
        name: "path encoded dotdot",
        apply: (l) => void (l.path = l.path.replace(/\/[^/]+$/, "/%2e%2e/%2e%2e/secret.key")),
      },
      { name: "path encoded slash", apply: (l) => void (l.path = l.path.replace(/\/([^/]+)$/, "%2F$1")) },
      { name: "path bad percent", apply: (l) => void (l.path = l.path.replace(/\/([^/]+)$/, "/%ff$1")) },
      { name: "path uppercase", apply: (l) => void (l.path = l.path.toUpperCase()) },
      { name: "path encoded letter", apply: (l) => void (l.path = l.path.replace("/files/", "/%66iles/")) },
      { name: "path no files prefix", apply: (l) => void (l.path = l.path.replace("/files/", "/")) },
      { name: "path backslash", apply: (l) => void (l.path = l.path.replace(/\/([^/]+)$/, "/%5c$1")) },
      { name: "path nul", apply: (l) => void (l.path += "%00") },
      { name: "comp block", apply: (l) => l.params.push(["comp", "block"], ["blockid", "QUFB"]) },
      { name: "comp block no id", apply: (l) => l.params.push(["comp", "block"]) },
      { name: "comp block huge id", apply: (l) => l.params.push(["comp", "block"], ["blockid", "Q".repeat(2000)]) },
      { name: "comp blocklist", apply: (l) => l.params.push(["comp", "blocklist"]) },
      { name: "comp junk", apply: (l) => l.params.push(["comp", "metadata"]) },
    ),
  },
);

const BLOCK_LISTS = [
  '<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>QUFB</Latest></BlockList>',
  "<BlockList/>",
  "<BlockList><Latest></Latest></BlockList>",
  "<BlockList><Latest>a&bogus;</Latest></BlockList>",
  "<BlockList>",
  "not xml",
  "<BlockList><Uncommitted>x</Uncommitted><Committed>y</Committed></BlockList>",
];

function storageRequest(route: RouteSpec, p: FuzzPools): fc.Arbitrary<FuzzRequest> {
  const links =
    route.method === "PUT"
      ? p.storageLinks.filter((l) => l.permission === "w")
      : p.storageLinks.filter((l) => l.permission === "r");
  const link = fc.constantFrom(...(links.length > 0 ? links : p.storageLinks));
  const method = fc.oneof(
    { weight: 8, arbitrary: fc.constant(route.method) },
    { weight: 1, arbitrary: fc.constantFrom("GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS") },
  );
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b).toString("base64")),
    fc.constantFrom(...BLOCK_LISTS).map((x) => Buffer.from(x).toString("base64")),
  );
  return fc
    .record({
      link,
      tamper,
      method,
      bytes,
      headers: headersArb("storage", route.method),
      freeForm: fc.option(render(junkText), { freq: 10 }),
    })
    .map((r): FuzzRequest => {
      const url = { path: r.link.path, params: [...new URLSearchParams(r.link.query)] };
      r.tamper.apply(url);
      // Signature values are base64url: no encoding needed; tampered values are sent as they are.
      const query = url.params.map(([k, v]) => `${k}=${v}`).join("&");
      const path =
        r.freeForm !== null
          ? `/storage/modelhub/files/${r.freeForm}?${query}`
          : `${url.path}${query ? `?${query}` : ""}`;
      const request: FuzzRequest = {
        route: `${route.method} ${route.url}`,
        note: r.tamper.name,
        area: "storage",
        method: r.method,
        path,
        headers: r.headers,
      };
      if (r.method !== "GET" && r.method !== "HEAD") request.body = { base64: r.bytes };
      return request;
    });
}

/** How fast-check prints a request in a failure report: long runs of one character abbreviated. */
export function describeRequest(request: FuzzRequest): string {
  return JSON.stringify(request).replace(/(.)\1{39,}/g, (run, c: string) => `${c}…(${run.length} times)`);
}

/** Any request to any route of the hub; one in 50 with two `Host` lines. */
export function requestArb(p: FuzzPools): fc.Arbitrary<FuzzRequest> {
  const any = fc.oneof(
    ...ROUTES.map((route) => ({
      weight: route.area === "storage" ? 8 : route.area === "health" || route.area === "web" ? 1 : 2,
      arbitrary:
        route.area === "api"
          ? apiRequest(route, p)
          : route.area === "storage"
            ? storageRequest(route, p)
            : route.area === "web"
              ? webRequest(route, p)
              : healthRequest(route, p),
    })),
  );
  return (
    fc
      .tuple(any, fc.nat({ max: 49 }))
      // A new object each time: shrinking maps the same inner request again, and its printer is defined once per object.
      .map(([request, n]): FuzzRequest => (n === 0 ? { ...request, duplicateHost: true } : { ...request }))
      .map((request) =>
        Object.defineProperty(request, fc.toStringMethod, { value: () => describeRequest(request), enumerable: false }),
      )
  );
}
