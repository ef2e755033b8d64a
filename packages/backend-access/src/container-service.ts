import type { BlobContainer } from "@itwin/core-backend";
import { hostErrors } from "./errors.js";
import type { AuthorizationSource, RetryPolicy } from "./http-client.js";
import { DEFAULT_RETRY, HubHttpClient } from "./http-client.js";
import { backend, hostVersion } from "./host.js";

/** Where blob containers come from. */
export interface ContainerServiceOptions {
  /** The hub's root URL, e.g. "http://127.0.0.1:3000". */
  baseUrl: string;
  /** Used when a call has no user token and `IModelHost.getAccessToken()` has none either, e.g. "Bearer alice". */
  accessToken?: string;
  retry?: Partial<RetryPolicy>;
}

/** A container as the hub answers it (`/blobcontainers/{id}`). */
interface HubContainer {
  containerId: string;
  provider: BlobContainer.Provider;
  baseUri: string;
  scope: BlobContainer.Scope;
  metadata: BlobContainer.Metadata;
}

interface HubToken {
  token: string;
  expiration: string;
  provider: BlobContainer.Provider;
  baseUri: string;
  scope: BlobContainer.Scope;
  metadata: BlobContainer.Metadata;
}

/**
 * iTwin.js's `BlobContainer.ContainerService` on a modelhub hub (`/blobcontainers`): the service behind workspaces
 * (`IModelHost.getITwinWorkspace`, `WorkspaceEditor`), SchemaSync and `CloudSqlite.requestToken`. Containers live in
 * the hub's storage account (the hub must run with `--blobs azure:`); CloudSqlite then reaches them directly with the
 * container tokens this service gets from the hub. Install it with {@link installContainerService}.
 */
export class ModelHubContainerService implements BlobContainer.ContainerService {
  readonly #client: HubHttpClient;
  readonly #fallbackToken: string | undefined;

  constructor(options: ContainerServiceOptions) {
    const retry = { ...DEFAULT_RETRY, ...options.retry };
    const root = options.baseUrl.replace(/\/+$/, "").replace(/\/imodels$/i, "");
    this.#client = new HubHttpClient(`${root}/blobcontainers`, retry);
    this.#fallbackToken = options.accessToken;
  }

  async create(props: BlobContainer.CreateNewContainerProps): Promise<BlobContainer.CreatedContainerProps> {
    return hostErrors("create container", async () => {
      const body = { scope: props.scope, metadata: props.metadata, ...(props.containerId !== undefined ? { containerId: props.containerId } : {}) };
      const { container } = await this.#client.request<{ container: HubContainer }>("createContainer", "POST", "", this.#auth(props.userToken), { body });
      return { baseUri: container.baseUri, containerId: container.containerId, provider: container.provider };
    });
  }

  async delete(container: BlobContainer.AccessContainerProps): Promise<void> {
    await hostErrors("delete container", () => this.#client.request("deleteContainer", "DELETE", this.#path(container.containerId), this.#auth(container.userToken)));
  }

  async queryScope(container: BlobContainer.AccessContainerProps): Promise<BlobContainer.Scope> {
    return (await this.#get(container)).scope;
  }

  async queryMetadata(container: BlobContainer.AccessContainerProps): Promise<BlobContainer.Metadata> {
    return (await this.#get(container)).metadata;
  }

  async queryContainersMetadata(userToken: BlobContainer.UserToken, args: BlobContainer.QueryContainerProps): Promise<BlobContainer.MetadataResponse[]> {
    return hostErrors("query containers", async () => {
      const query = new URLSearchParams({ iTwinId: args.iTwinId });
      if (args.iModelId !== undefined) query.set("iModelId", args.iModelId);
      if (args.containerType !== undefined) query.set("containerType", args.containerType);
      if (args.label !== undefined) query.set("label", args.label);
      const { containers } = await this.#client.request<{ containers: HubContainer[] }>("queryContainers", "GET", `?${query.toString()}`, this.#auth(userToken));
      return containers.map((c) => ({ ...c.metadata, containerId: c.containerId }));
    });
  }

  // `json`'s type differs between iTwin.js versions (SettingsContainer, SettingObject): any JSON object is sent as is.
  async updateJson(container: BlobContainer.AccessContainerProps, json: Parameters<BlobContainer.ContainerService["updateJson"]>[1]): Promise<void> {
    await hostErrors("update container", () => this.#client.request("updateContainer", "PATCH", this.#path(container.containerId), this.#auth(container.userToken), { body: { json } }));
  }

  async requestToken(props: BlobContainer.RequestTokenProps): Promise<BlobContainer.TokenProps> {
    return hostErrors("request container token", async () => {
      const body = { ...(props.accessLevel !== undefined ? { accessLevel: props.accessLevel } : {}), ...(props.durationSeconds !== undefined ? { durationSeconds: props.durationSeconds } : {}) };
      const got = await this.#client.request<HubToken>("requestContainerToken", "POST", `${this.#path(props.containerId)}/token`, this.#auth(props.userToken), { body });
      return { token: got.token, scope: got.scope, provider: got.provider, expiration: new Date(got.expiration), metadata: got.metadata, baseUri: got.baseUri };
    });
  }

  async #get(container: BlobContainer.AccessContainerProps): Promise<HubContainer> {
    return hostErrors("query container", async () => (await this.#client.request<{ container: HubContainer }>("getContainer", "GET", this.#path(container.containerId), this.#auth(container.userToken))).container);
  }

  #path(containerId: string): string {
    return `/${encodeURIComponent(containerId)}`;
  }

  /** The user's token as given, else the host's (asked anew per attempt: a refreshed one), else the fallback. */
  #auth(userToken: string | undefined): AuthorizationSource {
    return async () => {
      let token = userToken || (await backend.IModelHost.getAccessToken().catch(() => "")) || this.#fallbackToken || "";
      if (!token) throw new Error("@modelhub/backend-access: no access token for the blob container service (set IModelHost.authorizationClient or pass accessToken).");
      if (!token.includes(" ")) token = `Bearer ${token}`;
      return token;
    };
  }
}

/**
 * Makes the hub the host's `BlobContainer.service` (workspaces, SchemaSync, `CloudSqlite.requestToken`), before or
 * after `IModelHost.startup` (which leaves the service alone in 5.1.9 and 5.7.3); returns a function that puts the
 * previous service back.
 */
export function installContainerService(options: ContainerServiceOptions): () => void {
  const namespace = (backend as unknown as { BlobContainer?: { service: BlobContainer.ContainerService | undefined } }).BlobContainer;
  if (!namespace) throw new Error(`@modelhub/backend-access: @itwin/core-backend ${hostVersion} has no BlobContainer service to install.`);
  const previous = namespace.service;
  namespace.service = new ModelHubContainerService(options);
  return () => {
    namespace.service = previous;
  };
}
