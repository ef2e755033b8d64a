import type { FastifyPluginAsync } from "fastify";
import { HubError } from "../../domain/errors.js";
import { MAX_THUMBNAIL_BYTES } from "../../domain/thumbnails/thumbnail-service.js";
import { MANAGE, WEBVIEW, iModel } from "../authz/rules.js";
import type { ApiRouteContext } from "./context.js";
import { parseEnumParam } from "../query.js";
import { query } from "../schemas.js";

/**
 * `GET`/`PUT /imodels/{id}/thumbnail`. A plugin of its own (encapsulated) so that image bodies are accepted here only (the
 * rest of the API reads JSON). The bytes decide the format, not `Content-Type`.
 */
export const thumbnailRoutes: FastifyPluginAsync<ApiRouteContext> = async (scope, { hub }) => {
  // What the official client sends (`ContentType.Png`/`Jpeg`); anything else stays 415 like the rest of the API.
  scope.addContentTypeParser(
    ["image/png", "image/jpeg"],
    { parseAs: "buffer", bodyLimit: MAX_THUMBNAIL_BYTES },
    (_req, body, done) => done(null, body),
  );

  scope.get<{ Params: { id: string } }>(
    "/:id/thumbnail",
    {
      schema: {
        querystring: query({
          size: { type: "string", enum: ["small", "large"], description: "small (default) or large" },
        }),
        response: {
          200: {
            description: "The image",
            content: {
              "image/png": { schema: { type: "string", format: "binary" } },
              "image/jpeg": { schema: { type: "string", format: "binary" } },
            },
          },
        },
      },
      config: { summary: "Get an iModel's thumbnail", authz: iModel(WEBVIEW) },
    },
    async (request, reply) => {
      const size =
        parseEnumParam(request.params_, "size", "Cannot get iModel Thumbnail.", ["small", "large"] as const) ?? "small";
      const thumbnail = await hub.thumbnails.download(request.params.id, size);
      return reply
        .header("content-type", thumbnail.type)
        .header("content-length", String(thumbnail.size))
        .header("cache-control", "no-cache")
        .send(thumbnail.stream);
    },
  );

  const image = { schema: { type: "string", format: "binary" } };
  const uploadSchema = { body: { content: { "image/png": image, "image/jpeg": image } }, response: { 201: {} } };
  const upload = {
    summary: "Upload an iModel's thumbnail (PNG or JPEG)",
    authz: iModel(MANAGE),
    audit: { action: "imodel.thumbnail.upload" },
  };
  scope.put<{ Params: { id: string } }>(
    "/:id/thumbnail",
    { bodyLimit: MAX_THUMBNAIL_BYTES, schema: uploadSchema, config: upload },
    async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new HubError(
          "InvalidThumbnailFormat",
          "The request body must be a PNG or a JPEG image (Content-Type image/png or image/jpeg).",
        );
      }
      await hub.thumbnails.upload(request.params.id, body);
      return reply.code(201).send();
    },
  );
};
