import { join } from "node:path";
import type { BlobStore } from "../../ports/blob-store.js";
import type { CloudContainers } from "../../ports/cloud-containers.js";
import type { BlobSpec } from "./blob-spec.js";
import { FsBlobStore } from "./fs-blob-store.js";

/** The standard variable of the Azure SDKs and tools, read by `--blobs azure:<container>`. */
export const AZURE_CONNECTION_STRING_VARIABLE = "AZURE_STORAGE_CONNECTION_STRING";

/**
 * Opens the blob store `spec` names: `fs` keeps files under `<dataDir>/blobs`; `azure:<container>` uses that container
 * of the account in AZURE_STORAGE_CONNECTION_STRING, creating it if missing. Errors are one line that says what to fix.
 */
export async function openBlobStore(
  spec: BlobSpec,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { sweepOnOpen?: boolean } = {},
): Promise<BlobStore> {
  if (spec.kind === "fs")
    return new FsBlobStore(
      join(dataDir, "blobs"),
      options.sweepOnOpen !== undefined ? { sweepOnOpen: options.sweepOnOpen } : {},
    );
  const connectionString = env[AZURE_CONNECTION_STRING_VARIABLE]?.trim();
  if (!connectionString) {
    throw new Error(
      `--blobs azure:${spec.container} needs the storage account in ${AZURE_CONNECTION_STRING_VARIABLE} (e.g. DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net).`,
    );
  }
  // Loaded only when asked for: a hub on local files never loads the Azure SDK.
  const { AzureBlobStore } = await import("./azure-blob-store.js");
  try {
    return await AzureBlobStore.open(connectionString, spec.container);
  } catch (err) {
    const reason = (err as Error).message.split("\n")[0];
    throw new Error(
      `Cannot open Azure container '${spec.container}' of the account in ${AZURE_CONNECTION_STRING_VARIABLE}: ${reason}`,
    );
  }
}

/**
 * Where blob containers (iTwin.js workspaces, SchemaSync, V2 checkpoints) live: containers of the account of
 * `--blobs azure:<container>`; none for `fs` (the hub then refuses them with ContainerServiceNotAvailable).
 * Call after {@link openBlobStore} succeeded (which checked the connection string).
 */
export async function openCloudContainers(
  spec: BlobSpec,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CloudContainers | undefined> {
  if (spec.kind === "fs") return undefined;
  const { AzureCloudContainers } = await import("./azure-cloud-containers.js");
  return AzureCloudContainers.fromConnectionString(env[AZURE_CONNECTION_STRING_VARIABLE]!.trim());
}
