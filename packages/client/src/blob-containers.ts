import type { ModelHubClient } from "./client.js";

/** Where a container is (`scope`) and what it is (`metadata`), as iTwin.js's BlobContainer service names them. */
export interface BlobContainerScope {
  iTwinId: string;
  iModelId?: string;
  ownerGuid?: string;
}

export interface BlobContainerMetadata {
  containerType: string;
  label: string;
  description?: string;
  json?: Record<string, unknown>;
}

/** A container as the hub answers it (`/blobcontainers/{id}`). */
export interface BlobContainerEntity {
  containerId: string;
  provider: "azure" | "google";
  baseUri: string;
  scope: BlobContainerScope;
  metadata: BlobContainerMetadata;
  createdBy?: string;
  createdDateTime?: string;
}

/** A container token (`POST /blobcontainers/{id}/token`): a SAS token CloudSqlite uses against the storage account. */
export interface BlobContainerToken {
  token: string;
  accessLevel: "read" | "write" | "admin";
  expiration: string;
  provider: "azure" | "google";
  baseUri: string;
  containerId: string;
  scope: BlobContainerScope;
  metadata: BlobContainerMetadata;
}

export interface BlobContainerQuery {
  iTwinId: string;
  iModelId?: string;
  containerType?: string;
  label?: string;
}

/**
 * The hub's blob-container service (`/blobcontainers`: iTwin.js workspaces, SchemaSync), through a client's transport,
 * authorization and retry policy: `new BlobContainers(client).create(…)`.
 */
export class BlobContainers {
  constructor(private readonly client: ModelHubClient) {}

  private get base(): string {
    return `${this.client.root}/blobcontainers`;
  }

  private path(containerId: string): string {
    return `${this.base}/${encodeURIComponent(containerId)}`;
  }

  async create(input: {
    scope: BlobContainerScope;
    metadata: BlobContainerMetadata;
    containerId?: string;
  }): Promise<BlobContainerEntity> {
    return (await this.client.request<{ container: BlobContainerEntity }>("POST", this.base, input, [201])).container;
  }

  async get(containerId: string): Promise<BlobContainerEntity> {
    return (await this.client.request<{ container: BlobContainerEntity }>("GET", this.path(containerId))).container;
  }

  async list(query: BlobContainerQuery): Promise<BlobContainerEntity[]> {
    const q = new URLSearchParams({ iTwinId: query.iTwinId });
    if (query.iModelId !== undefined) q.set("iModelId", query.iModelId);
    if (query.containerType !== undefined) q.set("containerType", query.containerType);
    if (query.label !== undefined) q.set("label", query.label);
    return (await this.client.request<{ containers: BlobContainerEntity[] }>("GET", `${this.base}?${q.toString()}`))
      .containers;
  }

  /** Replaces the metadata's `json`. */
  async updateJson(containerId: string, json: Record<string, unknown>): Promise<BlobContainerEntity> {
    return (await this.client.request<{ container: BlobContainerEntity }>("PATCH", this.path(containerId), { json }))
      .container;
  }

  /** Deletes the container and every blob in it. */
  async delete(containerId: string): Promise<void> {
    await this.client.request<unknown>("DELETE", this.path(containerId), undefined, [204]);
  }

  async requestToken(
    containerId: string,
    input: { accessLevel?: "read" | "write" | "admin" | "writeIfPossible"; durationSeconds?: number } = {},
  ): Promise<BlobContainerToken> {
    return this.client.request<BlobContainerToken>("POST", `${this.path(containerId)}/token`, input);
  }
}
