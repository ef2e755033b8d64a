import { statSync } from "node:fs";
import { copyFile, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
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
import type { Changeset, ConflictingLock, IModel } from "@modelhub/protocol";
import type { CheckpointSource } from "./checkpoint-download.js";
import { downloadNearestCheckpoint, installCheckpointDownload } from "./checkpoint-download.js";
import type { AccessLogger, RetryPolicy } from "./hub-calls.js";
import {
  DEFAULT_RETRY,
  hubClientOf,
  hubErrorOf,
  HubHttpError,
  HubUnreachableError,
  isTransient,
  sleep,
} from "./hub-calls.js";
import { backend, bentley, changesetIdRule, common, hostLogger, hostVersion } from "./host.js";
import { cancelled as cancelledError, toHostError } from "./errors.js";
import type { Retrying } from "./transfers.js";
import {
  downloadFile,
  runLimited,
  SMALL_FILE_BYTES,
  TransferAborted,
  uploadFile,
  writeWholeFile,
} from "./transfers.js";
import { changesetCache } from "./changeset-cache.js";
import type { PrefetchOptions } from "./prefetch.js";
import { ChangesetPrefetcher } from "./prefetch.js";

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
}

const BASELINE: ChangesetProps = {
  id: "",
  index: 0,
  parentId: "",
  description: "version0",
  changesType: 0,
  briefcaseId: 0,
  pushDate: "",
  userCreated: "",
  size: 0,
} as ChangesetProps;

/** Most object ids the hub takes in one lock request (MAX_LOCK_OBJECT_IDS in the server's http/routes/locks.ts). */
const MAX_LOCK_IDS_PER_REQUEST = 10_000;

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
  readonly #concurrency: number;
  readonly #wholeFileLimit: number;
  readonly #createTimeoutMs: number;
  readonly #pushOutcomeTimeoutMs: number;
  readonly #uninstall: (() => void) | undefined;
  readonly #verifyIds: boolean;
  readonly #inlineFileBytes: number;
  #prefetcher: ChangesetPrefetcher | undefined;

  constructor(options: ModelHubAccessOptions) {
    const policy = { ...DEFAULT_RETRY, ...options.retry };
    const logger = options.logger ?? hostLogger;
    this.#retry = { policy, logger };
    this.#client = hubClientOf(options.baseUrl, policy, logger);
    this.#fallbackToken = options.accessToken ?? `Bearer ${safeUserName()}`;
    this.#concurrency = options.downloadConcurrency ?? 8;
    this.#wholeFileLimit = options.wholeFileLimitBytes ?? SMALL_FILE_BYTES;
    this.#createTimeoutMs = options.createTimeoutMs ?? 5 * 60_000;
    this.#pushOutcomeTimeoutMs = options.pushOutcomeTimeoutMs ?? 15 * 60_000;
    this.#verifyIds = options.verifyChangesetIds ?? true;
    this.#inlineFileBytes = options.inlineFileBytes ?? 2 * 1024 * 1024;
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
        verifyIds: this.#verifyIds,
        cache: changesetCache,
        wholeFileLimit: this.#wholeFileLimit,
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
    const hub = await this.#hub(arg.accessToken);
    const work = await mkdtemp(join(tmpdir(), "modelhub-create-"));
    try {
      // The hub stamps ids and resets the briefcase; the client only adds what the hub cannot know.
      const baseline = join(work, "baseline.bim");
      if (arg.version0) {
        await copyFile(arg.version0, baseline);
      } else {
        backend.SnapshotDb.createEmpty(baseline, { rootSubject: { name: arg.description ?? arg.iModelName } }).close();
      }
      if (arg.noLocks) {
        const db = backend.IModelDb.openDgnDb({ path: baseline }, bentley.OpenMode.ReadWrite);
        try {
          db.saveLocalValue("NoLocking", "true");
          db.saveChanges();
        } finally {
          db.closeFile();
        }
      }
      const size = (await stat(baseline)).size;
      const input = {
        iTwinId: arg.iTwinId,
        name: arg.iModelName,
        ...(arg.description ? { description: arg.description } : {}),
      };
      let retried = false;
      let created: IModel;
      try {
        // Sent again like the hub's idempotent requests: a repeat of a create that was done answers iModelExists,
        // which is handled here.
        created = await this.#call("createIModel", () =>
          hub.createIModel(input, size, { idempotent: true, onRetry: () => (retried = true) }),
        );
      } catch (err) {
        // The first answer was lost after the hub had created the iModel, so the re-sent create met our own iModel.
        // Its upload link was in that lost answer: remove it (it has no content yet) and create it again.
        if (
          !retried ||
          !(err instanceof common.IModelError) ||
          err.errorNumber !== bentley.IModelHubStatus.iModelAlreadyExists
        )
          throw err;
        if (!(await this.#dropUnfinishedIModel(arg.iTwinId, arg.iModelName, hub))) throw err;
        created = await this.#call("createIModel", () => hub.createIModel(input, size, { idempotent: true }));
      }
      const iModelId = created.id;
      await uploadFile(created._links.upload!.href, baseline, size, this.#retry);
      await this.#call("completeBaseline", () => hub.completeBaselineFile(created));
      const deadline = Date.now() + this.#createTimeoutMs;
      for (;;) {
        const baselineFile = await this.#call("getBaseline", () => hub.getBaselineFile(iModelId));
        if (baselineFile.state === "initialized") return iModelId;
        if (baselineFile.state === "initializationFailed") {
          throw new common.IModelError(
            bentley.IModelStatus.BadRequest,
            `modelhub could not initialize the iModel: ${baselineFile.failureReason ?? "no reason given"}`,
          );
        }
        if (Date.now() > deadline)
          throw new common.IModelError(
            bentley.IModelHubStatus.OperationFailed,
            `modelhub did not initialize iModel ${iModelId} in time.`,
          );
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Deletes the iModel of that name if it still waits for its baseline file; says whether it did. */
  async #dropUnfinishedIModel(iTwinId: string, name: string, hub: ModelHubClient): Promise<boolean> {
    return this.#call("createIModel", async () => {
      for await (const iModel of hub.iModels(iTwinId, { name })) {
        if (iModel.name !== name || iModel.state !== "notInitialized") continue;
        if ((await hub.getBaselineFile(iModel.id)).state !== "waitingForFile") continue;
        await hub.deleteIModel(iModel.id);
        return true;
      }
      return false;
    });
  }

  async deleteIModel(arg: IModelIdArg & ITwinIdArg): Promise<void> {
    const hub = await this.#hub(arg.accessToken);
    await this.#call("deleteIModel", () => hub.deleteIModel(arg.iModelId));
  }

  async queryIModelByName(arg: IModelNameArg): Promise<string | undefined> {
    const hub = await this.#hub(arg.accessToken);
    return this.#call("queryIModelByName", async () => {
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
    const briefcase = await this.#call("acquireBriefcase", () =>
      hub.acquireBriefcase(arg.iModelId, input, { idempotent: true }),
    );
    return briefcase.briefcaseId;
  }

  async releaseBriefcase(arg: BriefcaseIdArg): Promise<void> {
    const hub = await this.#hub(arg.accessToken);
    await this.#call("releaseBriefcase", () => hub.releaseBriefcase(arg.iModelId, arg.briefcaseId));
  }

  async getMyBriefcaseIds(arg: IModelIdArg): Promise<number[]> {
    const hub = await this.#hub(arg.accessToken);
    return this.#call("getMyBriefcaseIds", async () => {
      const ids: number[] = [];
      for await (const b of hub.briefcases(arg.iModelId, { ownerId: "me", pageSize: 1000 })) ids.push(b.briefcaseId);
      return ids;
    });
  }

  // ---- changesets

  async pushChangeset(arg: IModelIdArg & { changesetProps: ChangesetFileProps }): Promise<number> {
    const props = arg.changesetProps;
    const hub = await this.#hub(arg.accessToken);
    const fileSize = statSync(props.pathname).size; // sync, as uploadFile's read: it would wait behind iTwin.js's native work
    const description =
      props.description && props.description.length >= 255 ? props.description.slice(0, 254) : props.description;
    let created: Changeset;
    try {
      created = await this.#call("pushChangeset", () =>
        hub.createChangeset(arg.iModelId, {
          id: props.id,
          parentId: props.parentId,
          briefcaseId: props.briefcaseId,
          ...(description !== undefined ? { description } : {}),
          containingChanges: props.changesType,
          fileSize,
          // A modelhub extension of the API: iTwin.js's changeset health statistics use it (HubMock keeps it too).
          ...(props.uncompressedSize !== undefined ? { uncompressedSize: props.uncompressedSize } : {}),
        }),
      );
    } catch (err) {
      // The hub already has it (a retry whose first answer was lost): that push succeeded.
      if (err instanceof common.IModelError && err.errorNumber === bentley.IModelHubStatus.ChangeSetAlreadyExists) {
        const existing = await this.#call("queryChangeset", () => hub.getChangeset(arg.iModelId, props.id));
        if (existing.parentId === props.parentId && existing.state === "fileUploaded") return existing.index;
      }
      throw err;
    }
    await uploadFile(created._links.upload!.href, props.pathname, fileSize, this.#retry, this.#wholeFileLimit);
    const { index } = await this.#completePush(arg.iModelId, created, props.briefcaseId, hub);
    return index;
  }

  /**
   * Sends a push's completion until the hub answers it. What the client answers iTwin.js decides the fate of the
   * edits: a failed push leaves them as pending local changes, a successful one marks them pushed. A completion
   * whose answer was lost may have been committed, so "cannot reach the hub" is no answer: were it reported as a
   * failure while the hub has the changeset, the briefcase would apply its own changeset onto its own pending
   * changes at every later pull and fail ("PRIMARY KEY INSERT CONFLICT - rejecting this changeset") for good. The
   * hub treats a repeated completion as the same request, so it is sent again until the hub answers (a success, or
   * a refusal that says it was not committed) or `pushOutcomeTimeoutMs` has passed.
   */
  async #completePush(
    iModelId: string,
    changeset: Changeset,
    briefcaseId: number,
    hub: ModelHubClient,
  ): Promise<Changeset> {
    const deadline = Date.now() + this.#pushOutcomeTimeoutMs;
    for (let round = 1; ; round++) {
      try {
        return await hub.completeChangeset(iModelId, changeset, briefcaseId);
      } catch (thrown) {
        const err = hubErrorOf(thrown, "pushChangeset");
        const unanswered =
          err instanceof HubUnreachableError || (err instanceof HubHttpError && isTransient(err.status));
        if (err instanceof HubHttpError && !unanswered) throw await this.#toHostError(err, "pushChangeset", hub);
        if (!unanswered) throw err;
        if (Date.now() >= deadline) {
          throw new common.IModelError(
            bentley.IModelHubStatus.Unknown,
            `pushChangeset: the hub did not answer the completion of changeset ${changeset.id} within ${+(this.#pushOutcomeTimeoutMs / 1000).toFixed(1)} s (${(err as Error).message}); ` +
              "if it has the changeset, this briefcase's local changes are that changeset and it cannot pull it: download a new briefcase",
          );
        }
        const delay = Math.min(this.#retry.policy.maxDelayMs, deadline - Date.now()) * (0.75 + Math.random() / 2);
        this.#retry.logger.warn(
          `pushChangeset: no answer to the completion of changeset ${changeset.id} (${(err as Error).message}); asking again (round ${round + 1}) in ${Math.round(delay)} ms`,
        );
        await sleep(delay);
      }
    }
  }

  async queryChangeset(arg: ChangesetArg): Promise<ChangesetProps> {
    const { index, id } = arg.changeset;
    if (index === 0 || (index === undefined && id === "")) return { ...BASELINE };
    const ref = index !== undefined ? index : id!;
    const hub = await this.#hub(arg.accessToken);
    const changeset = await this.#call("queryChangeset", () => hub.getChangeset(arg.iModelId, ref));
    if (changeset.state !== "fileUploaded")
      throw new common.IModelError(bentley.IModelHubStatus.ChangeSetDoesNotExist, `changeset ${ref} not found`);
    return toChangesetProps(changeset);
  }

  async queryChangesets(arg: ChangesetRangeArg): Promise<ChangesetProps[]> {
    return (await this.#list(arg.iModelId, arg.range, await this.#hub(arg.accessToken))).map(toChangesetProps);
  }

  async getLatestChangeset(arg: IModelIdArg): Promise<ChangesetProps> {
    const hub = await this.#hub(arg.accessToken);
    const latest = await this.#call("getLatestChangeset", () => hub.latestChangeset(arg.iModelId));
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
    const version = await this.#call("getNamedVersion", async () => {
      for await (const named of hub.namedVersions(arg.iModelId, { name: arg.versionName, pageSize: 1 })) return named;
      return undefined;
    });
    if (!version)
      throw new common.IModelError(bentley.IModelStatus.NotFound, `Named version ${arg.versionName} not found`);
    return this.queryChangeset({ ...arg, changeset: { index: version.changesetIndex } });
  }

  async downloadChangeset(arg: DownloadChangesetArg): Promise<ChangesetFileProps> {
    const props = await this.queryChangeset(arg);
    const [file] = await this.#download(
      arg.iModelId,
      [props],
      arg.targetDir,
      await this.#hub(arg.accessToken),
      arg.progressCallback,
    );
    return file!;
  }

  async downloadChangesets(arg: DownloadChangesetRangeArg): Promise<ChangesetFileProps[]> {
    const hub = await this.#hub(arg.accessToken);
    const inline = new Map<number, Buffer>();
    const listed = await this.#list(arg.iModelId, arg.range, hub, this.#inlineFileBytes > 0 ? inline : undefined);
    if (listed.length === 0) return []; // the usual answer when a push first pulls
    // The list already carries fresh download links (and small files); a file whose link fails is retried with a
    // new one.
    const links = new Map(listed.map((c) => [c.index, c._links.download?.href]));
    const props = listed.map(toChangesetProps);
    return this.#download(arg.iModelId, props, arg.targetDir, hub, arg.progressCallback, links, inline);
  }

  /** The changesets of `range`; with `inline`, the files the hub sent with the list are put there by index. */
  async #list(
    iModelId: string,
    range: { first: number; end?: number } | undefined,
    hub: ModelHubClient,
    inline?: Map<number, Buffer>,
  ): Promise<Changeset[]> {
    const first = range?.first ?? 0;
    const end = range?.end;
    if (end !== undefined && end < first) return [];
    const filter = {
      afterIndex: Math.max(0, first - 1),
      ...(end !== undefined ? { lastIndex: end } : {}),
      pageSize: 1000,
    };
    return this.#call("queryChangesets", async () => {
      const all: Changeset[] = [];
      if (inline) {
        inline.clear(); // a retried call starts over
        for await (const { changeset, file } of hub.changesetsWithFiles(iModelId, filter, this.#inlineFileBytes)) {
          all.push(changeset);
          if (file) inline.set(changeset.index, file);
        }
      } else for await (const c of hub.changesets(iModelId, filter)) all.push(c);
      return all;
    });
  }

  async #download(
    iModelId: string,
    changesets: ChangesetProps[],
    targetDir: string,
    hub: ModelHubClient,
    progress?: (downloaded: number, total: number) => number,
    links?: Map<number, string | undefined>,
    inline?: ReadonlyMap<number, Buffer>,
  ): Promise<ChangesetFileProps[]> {
    const total = changesets.reduce((sum, c) => sum + (c.size ?? 0), 0);
    let downloaded = 0;
    let cancelled = false;
    const files = changesets.map((c) => ({ ...c, pathname: join(targetDir, `${c.id}.cs`) }) as ChangesetFileProps);
    // Each file ends up under a name of this call's own (changesetCache.handOut): iTwin.js deletes what it applied.
    const handedOut = new Map<ChangesetFileProps, string>();
    // Each file is checked against its id where the host knows iTwin.js's id rule (5.x), also a file already present.
    const computeId = this.#verifyIds ? changesetIdRule() : undefined;
    try {
      await runLimited(this.#concurrency, files, async (file) => {
        const onBytes = (bytes: number) => {
          downloaded += bytes;
          if (progress && progress(downloaded, total) !== 0) cancelled = true;
          return cancelled;
        };
        const fresh = async (): Promise<string> => {
          const changeset = await this.#call("downloadChangeset", () => hub.getChangeset(iModelId, file.index));
          if (!changeset._links.download)
            throw new common.IModelError(
              bentley.IModelHubStatus.FileDoesNotExist,
              `changeset ${file.index} has no file to download`,
            );
          return changeset._links.download.href;
        };
        // One writer per file in this process: the prefetcher may be fetching this very file (then it is waited for).
        await changesetCache.exclusive(file.pathname, async () => {
          // A file checked when it was written (by the prefetcher) and not touched since is taken as it is.
          if (computeId && changesetCache.isVerified(file.pathname, await stat(file.pathname).catch(() => undefined))) {
            if (onBytes(file.size ?? 0)) throw new TransferAborted();
            handedOut.set(file, await changesetCache.handOut(file.pathname));
            return;
          }
          // A list page already carries download links; a fresh one is asked for only when it is missing or failed
          // (signed links expire). A broken download resumes where it stopped, on whichever link. A file already
          // there with the right size (e.g. prefetched) is kept.
          const inlined = inline?.get(file.index);
          if (inlined && inlined.length === file.size) await writeWholeFile(file.pathname, inlined, onBytes);
          else
            await downloadFile(
              links?.get(file.index) ?? (await fresh()),
              file.pathname,
              file.size,
              this.#retry,
              onBytes,
              fresh,
              this.#wholeFileLimit,
            );
          if (computeId && !hasId(computeId, file)) {
            // Right size, wrong bytes: fetch it once more (not counted as progress again), then give up.
            changesetCache.forget(file.pathname);
            await rm(file.pathname, { force: true });
            await downloadFile(
              await fresh(),
              file.pathname,
              file.size,
              this.#retry,
              () => cancelled,
              fresh,
              this.#wholeFileLimit,
            );
            if (!hasId(computeId, file)) {
              await rm(file.pathname, { force: true });
              throw new common.IModelError(
                bentley.ChangeSetStatus.CorruptedChangeStream,
                `changeset ${file.index} downloaded from modelhub does not have the id ${file.id}`,
              );
            }
          }
          handedOut.set(file, await changesetCache.handOut(file.pathname));
        });
      });
    } catch (err) {
      // Nobody will apply (and so delete) the files already handed out to this call.
      await Promise.all([...handedOut.values()].map((path) => rm(path, { force: true })));
      if (err instanceof TransferAborted || cancelled) throw cancelledError("changeset download");
      throw err;
    }
    return files.map((file) => ({ ...file, pathname: handedOut.get(file) ?? file.pathname }));
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

  // ---- locks

  /**
   * One PATCH per MAX_LOCK_IDS_PER_REQUEST ids (the hub refuses larger requests). Each request is all-or-nothing;
   * when a later one is refused, the locks of the earlier ones stay held until the briefcase releases its locks.
   */
  async acquireLocks(arg: BriefcaseDbArg, locks: LockMap): Promise<void> {
    if (locks.size === 0) return;
    const hub = await this.#hub(arg.accessToken);
    const entries = [...locks];
    for (let start = 0; start < entries.length; start += MAX_LOCK_IDS_PER_REQUEST) {
      const groups = new Map<string, string[]>();
      for (const [id, state] of entries.slice(start, start + MAX_LOCK_IDS_PER_REQUEST)) {
        const level =
          state === common.LockState.Exclusive ? "exclusive" : state === common.LockState.Shared ? "shared" : "none";
        let ids = groups.get(level);
        if (!ids) groups.set(level, (ids = []));
        ids.push(id);
      }
      const lockedObjects = [...groups].map(([lockLevel, objectIds]) => ({
        lockLevel: lockLevel as "none" | "shared" | "exclusive",
        objectIds,
      }));
      await this.#call(
        "acquireLocks",
        () =>
          hub.updateLocks(arg.iModelId, { briefcaseId: arg.briefcaseId, changesetId: arg.changeset.id, lockedObjects }),
        { hub, iModelId: arg.iModelId },
      );
    }
  }

  async queryAllLocks(arg: BriefcaseDbArg): Promise<LockProps[]> {
    const result: LockProps[] = [];
    const hub = await this.#hub(arg.accessToken);
    for (const lock of await this.#call("queryAllLocks", () =>
      hub.locks(arg.iModelId, { briefcaseId: arg.briefcaseId, pageSize: 1000 }),
    )) {
      for (const group of lock.lockedObjects) {
        const state =
          group.lockLevel === "exclusive"
            ? common.LockState.Exclusive
            : group.lockLevel === "shared"
              ? common.LockState.Shared
              : common.LockState.None;
        for (const id of group.objectIds) result.push({ id, state });
      }
    }
    return result;
  }

  async releaseAllLocks(arg: BriefcaseDbArg): Promise<void> {
    await this.#releaseAll(arg, arg.changeset.id);
  }

  /**
   * iTwin.js ≥ 5.9 (`BackendHubAccess.abandonLocks`, also `LockControl`'s fallback through `acquireLocks` with
   * changeset ""): gives back locks whose objects were not changed (abandoned transactions). Each lock goes to the
   * state iTwin.js passes — `None`, or `Shared` for an exclusive lock that was an upgrade of a shared one — and the
   * changeset id sent is "", so the hub keeps each object's last release index: nobody else is told to pull for
   * changes that were never pushed. Ids the briefcase no longer holds are skipped (the hub refuses a whole release
   * that names one, `404 LockNotFound`; then only the held ones are sent).
   */
  async abandonLocks(arg: BriefcaseIdArg, locks: LockMap): Promise<void> {
    const abandoned: BriefcaseDbArg = { ...arg, changeset: { id: "", index: 0 } };
    try {
      await this.acquireLocks(abandoned, locks);
    } catch (err) {
      if (!(err instanceof common.IModelError) || err.errorNumber !== bentley.IModelHubStatus.LockDoesNotExist)
        throw err;
      const held = new Set((await this.queryAllLocks(abandoned)).map((l) => l.id));
      await this.acquireLocks(abandoned, new Map([...locks].filter(([id]) => held.has(id))));
    }
  }

  /** iTwin.js ≥ 5.9: releases every lock of the briefcase without marking its objects changed (see `abandonLocks`). */
  async abandonAllLocks(arg: BriefcaseIdArg): Promise<void> {
    await this.#releaseAll(arg, "");
  }

  /** `release-chunk` until the hub says it was the last; `changesetId` "" keeps each object's last release index. */
  async #releaseAll(arg: BriefcaseIdArg, changesetId: string): Promise<void> {
    const hub = await this.#hub(arg.accessToken);
    while (
      !(await this.#call("releaseAllLocks", () => hub.releaseLocksChunk(arg.iModelId, arg.briefcaseId, changesetId)))
    );
  }

  // ---- errors

  /**
   * Runs one operation's client calls, with the hub's refusals as the host's errors (toHostError); a lock conflict
   * names the holder, read through `conflict.hub`. No answer at all stays a HubUnreachableError.
   */
  async #call<T>(
    operation: string,
    work: () => Promise<T>,
    conflict?: { hub: ModelHubClient; iModelId: string },
  ): Promise<T> {
    try {
      return await work();
    } catch (thrown) {
      const err = hubErrorOf(thrown, operation);
      if (err instanceof HubHttpError) throw await this.#toHostError(err, operation, conflict?.hub, conflict?.iModelId);
      throw err;
    }
  }

  /** The hub's error codes as the errors core-backend knows how to act on; a lock conflict names the holder. */
  async #toHostError(err: HubHttpError, operation: string, hub?: ModelHubClient, iModelId?: string): Promise<Error> {
    if (err.code === "ConflictWithAnotherUser" && operation === "acquireLocks")
      return this.#lockConflict(err.body?.conflictingLocks ?? [], hub, iModelId);
    return toHostError(err, operation);
  }

  async #lockConflict(conflicts: ConflictingLock[], hub?: ModelHubClient, iModelId?: string): Promise<Error> {
    const first = conflicts[0];
    const holder = first?.briefcaseIds[0] ?? 0;
    let alias = `briefcase ${holder}`;
    if (hub && iModelId && holder) {
      try {
        const briefcase = await hub.getBriefcase(iModelId, holder);
        alias = briefcase.deviceName
          ? `${briefcase.ownerId} (${briefcase.deviceName})`
          : `${briefcase.ownerId} (${holder})`;
      } catch {
        // the holder was released meanwhile: keep the id
      }
    }
    return new backend.LockConflict(
      holder,
      alias,
      first?.lockLevel === "shared" ? "shared lock is held" : "exclusive lock is already held",
    );
  }
}

function toChangesetProps(c: Changeset): ChangesetProps {
  return {
    id: c.id,
    index: c.index,
    parentId: c.parentId,
    changesType: c.containingChanges === 1 || c.containingChanges === 65 ? c.containingChanges : 0,
    description: c.description ?? "",
    briefcaseId: c.briefcaseId,
    pushDate: c.pushDateTime,
    userCreated: c.creatorId,
    size: c.fileSize,
    // Absent when the pusher did not declare it (HubMock says 0 then).
    ...(c.uncompressedSize != null ? { uncompressedSize: c.uncompressedSize } : {}),
  } as ChangesetProps;
}

function hasId(
  computeId: (props: { parentId: string; pathname: string }) => string,
  file: ChangesetFileProps,
): boolean {
  try {
    return computeId({ parentId: file.parentId, pathname: file.pathname }) === file.id;
  } catch {
    return false; // not a changeset file at all
  }
}

function safeUserName(): string {
  try {
    return userInfo().username || "modelhub-user";
  } catch {
    return "modelhub-user";
  }
}

/** The host's current token (`IModelHost.authorizationClient`), or "" when it has none. */
async function hostToken(): Promise<string> {
  try {
    return (await backend.IModelHost.getAccessToken()) || "";
  } catch {
    return "";
  }
}
