import { userInfo } from "node:os";
import type {
  AcquireNewBriefcaseIdArg,
  BackendHubAccess,
  BriefcaseDbArg,
  BriefcaseIdArg,
  ChangesetArg,
  ChangesetRangeArg,
  CheckpointProps,
  CreateNewIModelProps,
  DownloadChangesetArg,
  DownloadChangesetRangeArg,
  IModelIdArg,
  IModelNameArg,
  ITwinIdArg,
  LockMap,
  LockProps,
  V2CheckpointAccessProps,
} from "@itwin/core-backend";
import type { ChangesetFileProps, ChangesetIndexAndId, ChangesetProps, IModelVersion } from "@itwin/core-common";
import type { AuthorizationSource, ModelHubClient } from "@modelhub/client";
import { MAX_ONE_REQUEST_PUSH_BYTES } from "@modelhub/protocol";
import type { CheckpointSource } from "./checkpoint-download.js";
import { downloadNearestCheckpoint, installCheckpointDownload } from "./checkpoint-download.js";
import type { AccessLogger, RetryPolicy } from "./hub-calls.js";
import { DEFAULT_RETRY, hubClientOf } from "./hub-calls.js";
import { bentley, common, hostLogger, hostToken, hostVersion } from "./host.js";
import { callHub } from "./errors.js";
import type { Retrying } from "./transfers.js";
import { SMALL_FILE_BYTES } from "./transfers.js";
import { changesetCache } from "./changeset-cache.js";
import type { PrefetchOptions } from "./prefetch.js";
import { ChangesetPrefetcher } from "./prefetch.js";
import { BASELINE, toChangesetProps } from "./changeset-props.js";
import type { DownloadSettings } from "./changeset-download.js";
import { downloadChangesets, listChangesets } from "./changeset-download.js";
import type { PushSettings } from "./changeset-push.js";
import { pushChangeset } from "./changeset-push.js";
import { createIModel } from "./imodel-create.js";
import { HubLocks } from "./hub-locks.js";

export interface ModelHubAccessOptions {
  /** The hub's root URL, e.g. "http://127.0.0.1:3000" (the client adds `/imodels`). */
  baseUrl: string;
  /**
   * Token used when neither the call nor `IModelHost.getAccessToken()` has one, e.g. "Bearer alice" for an
   * open-mode hub. Defaults to "Bearer <OS user name>".
   */
  accessToken?: string;
  /** Changeset files downloaded at once (default 8: most changesets are small, so a pull is bound by per-file latency). */
  downloadConcurrency?: number;
  /** The numbers of @modelhub/client's retry policy (default 4 retries, 250 ms doubling up to 8 s). */
  retry?: Partial<RetryPolicy>;
  /** Where retries and prefetch problems are reported (default: the host's iTwin.js `Logger`, category `ModelHubAccess`). */
  logger?: AccessLogger;
  /** Install the checkpoint download that `BriefcaseManager.downloadBriefcase` needs on iTwin.js 5.x (default true). */
  installCheckpointDownload?: boolean;
  /** How long `createNewIModel` waits for the hub to initialize the baseline. */
  createTimeoutMs?: number;
  /**
   * How long a push whose completion was sent keeps asking the hub for the answer while the hub cannot be reached
   * (default 15 minutes, the hub's default `--push-timeout`). A push reported as failed keeps its edits as local
   * changes; if the hub had committed it all the same, the briefcase could not pull its own changeset any more.
   */
  pushOutcomeTimeoutMs?: number;
  /** Check each downloaded changeset against its id with iTwin.js's own rule, where the host has it (default true). */
  verifyChangesetIds?: boolean;
  /**
   * Changeset files up to this size move as one buffer (default 1 MiB): a failed transfer starts over. Larger ones
   * are streamed, and a broken download resumes with a range request.
   */
  wholeFileLimitBytes?: number;
  /**
   * Download newly pushed changesets into iTwin.js's changeset cache in the background, for the iModels that have a
   * briefcase open in this process, so that `pullChanges` only applies them (default off: it spends bandwidth and
   * disk on changesets that may never be pulled, and holds one change-feed stream per iModel). `true` takes the
   * defaults of PrefetchOptions. See the package README, "Prefetch".
   */
  prefetch?: boolean | PrefetchOptions;
  /**
   * A pull asks for the files of small changesets inline in the list's answer, up to this many bytes per page
   * (default 2 MiB; 0: never): a pull of small changesets is then one request instead of one per changeset. A hub
   * without this modelhub extension answers plain pages (each file is then downloaded as before).
   */
  inlineFileBytes?: number;
  /**
   * A push of a changeset file up to this size is one request instead of three (create, upload, complete; a modelhub
   * extension, default 8 MiB, which is also the most the hub takes that way; 0: never). A hub without the extension
   * is pushed to in three requests, as before.
   */
  oneRequestPushBytes?: number;
}

/**
 * `BackendHubAccess` for a modelhub server: pass it to `IModelHost.startup({ hubAccess })` and unmodified iTwin.js
 * code (downloadBriefcase, pushChanges, pullChanges, locks) works against the hub. Errors are the host's own
 * `IModelError`/`LockConflict`, with the numbers core-backend acts on (a stale push becomes `PullIsRequired`, which
 * makes iTwin.js pull, merge and push again by itself).
 */
export class ModelHubAccess implements BackendHubAccess {
  /** The one API client (keep-alive transport); each operation uses it with its caller's authorization. */
  readonly #client: ModelHubClient;
  readonly #retry: Retrying;
  readonly #fallbackToken: string;
  /** The numbers of creation, push and download (from the options, with their defaults). */
  readonly #settings: DownloadSettings & PushSettings & { createTimeoutMs: number };
  readonly #locks = new HubLocks((token) => this.#hub(token));
  readonly #uninstall: (() => void) | undefined;
  #prefetcher: ChangesetPrefetcher | undefined;

  constructor(options: ModelHubAccessOptions) {
    const policy = { ...DEFAULT_RETRY, ...options.retry };
    const logger = options.logger ?? hostLogger;
    this.#retry = { policy, logger };
    this.#client = hubClientOf(options.baseUrl, policy, logger);
    this.#fallbackToken = options.accessToken ?? `Bearer ${safeUserName()}`;
    this.#settings = {
      retry: this.#retry,
      concurrency: options.downloadConcurrency ?? 8,
      wholeFileLimit: options.wholeFileLimitBytes ?? SMALL_FILE_BYTES,
      createTimeoutMs: options.createTimeoutMs ?? 5 * 60_000,
      pushOutcomeTimeoutMs: options.pushOutcomeTimeoutMs ?? 15 * 60_000,
      verifyIds: options.verifyChangesetIds ?? true,
      inlineFileBytes: options.inlineFileBytes ?? 2 * 1024 * 1024,
      oneRequestPushBytes: options.oneRequestPushBytes ?? MAX_ONE_REQUEST_PUSH_BYTES,
      withoutOneRequestPush: new Set(),
    };
    // iTwin.js 4.x falls back to the public downloadV1Checkpoint by itself; 5.x needs the checkpoint download installed.
    const needsInstall = Number(hostVersion.split(".")[0]) >= 5;
    this.#uninstall =
      (options.installCheckpointDownload ?? true) && needsInstall
        ? installCheckpointDownload(this.#checkpointSource())
        : undefined;
    if (options.prefetch) this.enablePrefetch(options.prefetch === true ? {} : options.prefetch);
  }

  /** Restores iTwin.js's own checkpoint download (tests that switch between hubs call this) and stops prefetching. */
  dispose(): void {
    this.#uninstall?.();
    void this.disablePrefetch();
  }

  // ---- prefetch

  /** The background changeset download (see `ModelHubAccessOptions.prefetch`), when enabled. */
  get prefetcher(): ChangesetPrefetcher | undefined {
    return this.#prefetcher;
  }

  /**
   * Starts prefetching (what the `prefetch` option does at construction) for the briefcases opened from now on;
   * returns the running prefetcher if there is one.
   */
  enablePrefetch(options: PrefetchOptions = {}): ChangesetPrefetcher {
    this.#prefetcher ??= new ChangesetPrefetcher(
      {
        client: this.#client,
        retry: this.#retry,
        logger: this.#retry.logger,
        authorization: () => this.#auth(),
        verifyIds: this.#settings.verifyIds,
        cache: changesetCache,
        wholeFileLimit: this.#settings.wholeFileLimit,
      },
      options,
    );
    return this.#prefetcher;
  }

  /** Stops prefetching and waits for its downloads under way to end. */
  async disablePrefetch(): Promise<void> {
    const prefetcher = this.#prefetcher;
    this.#prefetcher = undefined;
    await prefetcher?.stop();
  }

  // ---- tokens

  /**
   * The authorization of one operation, read anew for each of its requests and retries (see AuthorizationSource).
   * The token iTwin.js passed (`accessToken`) is used first; when it is the host's own token, later attempts ask
   * `IModelHost.authorizationClient` again, so a token that expired during a retry or a long transfer is refreshed.
   */
  async #auth(accessToken?: string): Promise<AuthorizationSource> {
    const first = accessToken || (await hostToken()) || this.#fallbackToken;
    const followsHost = !accessToken || accessToken === (await hostToken());
    let attempts = 0;
    return async () => {
      const token = attempts++ === 0 || !followsHost ? first : (await hostToken()) || first;
      return token.includes(" ") ? token : `Bearer ${token}`;
    };
  }

  /** The client for one operation, its requests and retries authorized by `accessToken` (see #auth). */
  async #hub(accessToken?: string): Promise<ModelHubClient> {
    return this.#client.with({ authorization: await this.#auth(accessToken) });
  }

  #checkpointSource(): CheckpointSource {
    return { client: this.#client, retry: this.#retry, authorization: (token) => this.#auth(token) };
  }

  // ---- iModels

  async createNewIModel(arg: CreateNewIModelProps): Promise<string> {
    return createIModel(await this.#hub(arg.accessToken), arg, this.#settings);
  }

  async deleteIModel(arg: IModelIdArg & ITwinIdArg): Promise<void> {
    const hub = await this.#hub(arg.accessToken);
    await callHub("deleteIModel", () => hub.deleteIModel(arg.iModelId));
  }

  async queryIModelByName(arg: IModelNameArg): Promise<string | undefined> {
    const hub = await this.#hub(arg.accessToken);
    return callHub("queryIModelByName", async () => {
      for await (const iModel of hub.iModels(arg.iTwinId, { name: arg.iModelName, pageSize: 1 })) return iModel.id;
      return undefined;
    });
  }

  // ---- briefcases

  async acquireNewBriefcaseId(arg: AcquireNewBriefcaseIdArg): Promise<number> {
    const deviceName = (arg as { deviceName?: string }).deviceName ?? arg.briefcaseAlias;
    const hub = await this.#hub(arg.accessToken);
    const input = deviceName ? { deviceName: deviceName.slice(0, 255) } : {};
    // Sent again after a lost answer like every request of this package: at worst the repeat leaves one unused
    // briefcase id behind (`modelhub briefcases release` frees it), where a failure would stop the host's download.
    const briefcase = await callHub("acquireBriefcase", () =>
      hub.acquireBriefcase(arg.iModelId, input, { idempotent: true }),
    );
    return briefcase.briefcaseId;
  }

  async releaseBriefcase(arg: BriefcaseIdArg): Promise<void> {
    const hub = await this.#hub(arg.accessToken);
    await callHub("releaseBriefcase", () => hub.releaseBriefcase(arg.iModelId, arg.briefcaseId));
  }

  async getMyBriefcaseIds(arg: IModelIdArg): Promise<number[]> {
    const hub = await this.#hub(arg.accessToken);
    return callHub("getMyBriefcaseIds", async () => {
      const ids: number[] = [];
      for await (const b of hub.briefcases(arg.iModelId, { ownerId: "me", pageSize: 1000 })) ids.push(b.briefcaseId);
      return ids;
    });
  }

  // ---- changesets

  async pushChangeset(arg: IModelIdArg & { changesetProps: ChangesetFileProps }): Promise<number> {
    return pushChangeset(await this.#hub(arg.accessToken), arg.iModelId, arg.changesetProps, this.#settings);
  }

  async queryChangeset(arg: ChangesetArg): Promise<ChangesetProps> {
    const { index, id } = arg.changeset;
    if (index === 0 || (index === undefined && id === "")) return { ...BASELINE };
    const ref = index !== undefined ? index : id!;
    const hub = await this.#hub(arg.accessToken);
    const changeset = await callHub("queryChangeset", () => hub.getChangeset(arg.iModelId, ref));
    if (changeset.state !== "fileUploaded")
      throw new common.IModelError(bentley.IModelHubStatus.ChangeSetDoesNotExist, `changeset ${ref} not found`);
    return toChangesetProps(changeset);
  }

  async queryChangesets(arg: ChangesetRangeArg): Promise<ChangesetProps[]> {
    const hub = await this.#hub(arg.accessToken);
    return (await listChangesets(hub, arg.iModelId, arg.range, this.#settings.inlineFileBytes)).map(toChangesetProps);
  }

  async getLatestChangeset(arg: IModelIdArg): Promise<ChangesetProps> {
    const hub = await this.#hub(arg.accessToken);
    const latest = await callHub("getLatestChangeset", () => hub.latestChangeset(arg.iModelId));
    return latest ? toChangesetProps(latest) : { ...BASELINE };
  }

  async getChangesetFromVersion(arg: IModelIdArg & { version: IModelVersion }): Promise<ChangesetProps> {
    const version = arg.version;
    if (version.isFirst) return { ...BASELINE };
    const asOf = version.getAsOfChangeSet();
    if (asOf !== undefined) return this.queryChangeset({ ...arg, changeset: { id: asOf } });
    const name = version.getName();
    if (name !== undefined) return this.getChangesetFromNamedVersion({ ...arg, versionName: name });
    return this.getLatestChangeset(arg);
  }

  async getChangesetFromNamedVersion(arg: IModelIdArg & { versionName: string }): Promise<ChangesetProps> {
    const hub = await this.#hub(arg.accessToken);
    const version = await callHub("getNamedVersion", async () => {
      for await (const named of hub.namedVersions(arg.iModelId, { name: arg.versionName, pageSize: 1 })) return named;
      return undefined;
    });
    if (!version)
      throw new common.IModelError(bentley.IModelStatus.NotFound, `Named version ${arg.versionName} not found`);
    return this.queryChangeset({ ...arg, changeset: { index: version.changesetIndex } });
  }

  async downloadChangeset(arg: DownloadChangesetArg): Promise<ChangesetFileProps> {
    const props = await this.queryChangeset(arg);
    const hub = await this.#hub(arg.accessToken);
    const [file] = await downloadChangesets(
      hub,
      arg.iModelId,
      [props],
      arg.targetDir,
      this.#settings,
      arg.progressCallback,
    );
    return file!;
  }

  async downloadChangesets(arg: DownloadChangesetRangeArg): Promise<ChangesetFileProps[]> {
    const hub = await this.#hub(arg.accessToken);
    const inline = new Map<number, Buffer>();
    const inlineBytes = this.#settings.inlineFileBytes;
    const listed = await listChangesets(
      hub,
      arg.iModelId,
      arg.range,
      inlineBytes,
      inlineBytes > 0 ? inline : undefined,
    );
    if (listed.length === 0) return []; // the usual answer when a push first pulls
    // The list already carries fresh download links (and small files); a file whose link fails is retried with a
    // new one.
    const links = new Map(listed.map((c) => [c.index, c._links.download?.href]));
    const props = listed.map(toChangesetProps);
    return downloadChangesets(
      hub,
      arg.iModelId,
      props,
      arg.targetDir,
      this.#settings,
      arg.progressCallback,
      links,
      inline,
    );
  }

  // ---- checkpoints

  /** iTwin.js 5.x reaches checkpoints through `installCheckpointDownload`; there are no V2 containers. */
  async queryV2Checkpoint(_arg: CheckpointProps): Promise<V2CheckpointAccessProps | undefined> {
    return undefined;
  }

  /** iTwin.js 4.x downloads briefcases through this: the nearest checkpoint; iTwin.js applies the rest. */
  async downloadV1Checkpoint(arg: {
    localFile: string;
    checkpoint: CheckpointProps;
    onProgress?: (loaded: number, total: number) => number;
  }): Promise<ChangesetIndexAndId> {
    const got = await downloadNearestCheckpoint(
      this.#checkpointSource(),
      arg.checkpoint,
      arg.localFile,
      arg.onProgress,
    );
    return { index: got.index, id: got.id };
  }

  // ---- locks (hub-locks.ts)

  async acquireLocks(arg: BriefcaseDbArg, locks: LockMap): Promise<void> {
    await this.#locks.acquire(arg, locks);
  }

  async queryAllLocks(arg: BriefcaseDbArg): Promise<LockProps[]> {
    return this.#locks.queryAll(arg);
  }

  async releaseAllLocks(arg: BriefcaseDbArg): Promise<void> {
    await this.#locks.releaseAll(arg, arg.changeset.id);
  }

  /** iTwin.js ≥ 5.9: gives back locks whose objects were not changed (see `HubLocks.abandon`). */
  async abandonLocks(arg: BriefcaseIdArg, locks: LockMap): Promise<void> {
    await this.#locks.abandon(arg, locks);
  }

  /** iTwin.js ≥ 5.9: releases every lock of the briefcase without marking its objects changed (see `abandonLocks`). */
  async abandonAllLocks(arg: BriefcaseIdArg): Promise<void> {
    await this.#locks.releaseAll(arg, "");
  }
}

function safeUserName(): string {
  try {
    return userInfo().username || "modelhub-user";
  } catch {
    return "modelhub-user";
  }
}
