import { ConfigError } from "../../config-error.js";

/** Where blobs are kept (`--blobs`): files under the data directory, or one Azure Blob Storage container. */
export type BlobSpec = { readonly kind: "fs" } | { readonly kind: "azure"; readonly container: string };

export const DEFAULT_BLOB_SPEC: BlobSpec = Object.freeze({ kind: "fs" });

/** Azure's container name rule: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit. */
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** `fs` or `azure:<container>`; throws ConfigError naming what is wrong. */
export function parseBlobSpec(text: string): BlobSpec {
  const spec = text.trim();
  if (spec === "fs") return DEFAULT_BLOB_SPEC;
  const azure = /^azure:(.*)$/.exec(spec);
  if (azure) {
    const container = azure[1]!;
    if (!CONTAINER_NAME.test(container)) {
      throw new ConfigError(
        `--blobs azure:<container> needs an Azure container name (3 to 63 lowercase letters, digits and single hyphens), not '${container}'.`,
      );
    }
    return Object.freeze({ kind: "azure", container });
  }
  throw new ConfigError(
    `--blobs must be fs (files under the data directory) or azure:<container> (account from AZURE_STORAGE_CONNECTION_STRING), not '${text}'.`,
  );
}

/** How the spec is written on the command line (for messages). */
export function formatBlobSpec(spec: BlobSpec): string {
  return spec.kind === "fs" ? "fs" : `azure:${spec.container}`;
}
