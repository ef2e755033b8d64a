import type { BlobContainer } from "@itwin/core-backend";
import type { ModelHubClient } from "@modelhub/client";
import { BlobContainers } from "@modelhub/client";
import { hostErrors } from "./errors.js";
import type { AccessLogger, RetryPolicy } from "./hub-calls.js";
import { DEFAULT_RETRY, hubCall, hubClientOf } from "./hub-calls.js";
import { backend, hostLogger, hostVersion } from "./host.js";

/** Where blob containers come from. */
export interface ContainerServiceOptions {
  /** The hub's root URL, e.g. "http://127.0.0.1:3000". */
  baseUrl: string;
  /** Used when a call has no user token and `IModelHost.getAccessToken()` has none either, e.g. "Bearer alice". */
  accessToken?: string;
  retry?: Partial<RetryPolicy>;
  /** Where retries are reported (default: the host's iTwin.js Logger). */
  logger?: AccessLogger;
}

/**
 * iTwin.js's `BlobContainer.ContainerService` on a modelhub hub (`/blobcontainers`): the service behind workspaces
 * (`IModelHost.getITwinWorkspace`, `WorkspaceEditor`), SchemaSync and `CloudSqlite.requestToken`. Containers live in
 * the hub's storage account (the hub must run with `--blobs azure:`); CloudSqlite then reaches them directly with the
 * container tokens this service gets from the hub. Install it with {@link installContainerService}.
 */
export class ModelHubContainerService implements BlobContainer.ContainerService {
  readonly #client: ModelHubClient;
  readonly #fallbackToken: string | undefined;

  constructor(options: ContainerServiceOptions) {
    this.#client = hubClientOf(options.baseUrl, { ...DEFAULT_RETRY, ...options.retry }, options.logger ?? hostLogger);
    this.#fallbackToken = options.accessToken;
  }

  /** One operation on behalf of `userToken`, with the hub's refusals as the host's errors. */
  async #call<T>(
    operation: string,
    userToken: string | undefined,
    work: (containers: BlobContainers) => Promise<T>,
  ): Promise<T> {
    const containers = new BlobContainers(this.#client.with({ authorization: this.#auth(userToken) }));
    return hostErrors(operation, () => hubCall(operation, () => work(containers)));
  }

  async create(props: BlobContainer.CreateNewContainerProps): Promise<BlobContainer.CreatedContainerProps> {
    const container = await this.#call("create container", props.userToken, (c) =>
      c.create({
        scope: props.scope,
        metadata: props.metadata,
        ...(props.containerId !== undefined ? { containerId: props.containerId } : {}),
      }),
    );
    return { baseUri: container.baseUri, containerId: container.containerId, provider: container.provider };
  }

  async delete(container: BlobContainer.AccessContainerProps): Promise<void> {
    await this.#call("delete container", container.userToken, (c) => c.delete(container.containerId));
  }

  async queryScope(container: BlobContainer.AccessContainerProps): Promise<BlobContainer.Scope> {
    return (await this.#call("query container", container.userToken, (c) => c.get(container.containerId))).scope;
  }

  async queryMetadata(container: BlobContainer.AccessContainerProps): Promise<BlobContainer.Metadata> {
    return (await this.#call("query container", container.userToken, (c) => c.get(container.containerId)))
      .metadata as BlobContainer.Metadata;
  }

  async queryContainersMetadata(
    userToken: BlobContainer.UserToken,
    args: BlobContainer.QueryContainerProps,
  ): Promise<BlobContainer.MetadataResponse[]> {
    const query = {
      iTwinId: args.iTwinId,
      ...(args.iModelId !== undefined ? { iModelId: args.iModelId } : {}),
      ...(args.containerType !== undefined ? { containerType: args.containerType } : {}),
      ...(args.label !== undefined ? { label: args.label } : {}),
    };
    const containers = await this.#call("query containers", userToken, (c) => c.list(query));
    return containers.map((c) => ({ ...(c.metadata as BlobContainer.Metadata), containerId: c.containerId }));
  }

  // `json`'s type differs between iTwin.js versions (SettingsContainer, SettingObject): any JSON object is sent as is.
  async updateJson(
    container: BlobContainer.AccessContainerProps,
    json: Parameters<BlobContainer.ContainerService["updateJson"]>[1],
  ): Promise<void> {
    await this.#call("update container", container.userToken, (c) =>
      c.updateJson(container.containerId, json as Record<string, unknown>),
    );
  }

  async requestToken(props: BlobContainer.RequestTokenProps): Promise<BlobContainer.TokenProps> {
    const got = await this.#call("request container token", props.userToken, (c) =>
      c.requestToken(props.containerId, {
        ...(props.accessLevel !== undefined ? { accessLevel: props.accessLevel } : {}),
        ...(props.durationSeconds !== undefined ? { durationSeconds: props.durationSeconds } : {}),
      }),
    );
    return {
      token: got.token,
      scope: got.scope,
      provider: got.provider,
      expiration: new Date(got.expiration),
      metadata: got.metadata as BlobContainer.Metadata,
      baseUri: got.baseUri,
    };
  }

  /** The user's token as given, else the host's (asked anew per attempt: a refreshed one), else the fallback. */
  #auth(userToken: string | undefined): () => Promise<string> {
    return async () => {
      let token = userToken || (await backend.IModelHost.getAccessToken().catch(() => "")) || this.#fallbackToken || "";
      if (!token)
        throw new Error(
          "@modelhub/backend-access: no access token for the blob container service (set IModelHost.authorizationClient or pass accessToken).",
        );
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
  const namespace = (backend as unknown as { BlobContainer?: { service: BlobContainer.ContainerService | undefined } })
    .BlobContainer;
  if (!namespace)
    throw new Error(
      `@modelhub/backend-access: @itwin/core-backend ${hostVersion} has no BlobContainer service to install.`,
    );
  const previous = namespace.service;
  namespace.service = new ModelHubContainerService(options);
  return () => {
    namespace.service = previous;
  };
}
