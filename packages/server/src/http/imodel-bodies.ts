// The bodies of the iModel operations (create, clone/fork, update), as the iModels API v2 takes them.
import { z } from "zod";

const text255 = (what: string) =>
  z.string().max(255, { error: `The value exceeds allowed 255 characters.` }).describe(what);
const geoPoint = z.object({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180) });
const extent = z.object({ southWest: geoPoint, northEast: geoPoint }).nullable();

export const createBody = z.object({
  // iTwin.js stamps the iTwin id into the file as a GUID and checks it when opening checkpoints.
  iTwinId: z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, {
    error: "An iTwin id is a GUID such as '5e19bee0-3aea-4355-a9f0-c6df9989ee7d'.",
  }),
  name: text255("name").trim().min(1, { error: "The value must not be empty." }),
  description: text255("description").nullable().optional(),
  extent: extent.optional(),
  containersEnabled: z.number().int().min(0).max(7).optional(),
  creationMode: z.enum(["empty", "fromBaseline", "fromIModelVersion"]).optional(),
  baselineFile: z
    .object({ size: z.number().int().positive({ error: "The value must be a positive number of bytes." }) })
    .optional(),
  // The source's content at `changesetId` (default: its latest; "": its baseline) becomes the new iModel's baseline.
  template: z
    .object({
      iModelId: z.string().trim().min(1, { error: "The value must not be empty." }),
      changesetId: z
        .string()
        .regex(/^([0-9a-f]{40})?$/, { error: "A changeset id is 40 lowercase hex digits, or '' for the baseline." })
        .optional(),
    })
    .optional(),
  geographicCoordinateSystem: z.unknown().optional(),
});

// Clone iModel / Fork iModel: the target iTwin, optional name/description/containers, the last changeset to copy.
export const copyBody = z.object({
  iTwinId: createBody.shape.iTwinId,
  name: createBody.shape.name.optional(),
  description: text255("description").nullable().optional(),
  containersEnabled: z.number().int().min(0).max(7).optional(),
  changesetId: z
    .string()
    .regex(/^([0-9a-f]{40})?$/, { error: "A changeset id is 40 lowercase hex digits, or '' for the baseline." })
    .optional(),
  changesetIndex: z.number().int().min(0).optional(),
  preserveHistory: z.boolean().optional(),
});

export const updateBody = z
  .object({
    name: text255("name").trim().min(1, { error: "The value must not be empty." }).optional(),
    description: text255("description").nullable().optional(),
    extent: extent.optional(),
  })
  .refine((b) => b.name !== undefined || b.description !== undefined || b.extent !== undefined, {
    error: "At least one of 'name', 'description', 'extent' must be provided.",
  });
