/** The access a container token grants: `read` (read and list blobs) or `write` (also create, replace and delete them). */
export type ContainerAccess = "read" | "write";

/**
 * Where blob containers live (the `BlobContainer` service of iTwin.js: workspaces, SchemaSync, V2 checkpoints): one
 * storage container per blob container, in the account of the hub's blob store, reached by clients themselves with
 * a token the hub signs (Azure: a container SAS). Names are made by the hub (`containerName`), never by a client.
 *
 * Contract:
 * - `create` of a name that exists answers `"exists"` and changes nothing; two creates of one name: one `"created"`.
 * - `delete` removes the container with every blob in it; deleting a missing one succeeds.
 * - `token` is local (signed with the account key) and grants exactly `access` on that one container until `expiresOn`.
 * - `list` yields each container whose name starts with the prefix once, and no other.
 * (test/contract/cloud-containers.contract.ts runs this against every adapter.)
 */
export interface CloudContainers {
  /** The provider name iTwin.js expects (`BlobContainer.Provider`). */
  readonly provider: "azure";
  /** The URI of the account clients reach containers at (e.g. `https://acct.blob.core.windows.net`, Azurite's `http://127.0.0.1:PORT/devstoreaccount1`). */
  readonly baseUri: string;
  /** The account's name (iTwin.js V2 checkpoint props call it `accountName`). */
  readonly accountName: string;
  create(containerName: string): Promise<"created" | "exists">;
  delete(containerName: string): Promise<void>;
  exists(containerName: string): Promise<boolean>;
  /** Whether the container holds no blob (a missing container is empty). */
  isEmpty(containerName: string): Promise<boolean>;
  /** The names of the account's containers that start with `prefix`. */
  list(prefix: string): AsyncIterable<string>;
  token(containerName: string, access: ContainerAccess, expiresOn: Date): string;
}
