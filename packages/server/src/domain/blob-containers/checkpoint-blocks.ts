import { Readable } from "node:stream";
import type { BlobStore } from "../../ports/blob-store.js";
import type { CloudContainers } from "../../ports/cloud-containers.js";
import type { IModelFileWorker } from "../../ports/imodel-file-worker.js";
import type { Clock } from "../context.js";

/** The block size of V2 checkpoint containers: iTwin.js's (and the cloud's) 4 MB. */
export const CHECKPOINT_BLOCK_BYTES = 4 * 1024 * 1024;
/** Checkpoint blob keys whose file is also published as a V2 checkpoint carry a nonce with this prefix. */
const V2_NONCE = "v2";
const V2_KEY = /^files\/([^/]+)\/checkpoints\/(\d{1,15})-(v2[0-9a-z]{1,62})\.bim$/;
const CONTAINER_PREFIX = "imodelblocks-";
/**
 * The iModels whose checkpoint container this hub made, recorded in its own blob store before the container is
 * created: the orphan sweep deletes only those (another hub may share the storage account).
 */
const OWNED = "checkpointblocks/";

/** `directoryAccessInfo` of a checkpoint, in the cloud's shape. */
export interface DirectoryAccessInfo {
  baseUrl: string;
  storage: string;
  baseDirectory: string;
  storageType: "azure";
  azure: { sasToken: string };
  google: null;
}

/**
 * V2 checkpoints: with `--blobs azure:`, each checkpoint file the checkpoint job makes is also published as a database
 * of a CloudSqlite container per iModel (`imodelblocks-<iModelId>`, 4 MB blocks, the layout iTwin.js's
 * V2CheckpointManager reads), and its checkpoint answers `directoryAccessInfo` (base URL, account, container, a
 * read-only SAS token) instead of null.
 *
 * Which checkpoints have a V2 copy is written in their blob key: a published one's nonce starts with `v2`, and its
 * database is named `<changesetIndex>-<nonce>`. So a checkpoint is `successful` with a V2 copy, or without one when
 * publishing failed (the whole file still serves every client that downloads files), never half.
 */
export class CheckpointBlocks {
  constructor(
    private readonly containers: CloudContainers,
    private readonly worker: IModelFileWorker,
    private readonly records: BlobStore,
    private readonly clock: Clock,
    private readonly log: (err: unknown, message: string) => void = () => undefined,
  ) {}

  /** Whether checkpoint files can be published (the worker has CloudSqlite). */
  get enabled(): boolean {
    return this.worker.uploadCheckpointBlocks !== undefined;
  }

  /**
   * Publishes the checkpoint file as a V2 database and returns the nonce its blob key must carry, or undefined when
   * it could not (logged: the checkpoint is then a whole file only).
   */
  async publish(
    iModelId: string,
    changesetIndex: number,
    localPath: string,
    nonce: string,
  ): Promise<string | undefined> {
    const upload = this.worker.uploadCheckpointBlocks?.bind(this.worker);
    if (!upload) return undefined;
    const v2Nonce = `${V2_NONCE}${nonce}`;
    const containerId = containerOf(iModelId);
    try {
      const owned = `${OWNED}${iModelId}`;
      if (!(await this.records.stat(owned))) await this.records.put(owned, Readable.from([Buffer.from(containerId)]));
      await this.containers.create(containerId);
      // CloudSqlite's layout is one manifest blob, written at once by initializing: an empty container has none yet.
      // (Two first checkpoints of one iModel on two nodes in the same instant could both initialize; the second
      // would drop the first's database, whose checkpoint would then fail to open as V2 and keep its whole file.)
      const initialize = await this.containers.isEmpty(containerId);
      const accessToken = this.containers.token(
        containerId,
        "write",
        new Date(this.clock.now().getTime() + 6 * 3600_000),
      );
      await upload({
        localPath,
        baseUri: this.containers.baseUri,
        containerId,
        accessToken,
        dbName: dbNameOf(changesetIndex, v2Nonce),
        initialize,
        blockSize: CHECKPOINT_BLOCK_BYTES,
      });
      return v2Nonce;
    } catch (err) {
      this.log(
        err,
        `the checkpoint of changeset ${changesetIndex} of iModel ${iModelId} could not be published as a V2 checkpoint; it is served as a whole file only`,
      );
      return undefined;
    }
  }

  /** The V2 location of a checkpoint stored at `blobKey`, with a read token valid for `ttlSeconds`; undefined if it has none. */
  accessInfo(
    blobKey: string | null,
    ttlSeconds: number,
  ): { dbName: string; directoryAccessInfo: DirectoryAccessInfo } | undefined {
    const m = blobKey ? V2_KEY.exec(blobKey) : null;
    if (!m) return undefined;
    const containerId = containerOf(m[1]!);
    const sasToken = this.containers.token(
      containerId,
      "read",
      new Date(this.clock.now().getTime() + ttlSeconds * 1000),
    );
    return {
      dbName: dbNameOf(Number(m[2]), m[3]!),
      directoryAccessInfo: {
        baseUrl: this.containers.baseUri,
        storage: this.containers.accountName,
        baseDirectory: containerId,
        storageType: "azure",
        azure: { sasToken },
        google: null,
      },
    };
  }

  /**
   * Deletes the V2 copies of pruned checkpoints (by their blob keys); keys without one are skipped. A failure is
   * logged: the copies then stay until the iModel is deleted.
   */
  async deletePublished(iModelId: string, blobKeys: readonly (string | null)[]): Promise<void> {
    const dbNames = blobKeys.flatMap((key) => {
      const m = key ? V2_KEY.exec(key) : null;
      return m && m[1] === iModelId ? [dbNameOf(Number(m[2]), m[3]!)] : [];
    });
    const remove = this.worker.deleteCheckpointBlocks?.bind(this.worker);
    if (dbNames.length === 0 || !remove) return;
    const containerId = containerOf(iModelId);
    try {
      const accessToken = this.containers.token(containerId, "write", new Date(this.clock.now().getTime() + 3600_000));
      await remove({ baseUri: this.containers.baseUri, containerId, accessToken, dbNames });
    } catch (err) {
      this.log(
        err,
        `the V2 copies of ${dbNames.length} pruned checkpoint(s) of iModel ${iModelId} could not be deleted; they stay until the iModel is deleted`,
      );
    }
  }

  /** Deletes the iModel's checkpoint container (called once the iModel is deleted). */
  async deleteOf(iModelId: string): Promise<void> {
    await this.containers.delete(containerOf(iModelId));
    await this.records.delete(`${OWNED}${iModelId}`);
  }

  /** Deletes this hub's containers of iModels that are gone (their deletion failed, or the hub stopped in between). */
  async removeOrphans(iModelExists: (iModelId: string) => Promise<boolean>): Promise<number> {
    const doomed: string[] = [];
    for await (const { key } of this.records.list(OWNED)) {
      const iModelId = key.slice(OWNED.length);
      if (!(await iModelExists(iModelId))) doomed.push(iModelId);
    }
    for (const iModelId of doomed) await this.deleteOf(iModelId);
    return doomed.length;
  }
}

function containerOf(iModelId: string): string {
  return `${CONTAINER_PREFIX}${iModelId.toLowerCase()}`;
}

/** CloudSqlite database names allow no dots: `<changesetIndex>-<nonce>`. */
function dbNameOf(changesetIndex: number, nonce: string): string {
  return `${changesetIndex}-${nonce}`;
}
