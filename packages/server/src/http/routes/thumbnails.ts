import type { FastifyInstance } from "fastify";
import { HubError } from "../../domain/errors.js";
import { MAX_THUMBNAIL_BYTES } from "../../domain/thumbnails/thumbnail-service.js";
import type { ApiRouteContext } from "../app.js";
import { parseEnumParam } from "../query.js";

/**
 * `GET`/`PUT /imodels/{id}/thumbnail`. Registered as its own plugin so that image bodies are accepted here only (the
 * rest of the API reads JSON). The bytes decide the format, not `Content-Type`.
 */
export async function thumbnailRoutes(api: FastifyInstance, { hub }: ApiRouteContext): Promise<void> {
  await api.register(async (scope) => {
    // What the official client sends (`ContentType.Png`/`Jpeg`); anything else stays 415 like the rest of the API.
    scope.addContentTypeParser(["image/png", "image/jpeg"], { parseAs: "buffer", bodyLimit: MAX_THUMBNAIL_BYTES }, (_req, body, done) => done(null, body));

    scope.get<{ Params: { id: string } }>("/:id/thumbnail", async (request, reply) => {
      const size = parseEnumParam(request.params_, "size", "Cannot get iModel Thumbnail.", ["small", "large"] as const) ?? "small";
      const thumbnail = await hub.thumbnails.download(request.params.id, size);
      return reply
        .header("content-type", thumbnail.type)
        .header("content-length", String(thumbnail.size))
        .header("cache-control", "no-cache")
        .send(thumbnail.stream);
    });

    scope.put<{ Params: { id: string } }>("/:id/thumbnail", { bodyLimit: MAX_THUMBNAIL_BYTES }, async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new HubError("InvalidThumbnailFormat", "The request body must be a PNG or a JPEG image (Content-Type image/png or image/jpeg).");
      }
      await hub.thumbnails.upload(request.params.id, body);
      return reply.code(201).send();
    });
  });
}
