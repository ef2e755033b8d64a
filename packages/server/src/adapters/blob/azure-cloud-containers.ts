import type { ContainerClient } from "@azure/storage-blob";
import {
  BlobServiceClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from "@azure/storage-blob";
import type { CloudContainers, ContainerAccess } from "../../ports/cloud-containers.js";

/** What a container token allows: CloudSqlite reads blocks and the manifest, lists, and (writing) adds, replaces and deletes them. */
const PERMISSIONS: Record<ContainerAccess, string> = { read: "rl", write: "racwdl" };

/**
 * Blob containers as Azure Blob Storage containers of the hub's account: one Azure container per blob container,
 * tokens are container SAS tokens (query strings without `?`) signed locally with the account key — what
 * iTwin.js's CloudSqlite sends with every request.
 */
export class AzureCloudContainers implements CloudContainers {
  readonly provider = "azure" as const;
  readonly #service: BlobServiceClient;
  readonly #credential: StorageSharedKeyCredential;

  constructor(service: BlobServiceClient, credential: StorageSharedKeyCredential) {
    this.#service = service;
    this.#credential = credential;
  }

  /** The account of a standard connection string (AccountName and AccountKey; Azurite's BlobEndpoint works). */
  static fromConnectionString(connectionString: string): AzureCloudContainers {
    const service = BlobServiceClient.fromConnectionString(connectionString);
    if (!(service.credential instanceof StorageSharedKeyCredential)) {
      throw new Error(
        "the connection string must name the account key (AccountName=…;AccountKey=…): the hub signs container tokens with it",
      );
    }
    return new AzureCloudContainers(service, service.credential);
  }

  get baseUri(): string {
    return this.#service.url.replace(/\/+$/, "");
  }

  get accountName(): string {
    return this.#credential.accountName;
  }

  async create(containerName: string): Promise<"created" | "exists"> {
    const response = await this.#container(containerName).createIfNotExists();
    return response.succeeded ? "created" : "exists";
  }

  async delete(containerName: string): Promise<void> {
    await this.#container(containerName).deleteIfExists();
  }

  async exists(containerName: string): Promise<boolean> {
    return this.#container(containerName).exists();
  }

  async isEmpty(containerName: string): Promise<boolean> {
    const container = this.#container(containerName);
    try {
      for await (const page of container.listBlobsFlat().byPage({ maxPageSize: 1 })) {
        if (page.segment.blobItems.length > 0) return false;
      }
      return true;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return true;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    for await (const container of this.#service.listContainers({ prefix })) yield container.name;
  }

  token(containerName: string, access: ContainerAccess, expiresOn: Date): string {
    // A few minutes back: a client whose clock is slightly behind the account's can use the token at once.
    const startsOn = new Date(Date.now() - 5 * 60_000);
    return generateBlobSASQueryParameters(
      { containerName, permissions: ContainerSASPermissions.parse(PERMISSIONS[access]), startsOn, expiresOn },
      this.#credential,
    ).toString();
  }

  #container(containerName: string): ContainerClient {
    return this.#service.getContainerClient(containerName);
  }
}
