// What `--metadata` and `--blobs` say, parsed without loading any adapter: the command line parses them for every
// command, and loading the stores' drivers for that would slow every `modelhub` invocation down.
import { ConfigError } from "../config-error.js";
import { parsePgUrl } from "./postgres/pg-url.js";

export type { BlobSpec } from "./blob/blob-spec.js";
export { DEFAULT_BLOB_SPEC, formatBlobSpec, parseBlobSpec } from "./blob/blob-spec.js";

/** Where the hub's records live (`--metadata`): the embedded SQLite file in the data directory, or PostgreSQL. */
export type MetadataSpec = { readonly kind: "sqlite" } | { readonly kind: "postgres"; readonly url: string };

export const DEFAULT_METADATA_SPEC: MetadataSpec = Object.freeze({ kind: "sqlite" });

/** `sqlite` or a `postgres://` / `postgresql://` URL; throws ConfigError naming what is wrong. */
export function parseMetadataSpec(text: string): MetadataSpec {
  const spec = text.trim();
  if (spec === "sqlite") return DEFAULT_METADATA_SPEC;
  if (/^postgres(ql)?:\/\//.test(spec)) {
    try {
      parsePgUrl(spec);
    } catch (err) {
      throw new ConfigError(`--metadata: ${(err as Error).message}`);
    }
    return Object.freeze({ kind: "postgres", url: spec });
  }
  throw new ConfigError(
    `--metadata must be sqlite (a file in the data directory) or postgres://user@host:port/database, not '${text}'.`,
  );
}

/** The URL without its password, for logs and messages. */
export function formatMetadataSpec(spec: MetadataSpec): string {
  if (spec.kind === "sqlite") return "sqlite";
  const url = new URL(spec.url);
  if (url.password) url.password = "***";
  return url.toString();
}
