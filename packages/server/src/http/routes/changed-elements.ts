import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import { READ, SIGNED_LINK, iModel, iModelInBody } from "../authz/rules.js";
import type { ChangeService, Comparison } from "../../domain/changes/change-service.js";
import type { NetChange } from "../../domain/changes/net-effect.js";
import { HubError, invalidValue, notFound } from "../../domain/errors.js";
import type { Hub } from "../../domain/hub.js";
import { originOf, sendError } from "../replies.js";
import type { UrlSigner } from "../storage/url-signer.js";

/**
 * Bentley's Changed Elements API v2 (comparison jobs), answered from the hub's change summaries (docs/changes.md,
 * docs/compatibility.md): `@itwin/changed-elements-react`'s `ComparisonJobClient` pointed at `<hub>/changedelements`
 * works unchanged. A job is stateless: its id is `{startChangesetId}-{endChangesetId}` (as the cloud's), creating it
 * stores nothing, and its state is that of the summaries of changesets start..end (both included, as the cloud's:
 * a named version's comparison starts at the changeset after it). `Completed` carries a signed link to the result,
 * since the client fetches it without an Authorization header.
 */
export interface ChangedElementsOptions {
  hub: Hub;
  signer: UrlSigner;
  linkTtlSeconds: number;
  publicUrl?: string;
}

const OPERATION = "Cannot get comparison job.";
const JOB_ID = /^([0-9a-f]{40})-([0-9a-f]{40})$/;
const CHANGESET_ID = /^[0-9a-f]{40}$/;
/** DbOpcode of @itwin/core-bentley. */
const OPCODE = { inserted: 18, deleted: 9, updated: 23, reinserted: 23 } as const;
/** TypeOfChange of @itwin/core-common: Property 1, Geometry 2, Placement 4. */
const PLACEMENT = new Set(["Origin", "Yaw", "Pitch", "Roll", "BBoxLow", "BBoxHigh", "Rotation"]);

interface Job {
  iTwinId: string;
  iModelId: string;
  startChangesetId: string;
  endChangesetId: string;
}

/** What the cloud answers for a job, from the comparison of the summaries of its range. */
function jobBody(job: Job, comparison: Comparison, resultHref: () => string, span: number) {
  const base = { jobId: `${job.startChangesetId}-${job.endChangesetId}`, ...job };
  if (comparison.state === "pending")
    return {
      comparisonJob: {
        status: "Started",
        ...base,
        currentProgress: span - comparison.pendingChangesets.length,
        maxProgress: span,
      },
    };
  if (comparison.state === "partial")
    return {
      comparisonJob: {
        // The cloud's and `ComparisonJobClient`'s name (its type guard refuses any other status).
        status: "Failed",
        ...base,
        errorDetails: comparison.failedChangesets
          .map((f) => `Changeset ${f.changesetIndex} could not be summarized: ${f.failureReason}`)
          .join(" "),
      },
    };
  return { comparisonJob: { status: "Completed", ...base, comparison: { href: resultHref() } } };
}

function typeOfChange(c: NetChange): number {
  if (c.op !== "updated" && c.op !== "reinserted") return 0;
  let type = 0;
  for (const p of c.properties ?? []) {
    if (p === "GeometryStream") type |= 2;
    else if (PLACEMENT.has(p)) type |= 4;
    else type |= 1;
  }
  return type;
}

/** The `ChangedElements` arrays of @itwin/core-common, one entry per element of the net effect. */
export function changedElementsOf(net: readonly NetChange[]) {
  const properties = net.map((c) => c.properties ?? []);
  return {
    changedElements: {
      elements: net.map((c) => c.id),
      classIds: net.map((c) => c.classId ?? "0"),
      opcodes: net.map((c) => OPCODE[c.op]),
      type: net.map(typeOfChange),
      modelIds: net.map((c) => c.modelId),
      properties,
      // Per property, its value's checksum at the start and at the end of the range (the widget drops a property whose
      // two are equal: changed and changed back). An element summarized before the hub recorded them has none: [].
      oldChecksums: net.map((c) => (c.properties && c.checksums ? c.checksums.old : [])),
      newChecksums: net.map((c) => (c.properties && c.checksums ? c.checksums.new : [])),
      parentIds: net.map((c) => c.parentId ?? "0"),
      parentClassIds: net.map((c) => (c.parentId ? (c.parentClassId ?? "0") : "0")),
    },
  };
}

function serviceOf(hub: Hub): ChangeService {
  if (!hub.changes) throw new HubError("NotFound", "Change summaries are not enabled on this hub.");
  return hub.changes;
}

/** Checks the job's iModel (in that iTwin) and changesets, and compares start-1..end from the summaries. */
async function compareJob(hub: Hub, job: Job, elements: boolean): Promise<{ comparison: Comparison; span: number }> {
  const found = await hub.iModels.get(job.iModelId);
  if (found.iTwinId !== job.iTwinId) throw notFound.iModel();
  const start = await hub.changesets.get(job.iModelId, { id: job.startChangesetId });
  const end = await hub.changesets.get(job.iModelId, { id: job.endChangesetId });
  if (start.state !== "fileUploaded" || end.state !== "fileUploaded") throw notFound.changeset();
  if (start.index > end.index)
    throw invalidValue(OPERATION, "startChangesetId", "The start changeset must not come after the end changeset.");
  const comparison = await serviceOf(hub).compare(
    job.iModelId,
    { index: start.index - 1 },
    { index: end.index },
    {},
    { limit: elements ? Number.MAX_SAFE_INTEGER : 0, offset: 0 },
  );
  return { comparison, span: end.index - start.index + 1 };
}

function jobOfPath(params: { jobId: string; iTwinId: string; id: string }): Job {
  const m = JOB_ID.exec(params.jobId.toLowerCase());
  if (!m) throw new HubError("NotFound", "Requested comparison job is not available.");
  return { iTwinId: params.iTwinId, iModelId: params.id, startChangesetId: m[1]!, endChangesetId: m[2]! };
}

function jobOfBody(body: unknown): Job {
  const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const text = (name: keyof Job) => {
    const value = b[name];
    if (typeof value !== "string" || value === "")
      throw new HubError("InvalidiModelsRequest", "Cannot create comparison job.", {
        details: [
          { code: "MissingRequiredProperty", message: `Required property '${name}' is missing.`, target: name },
        ],
      });
    return value;
  };
  const job = {
    iTwinId: text("iTwinId"),
    iModelId: text("iModelId"),
    startChangesetId: text("startChangesetId").toLowerCase(),
    endChangesetId: text("endChangesetId").toLowerCase(),
  };
  for (const name of ["startChangesetId", "endChangesetId"] as const)
    if (!CHANGESET_ID.test(job[name])) throw notFound.changeset();
  return job;
}

const resultKey = (job: Job) => `changedelements/${job.iModelId}/${job.startChangesetId}-${job.endChangesetId}`;

function resultLink(request: FastifyRequest, options: ChangedElementsOptions, job: Job): string {
  const path = `/changedelements/comparisonJob/${job.startChangesetId}-${job.endChangesetId}/iTwin/${encodeURIComponent(job.iTwinId)}/iModel/${encodeURIComponent(job.iModelId)}/result`;
  return `${originOf(request, options.publicUrl)}${path}?${options.signer.sign(resultKey(job), "r", options.linkTtlSeconds)}`;
}

type JobParams = { jobId: string; iTwinId: string; id: string };
const JOB_PATH = "/comparisonJob/:jobId/iTwin/:iTwinId/iModel/:id";

/** The job routes, in an authenticated scope at `/changedelements` (the cloud's base URL's path). */
export const changedElementsRoutes: FastifyPluginAsync<ChangedElementsOptions> = async (
  api: FastifyInstance,
  options: ChangedElementsOptions,
) => {
  const { hub } = options;
  api.post(
    "/comparisonJob",
    {
      config: {
        summary: "Changed Elements API v2: create a comparison job (answered from the change summaries)",
        authz: iModelInBody(READ),
        // Nothing is stored, but it is a POST: recorded like every write, under the job's id.
        audit: {
          action: "changedElements.job.create",
          target: (_p, body) => `${String(body.startChangesetId)}-${String(body.endChangesetId)}`,
        },
      },
    },
    async (request, reply) => {
      const job = jobOfBody(request.body);
      const { comparison, span } = await compareJob(hub, job, false);
      return reply.code(202).send(jobBody(job, comparison, () => resultLink(request, options, job), span));
    },
  );

  api.get<{ Params: JobParams }>(
    JOB_PATH,
    { config: { summary: "Changed Elements API v2: a comparison job's state", authz: iModel(READ) } },
    async (request) => {
      const job = jobOfPath(request.params);
      const { comparison, span } = await compareJob(hub, job, false);
      return jobBody(job, comparison, () => resultLink(request, options, job), span);
    },
  );

  api.delete<{ Params: JobParams }>(
    JOB_PATH,
    {
      config: {
        summary: "Changed Elements API v2: delete a comparison job (nothing is stored: checks it and answers 204)",
        authz: iModel(READ),
        audit: { action: "changedElements.job.delete", target: (p) => p.jobId },
      },
    },
    async (request, reply) => {
      await compareJob(hub, jobOfPath(request.params), false);
      return reply.code(204).send();
    },
  );
};

/** The result link, outside the authenticated scope: the signature is the authorization (the client sends none). */
export const changedElementsResultRoutes: FastifyPluginAsync<ChangedElementsOptions> = async (
  app: FastifyInstance,
  options: ChangedElementsOptions,
) => {
  // The API's error body (this scope is outside the API's, registered before the app's own handler is set).
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.get<{ Params: JobParams; Querystring: Record<string, string | undefined> }>(
    `${JOB_PATH}/result`,
    {
      config: {
        summary: "Changed Elements API v2: a completed comparison's ChangedElements (the signed link of the job)",
        authz: SIGNED_LINK,
      },
    },
    async (request) => {
      const job = jobOfPath(request.params);
      const verdict = options.signer.verify(resultKey(job), request.query, "r");
      if (!verdict.ok) throw new HubError("InsufficientPermissions", `The link is not valid: ${verdict.reason}`);
      const { comparison } = await compareJob(options.hub, job, true);
      if (comparison.state !== "ready") throw new HubError("NotFound", "Requested comparison job is not completed.");
      return changedElementsOf(comparison.elements);
    },
  );
};
