import { join } from "node:path";
import type { Checkpoint } from "@modelhub/protocol";
import type { AuthorizationSource, ModelHubClient } from "@modelhub/client";
import { hostErrors } from "./errors.js";
import type { AccessLogger, RetryPolicy } from "./hub-calls.js";
import { DEFAULT_RETRY, hubCall, HubHttpError, hubClientOf } from "./hub-calls.js";
import { backend, bentley, common, hostLogger, hostVersion } from "./host.js";
import type { Retrying } from "./transfers.js";
import { downloadFile } from "./transfers.js";

/** Where checkpoints come from when `installCheckpointDownload` is used on its own. */
export interface CheckpointHub {
  /** The hub's root URL, e.g. "http://127.0.0.1:3000". */
  baseUrl: string;
  /** Used when a request has no token and `IModelHost.getAccessToken()` has none either, e.g. "Bearer alice". */
  accessToken?: string;
  retry?: Partial<RetryPolicy>;
  /** Where retries are logged (default: the host's iTwin.js Logger). */
  logger?: AccessLogger;
}

export interface CheckpointSource {
  client: ModelHubClient;
  retry: Retrying;
  /** `Authorization` header of each request made on behalf of `accessToken` (may be empty), read anew per request. */
  authorization(accessToken?: string): Promise<AuthorizationSource>;
}

interface CheckpointRequest {
  iModelId: string;
  changeset: { id: string; index?: number };
  accessToken?: string;
}

/**
 * Downloads the newest checkpoint at or before `changeset` to `localFile` and returns the changeset it is at.
 * The caller (iTwin.js) applies the changesets from there to the requested one.
 */
export async function downloadNearestCheckpoint(
  source: CheckpointSource,
  request: CheckpointRequest,
  localFile: string,
  onProgress?: (loaded: number, total: number) => number,
): Promise<{ id: string; index: number }> {
  return hostErrors("checkpoint download", async () => {
    const auth = await source.authorization(request.accessToken);
    const hub = source.client.with({ authorization: auth });
    const iModelId = request.iModelId;
    let index = request.changeset.index;
    if (index === undefined) {
      const id = request.changeset.id;
      index = id === "" ? 0 : (await hubCall("queryChangeset", () => hub.getChangeset(iModelId, id))).index;
    }
    const at = index;
    // Which checkpoint: the changeset's own, else (missing or not ready) the nearest earlier one. Kept as a link so
    // that a refresh asks the same checkpoint again.
    let link = `${hub.apiBase}/${encodeURIComponent(iModelId)}/changesets/${at}/checkpoint`;
    let checkpoint: Checkpoint | undefined;
    try {
      checkpoint = await hubCall("getCheckpoint", () => hub.checkpointAt(link));
    } catch (err) {
      if (!(err instanceof HubHttpError) || err.code !== "CheckpointNotFound") throw err;
    }
    if (checkpoint?.state !== "successful" && at > 0) {
      const changeset = await hubCall("queryChangeset", () => hub.getChangeset(iModelId, at));
      link =
        changeset._links.currentOrPrecedingCheckpoint?.href ??
        `${hub.apiBase}/${encodeURIComponent(iModelId)}/changesets/0/checkpoint`;
      checkpoint = await hubCall("getCheckpoint", () => hub.checkpointAt(link));
    }
    if (!checkpoint || checkpoint.state !== "successful" || !checkpoint._links.download) {
      throw new common.IModelError(
        bentley.IModelHubStatus.CheckpointDoesNotExist,
        `modelhub has no checkpoint at or before changeset ${index} of iModel ${request.iModelId}.`,
      );
    }
    // Signed links expire: a failed attempt asks the checkpoint for a new one and resumes.
    const refresh = async (): Promise<string> => {
      const again = await hubCall("getCheckpoint", () => hub.checkpointAt(link));
      if (!again._links.download)
        throw new common.IModelError(
          bentley.IModelHubStatus.CheckpointDoesNotExist,
          `the checkpoint of changeset ${again.changesetIndex} is no longer available.`,
        );
      return again._links.download.href;
    };
    const total = checkpoint.size;
    let loaded = 0;
    await downloadFile(
      checkpoint._links.download.href,
      localFile,
      total > 0 ? total : undefined,
      source.retry,
      (bytes) => {
        loaded += bytes;
        return onProgress ? onProgress(loaded, total) !== 0 : false;
      },
      refresh,
    );
    return { id: checkpoint.changesetId, index: checkpoint.changesetIndex };
  });
}

type V2Manager = {
  downloadCheckpoint?: (request: {
    localFile: string;
    checkpoint: CheckpointRequest;
    onProgress?: (loaded: number, total: number) => number;
  }) => Promise<string>;
  attach?: (checkpoint: CheckpointRequest) => Promise<{ dbName: string; container: undefined }>;
};

const installed = new WeakMap<object, { downloadCheckpoint: unknown; attach: unknown }>();

/**
 * Makes `BriefcaseManager.downloadBriefcase` (and checkpoint attach) work against modelhub in iTwin.js 5.x.
 *
 * iTwin.js 5.x downloads checkpoints only from CloudSqlite containers at a hard-coded Azure host. This replaces
 * `V2CheckpointManager.downloadCheckpoint` and `.attach` with versions that download the nearest whole-file
 * checkpoint from the hub; iTwin.js then applies the remaining changesets itself. Both methods are internal to
 * iTwin.js, so this fails with a clear message on a host that lacks them. Returns a function that restores them.
 * Usable on its own, e.g. next to the official `BackendIModelsAccess`.
 */
export function installCheckpointDownload(hub: CheckpointSource | CheckpointHub): () => void {
  const source = "client" in hub ? hub : checkpointSource(hub);
  const manager = (backend as unknown as { V2CheckpointManager?: V2Manager }).V2CheckpointManager;
  if (!manager || typeof manager.downloadCheckpoint !== "function" || typeof manager.attach !== "function") {
    throw new Error(
      `@modelhub/backend-access cannot install checkpoint download: @itwin/core-backend ${hostVersion} has no V2CheckpointManager.downloadCheckpoint/attach. ` +
        "On iTwin.js 4.x no installation is needed (downloadV1Checkpoint is used).",
    );
  }
  if (!installed.has(manager))
    installed.set(manager, { downloadCheckpoint: manager.downloadCheckpoint, attach: manager.attach });
  manager.downloadCheckpoint = async (request) =>
    (await downloadNearestCheckpoint(source, request.checkpoint, request.localFile, request.onProgress)).id;
  manager.attach = async (checkpoint) => {
    // Opening a checkpoint in place: keep one local copy per iModel and changeset.
    const folder = backend.BriefcaseManager.getIModelPath(checkpoint.iModelId);
    const localFile = join(folder, "checkpoints", `${checkpoint.changeset.index ?? checkpoint.changeset.id}.bim`);
    const got = await downloadNearestCheckpoint(source, checkpoint, localFile);
    if (got.id !== checkpoint.changeset.id) {
      throw new Error(
        `modelhub has no checkpoint exactly at changeset ${checkpoint.changeset.id} (nearest: ${got.index}); download a briefcase instead.`,
      );
    }
    return { dbName: localFile, container: undefined };
  };
  return () => {
    const original = installed.get(manager);
    if (!original) return;
    manager.downloadCheckpoint = original.downloadCheckpoint as V2Manager["downloadCheckpoint"];
    manager.attach = original.attach as V2Manager["attach"];
    installed.delete(manager);
  };
}

function checkpointSource(hub: CheckpointHub): CheckpointSource {
  const policy = { ...DEFAULT_RETRY, ...hub.retry };
  const logger = hub.logger ?? hostLogger;
  return {
    client: hubClientOf(hub.baseUrl, policy, logger),
    retry: { policy, logger },
    async authorization(accessToken) {
      // Each request asks the host again (a refreshed token), unless the caller gave one of its own.
      return async () => {
        let token = accessToken || (await backend.IModelHost.getAccessToken().catch(() => "")) || hub.accessToken || "";
        if (!token)
          throw new Error(
            "@modelhub/backend-access: no access token for the checkpoint download (set IModelHost.authorizationClient or pass accessToken).",
          );
        if (!token.includes(" ")) token = `Bearer ${token}`;
        return token;
      };
    },
  };
}
