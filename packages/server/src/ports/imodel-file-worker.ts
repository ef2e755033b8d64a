/**
 * The work that needs iTwin.js's native library (opening iModel files). The server runs it in a separate
 * process so a slow or crashing native call never blocks or takes down the HTTP server.
 *
 * Contract: a request that fails because of its input (not an iModel, wrong changeset id…) rejects with
 * `FileRejected` and a message a user can act on; any other rejection means the worker itself failed (crash,
 * timeout) and the same request may succeed when retried.
 */
export interface IModelFileWorker {
  /**
   * Copies `inputPath` to `outputPath` as a baseline: iModel and iTwin ids stamped, briefcase id 0, no txns.
   * `resetParentChangeset`: the file's parent changeset is cleared first (a checkpoint becomes a version 0), and
   * the `changesetId` returned is then "".
   */
  initializeBaseline(args: {
    inputPath: string;
    outputPath: string;
    iModelId: string;
    iTwinId: string;
    resetParentChangeset?: boolean;
  }): Promise<{ fileSize: number; changesetId: string }>;
  /** Writes a new empty iModel to `outputPath`, stamped the same way. */
  createEmptyBaseline(args: {
    outputPath: string;
    iModelId: string;
    iTwinId: string;
    rootSubjectName: string;
    rootSubjectDescription?: string;
  }): Promise<{ fileSize: number }>;
  /**
   * Writes to `outputPath` the file at `basePath` with `changesets` applied in order (a checkpoint). Rejects with
   * `FileRejected` naming the changeset when one cannot be applied.
   */
  makeCheckpoint(args: {
    basePath: string;
    outputPath: string;
    changesets: { id: string; index: number; parentId: string; pathname: string; changesType: number }[];
  }): Promise<{ fileSize: number; changesetId: string }>;
  /**
   * Publishes the checkpoint file at `localPath` as database `dbName` of the CloudSqlite container `containerId` at
   * `baseUri` (a V2 checkpoint), with a write `accessToken` for that container; `initialize` first lays the container
   * out for CloudSqlite with `blockSize`-byte blocks (wiping what it held). Workers without CloudSqlite lack it.
   */
  uploadCheckpointBlocks?(args: {
    localPath: string;
    baseUri: string;
    containerId: string;
    accessToken: string;
    dbName: string;
    initialize: boolean;
    blockSize: number;
  }): Promise<{ blockSize: number }>;
  /** Deletes databases `dbNames` (those it has) of the CloudSqlite container, with a write token for it. */
  deleteCheckpointBlocks?(args: {
    baseUri: string;
    containerId: string;
    accessToken: string;
    dbNames: string[];
  }): Promise<{ deleted: string[] }>;
  /** The id iTwin.js computes for a changeset file with this parent (40 hex digits). */
  computeChangesetId(args: { parentId: string; pathname: string }): Promise<{ id: string }>;
}

export class FileRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FileRejected";
  }
}
