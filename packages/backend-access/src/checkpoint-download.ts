import { join } from "node:path";
import type { Checkpoint } from "@modelhub/protocol";
import type { HubHttpClient, RetryPolicy } from "./http-client.js";
import { HubHttpError } from "./http-client.js";
import { backend, bentley, common, hostVersion } from "./host.js";
import { downloadFile } from "./transfers.js";

export interface CheckpointSource {
  client: HubHttpClient;
  retry: RetryPolicy;
  /** `Authorization` header value for a request made on behalf of `accessToken` (may be empty). */
  authorization(accessToken?: string): Promise<string>;
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
  const auth = await source.authorization(request.accessToken);
  const { client } = source;
  let index = request.changeset.index;
  if (index === undefined) {
    index = request.changeset.id === "" ? 0 : (await client.request<{ changeset: { index: number } }>("queryChangeset", "GET", `/${request.iModelId}/changesets/${request.changeset.id}`, auth)).changeset.index;
  }
  let checkpoint: Checkpoint | undefined;
  try {
    checkpoint = (await client.request<{ checkpoint: Checkpoint }>("getCheckpoint", "GET", `/${request.iModelId}/changesets/${index}/checkpoint`, auth)).checkpoint;
  } catch (err) {
    if (!(err instanceof HubHttpError) || err.code !== "CheckpointNotFound") throw err;
  }
  if (checkpoint?.state !== "successful" && index > 0) {
    // The changeset's own checkpoint is missing or not ready: use the nearest earlier one.
    const changeset = await client.request<{ changeset: { _links: { currentOrPrecedingCheckpoint: { href: string } | null } } }>(
      "queryChangeset", "GET", `/${request.iModelId}/changesets/${index}`, auth,
    );
    const link = changeset.changeset._links.currentOrPrecedingCheckpoint?.href ?? `${client.apiBase}/${request.iModelId}/changesets/0/checkpoint`;
    checkpoint = (await client.request<{ checkpoint: Checkpoint }>("getCheckpoint", "GET", link, auth)).checkpoint;
  }
  if (!checkpoint || checkpoint.state !== "successful" || !checkpoint._links.download) {
    throw new common.IModelError(bentley.IModelHubStatus.CheckpointDoesNotExist, `modelhub has no checkpoint at or before changeset ${index} of iModel ${request.iModelId}.`);
  }
  const total = checkpoint.size;
  let loaded = 0;
  await downloadFile(checkpoint._links.download.href, localFile, total > 0 ? total : undefined, source.retry, (bytes) => {
    loaded += bytes;
    return onProgress ? onProgress(loaded, total) !== 0 : false;
  });
  return { id: checkpoint.changesetId, index: checkpoint.changesetIndex };
}

type V2Manager = {
  downloadCheckpoint?: (request: { localFile: string; checkpoint: CheckpointRequest; onProgress?: (loaded: number, total: number) => number }) => Promise<string>;
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
export function installCheckpointDownload(source: CheckpointSource): () => void {
  const manager = (backend as unknown as { V2CheckpointManager?: V2Manager }).V2CheckpointManager;
  if (!manager || typeof manager.downloadCheckpoint !== "function" || typeof manager.attach !== "function") {
    throw new Error(
      `@modelhub/backend-access cannot install checkpoint download: @itwin/core-backend ${hostVersion} has no V2CheckpointManager.downloadCheckpoint/attach. ` +
        "On iTwin.js 4.x no installation is needed (downloadV1Checkpoint is used).",
    );
  }
  if (!installed.has(manager)) installed.set(manager, { downloadCheckpoint: manager.downloadCheckpoint, attach: manager.attach });
  manager.downloadCheckpoint = async (request) => (await downloadNearestCheckpoint(source, request.checkpoint, request.localFile, request.onProgress)).id;
  manager.attach = async (checkpoint) => {
    // Opening a checkpoint in place: keep one local copy per iModel and changeset.
    const folder = backend.BriefcaseManager.getIModelPath(checkpoint.iModelId);
    const localFile = join(folder, "checkpoints", `${checkpoint.changeset.index ?? checkpoint.changeset.id}.bim`);
    const got = await downloadNearestCheckpoint(source, checkpoint, localFile);
    if (got.id !== checkpoint.changeset.id) {
      throw new Error(`modelhub has no checkpoint exactly at changeset ${checkpoint.changeset.id} (nearest: ${got.index}); download a briefcase instead.`);
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
