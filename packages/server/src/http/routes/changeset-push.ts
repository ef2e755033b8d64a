import type { FastifyPluginAsync } from "fastify";
// The file is read into memory before anything is stored: larger changesets take the API's three steps (create,
// upload to the link, complete), which stream.
import { CHANGESET_PROPERTIES_HEADER, MAX_ONE_REQUEST_PUSH_BYTES } from "@modelhub/protocol";
import { HubError, invalidValue } from "../../domain/errors.js";
import { WRITE, iModel } from "../authz/rules.js";
import { objectAt } from "../route-config.js";
import { CHANGESET, one } from "../schemas.js";
import { parseBody } from "../validation.js";
import type { ApiRouteContext } from "./context.js";
import { createBody, createInputOf, present } from "./changesets.js";

const OPERATION = "Cannot create Changeset.";

/**
 * `POST /imodels/{id}/changesets/push`: create, upload and complete of a push in one request (a modelhub extension;
 * @modelhub/backend-access uses it for files up to 8 MiB). The same rules and answers as the three steps: the
 * changeset's properties are the create body's, the answer is the completion's (201, or 200 when the push had been
 * created before by a create or an earlier try of this request), a repeated push of a complete changeset is
 * `ChangesetExists`. A plugin of its own so that raw bodies are accepted here only.
 */
export const changesetPushRoutes: FastifyPluginAsync<ApiRouteContext> = async (scope, { hub, uploads }) => {
  scope.addContentTypeParser(
    "application/octet-stream",
    { parseAs: "buffer", bodyLimit: MAX_ONE_REQUEST_PUSH_BYTES },
    (_request, body, done) => done(null, body),
  );

  const file = { schema: { type: "string", format: "binary" } };
  scope.post<{ Params: { id: string } }>(
    "/:id/changesets/push",
    {
      bodyLimit: MAX_ONE_REQUEST_PUSH_BYTES,
      // The body is held in memory until the push is answered: such requests take the storage uploads' slots
      // (--max-uploads, per user too) before it is read, so that many at once cannot fill the hub's memory.
      preParsing: async (request, reply, payload) => {
        const busy = uploads?.tryTake(reply, request.actor.userId);
        if (busy) {
          void reply.header("connection", "close");
          throw new HubError(
            "TooManyRequests",
            busy === "hub"
              ? `The hub is already receiving ${uploads!.limit} files (--max-uploads); retry in a second.`
              : `This user already sends ${uploads!.perUser} files at once (--max-uploads-per-user); retry in a second.`,
            { retryAfterSeconds: 1 },
          );
        }
        return payload;
      },
      schema: {
        headers: {
          type: "object",
          properties: {
            [CHANGESET_PROPERTIES_HEADER]: {
              type: "string",
              description: "The create body (id, parentId, briefcaseId, fileSize…) as base64url of its UTF-8 JSON",
            },
          },
        },
        body: { content: { "application/octet-stream": file } },
        response: {
          201: one("changeset", CHANGESET),
          200: { ...one("changeset", CHANGESET), description: "The push had been created before (a retried request)" },
        },
      },
      config: {
        summary: "Push a changeset in one request: its file, with its properties in x-modelhub-changeset (modelhub)",
        authz: iModel(WRITE),
        audit: { action: "changeset.push", target: (_p, _b, answer) => objectAt(answer, "changeset").id },
      },
    },
    async (request, reply) => {
      const bytes = request.body;
      if (!Buffer.isBuffer(bytes) || bytes.length === 0)
        throw invalidValue(
          OPERATION,
          "body",
          "The request body must be the changeset file (application/octet-stream).",
        );
      const body = parseBody(createBody, propertiesOf(request.headers[CHANGESET_PROPERTIES_HEADER]), OPERATION);
      const { record, created } = await hub.changesets.push(
        request.actor,
        request.params.id,
        createInputOf(body),
        bytes,
        request.presenter.gateLinks(),
        request.authz?.iModel,
      );
      return reply
        .code(created ? 201 : 200)
        .send({ changeset: await present(hub, request.presenter, record, "complete") });
    },
  );
};

function propertiesOf(header: string | string[] | undefined): unknown {
  if (typeof header !== "string" || header === "")
    throw invalidValue(
      OPERATION,
      CHANGESET_PROPERTIES_HEADER,
      `The changeset's properties are missing: send ${CHANGESET_PROPERTIES_HEADER}.`,
    );
  try {
    return JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
  } catch {
    throw invalidValue(
      OPERATION,
      CHANGESET_PROPERTIES_HEADER,
      `${CHANGESET_PROPERTIES_HEADER} must be the changeset's properties as base64url of their UTF-8 JSON.`,
    );
  }
}
